"""Denoising stages of the STXM pipeline: OD images before the ratio (with their error), or the x maps after."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._errors import InputError
from ..._progress import Progress, sub_progress
from ..._stack import Stack
from ._config import CompositionConfig
from ._stages import od_stage


def denoise_images(data: np.ndarray, axes: str, cfg: CompositionConfig, progress: Progress | None = None,
                   records: list[dict[str, Any]] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Denoise float images (NaN filled by the median first); returns the mean and, for ensembles, the spread.

    The NaN pixels keep the denoiser's output here: the caller puts NaN back after the OD smoothing.

    ``records`` collects what ``denoise(method="auto")`` chose, and why, for every call (the run's summary).
    """
    from ...denoise import NEURAL, fill_invalid, joint_bm3d, joint_tv

    if "+" in cfg.denoise:  # several denoisers: the mean of their outputs
        names = cfg.denoise.split("+")
        outputs = [denoise_images(data, axes, cfg.model_copy(update={"denoise": m}),
                                  sub_progress(progress, i / len(names), (i + 1) / len(names), f"{m}: "), records)[0]
                   for i, m in enumerate(names)]
        return np.mean(outputs, axis=0), None
    filled = fill_invalid(data, fill="median")[0].astype(np.float32)
    if cfg.denoise == "tv" and cfg.joint_energies and "E" in axes:
        return joint_tv(filled, axes=axes, progress=progress), None
    if cfg.denoise == "bm3d" and cfg.joint_energies and "E" in axes:
        return joint_bm3d(filled, axes=axes, progress=progress), None
    stack = Stack(filled, axes)
    neural = cfg.denoise in NEURAL or cfg.denoise == "auto"  # auto picks a network (a filter for constant data)
    kwargs: dict[str, Any] = {"method": cfg.denoise, "rng": cfg.seed, "progress": progress}
    if neural:
        kwargs["time_budget_s"] = cfg.time_budget_s
    if cfg.denoise == "video":  # the window along T: 5 frames, or 3 for short series
        n_t = stack.size("T")
        if n_t < 3:
            raise InputError(f"--denoise video needs a time series of >= 3 frames, got {n_t}; use n2v2 or tv")
        kwargs["frames"] = 5 if n_t >= 5 else 3
    if not neural or cfg.ensemble == 1 or cfg.sd != "ensemble":
        if neural and cfg.ensemble > 1:
            kwargs["ensemble"] = cfg.ensemble
        return np.asarray(_denoise_recorded(stack, kwargs, records), float), None
    runs = []
    for k in range(cfg.ensemble):
        kwargs["rng"] = cfg.seed + k
        kwargs["progress"] = sub_progress(progress, k / cfg.ensemble, (k + 1) / cfg.ensemble, f"network {k + 1}: ")
        runs.append(np.asarray(_denoise_recorded(stack, kwargs, records), float))
    runs_arr = np.stack(runs)
    return runs_arr.mean(axis=0), runs_arr.var(axis=0, ddof=1)


def _denoise_recorded(stack: Stack, kwargs: dict[str, Any], records: list[dict[str, Any]] | None) -> np.ndarray:
    """Run ``denoise`` and keep its ``auto`` record (choice, reason, measurement) in ``records``."""
    from ...denoise import denoise

    out = denoise(stack, **kwargs)
    auto = (out.metadata.extra or {}).get("denoise", {}).get("auto")
    if auto is not None and records is not None:
        records.append(auto)
    return out.to_numpy()


def smooth_od(od: np.ndarray, cfg: CompositionConfig) -> np.ndarray:
    """Gaussian smoothing (``cfg.od_smooth_px``, Y and X) of denoised OD (T, E, Y, X), NaN kept where it was.

    Unmixing smoothed OD gives every pixel the thickness-weighted mean x of its neighbourhood,
    ``sum_i k_i t_i x_i / sum_i k_i t_i`` (the components are linear in OD): thin pixels at particle edges,
    whose x is ill-determined, lean on thicker neighbours.
    """
    from scipy import ndimage

    if cfg.od_smooth_px <= 0:
        return od
    bad = ~np.isfinite(od)
    sigma = (0,) * (od.ndim - 2) + (cfg.od_smooth_px, cfg.od_smooth_px)
    return np.where(bad, np.nan, ndimage.gaussian_filter(np.where(bad, 0.0, od), sigma))


def split_stage(series: Stack, cfg: CompositionConfig, progress: Progress | None,
                records: list[dict[str, Any]] | None) -> Any:
    """Denoise the OD by :func:`operando.xray.split_denoise` with this run's I0 settings and denoiser."""
    from ...xray import split_denoise

    def optical_density(counts: Stack) -> tuple[np.ndarray, np.ndarray]:
        od, result = od_stage(counts, cfg)
        return od, result.variance

    def denoiser(od: np.ndarray, seed: int, part_progress: Progress | None) -> np.ndarray:
        part = cfg.model_copy(update={"seed": seed})
        return smooth_od(denoise_images(od, "TEYX", part, part_progress, records)[0], cfg)

    return split_denoise(series, optical_density=optical_density, denoiser=denoiser, parts=cfg.split_parts,
                         repeats=cfg.split_repeats, rng=cfg.seed, progress=progress)


def before_stage(series: Stack, od_raw: np.ndarray, var_raw: np.ndarray, sd_kind: str, cfg: CompositionConfig,
                 progress: Progress | None, records: list[dict[str, Any]]
                 ) -> tuple[np.ndarray, np.ndarray, float, Any]:
    """Denoise the OD before the ratio: (denoised OD, its error variance, error correlation area, the split)."""
    from ...xray import residual_error_variance

    if sd_kind == "split":
        split = split_stage(series, cfg, progress, records)
        od, var, area = split.od, split.variance, split.correlation_area_px
    else:
        split, area = None, 1.0
        od, spread = denoise_images(od_raw, "TEYX" if od_raw.shape[0] > 1 else "EYX", cfg, progress, records)
        od = smooth_od(od.reshape(od_raw.shape), cfg)
        var = spread if sd_kind == "ensemble" and spread is not None else (
            residual_error_variance(od_raw, od, var_raw) if sd_kind in ("residual", "ensemble") else var_raw)
    return np.where(np.isfinite(od_raw), od, np.nan), var, area, split


def after_stage(x: np.ndarray, sd_x: np.ndarray, mask: np.ndarray, cfg: CompositionConfig,
                progress: Progress | None, records: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Denoise the x maps (outside the mask filled with the mask's mean) and estimate their error."""
    from ...denoise import fill_invalid
    from ...xray import residual_error_variance

    filled = fill_invalid(x, mask, fill="mean")[0]
    den, spread = denoise_images(filled, "TYX", cfg, progress, records)
    if spread is not None:
        var = spread
    else:
        var = residual_error_variance(filled, den, np.where(mask, sd_x**2, 0.0))
    return np.where(mask, den, np.nan), np.where(mask, np.sqrt(var), np.nan)
