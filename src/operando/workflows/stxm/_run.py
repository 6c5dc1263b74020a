"""The STXM pipeline: counts -> optical density -> (denoised) -> aligned -> composition maps with uncertainty."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..._progress import Progress, emit, sub_progress
from ..._stack import Stack
from ._checks import check_composition, energy_stack, warn_bad_pixels
from ._config import CompositionConfig, CompositionRun, sd_choice, sd_text
from ._denoise import after_stage, before_stage
from ._stages import align_stage, od_stage, particle_mean, raw_mask, stripe_record, unmix_frames


def run_composition(
    counts: Stack,
    *,
    config: CompositionConfig | None = None,
    progress: Progress | None = None,
) -> CompositionRun:
    """Turn counts (``EYX`` or ``TEYX``) into per-pixel Li fraction x, thickness and sd of x, with a full record.

    Parameters
    ----------
    counts : Stack
        Transmitted counts with energies in the metadata (any reader of :mod:`operando.io`).
    config : CompositionConfig, optional
        I0, destriping, alignment, denoising, references, mask; its ``seed`` seeds the denoisers and the split.
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop the
        run (nothing is written by this function).

    Returns
    -------
    CompositionRun
        Maps (T, 3, Y, X) of x, thickness and sd(x), NaN outside the mask, and the summary. With
        ``denoise="auto"`` the summary's ``denoise_auto`` holds what ``denoise()`` chose and why.
    """
    cfg = config or CompositionConfig()
    started = time.perf_counter()
    series, energies, refs = check_composition(counts, cfg)
    emit(progress, 0.0, "optical density")
    od_raw, odr = od_stage(series, cfg)
    stripes = stripe_record(series, od_raw, odr, cfg)
    warn_bad_pixels(odr.n_bad, od_raw.size, series.metadata.source)
    var_raw = odr.variance
    sd_kind = sd_choice(cfg, series.to_numpy())
    before = cfg.denoise != "none" and cfg.denoise_stage == "before"
    after = cfg.denoise != "none" and cfg.denoise_stage == "after"
    records: list[dict[str, Any]] = []  # what denoise(method="auto") chose, per call
    od, var, area, split = od_raw, var_raw, 1.0, None  # area: the pixel errors' correlation area (1: raw counts)
    if before:
        emit(progress, 0.1, f"denoising OD ({cfg.denoise})")
        od, var, area, split = before_stage(series, od_raw, var_raw, sd_kind, cfg,
                                            sub_progress(progress, 0.1, 0.7, "denoising OD: "), records)
    emit(progress, 0.7, "aligning")
    od_al, var_al, shifts, residual = align_stage(od, var, cfg)
    cov = None
    if split is not None and cfg.energy_covariance:
        from ...xray import split_covariance

        cov = split_covariance(split, var_al, shifts=None if cfg.align == "none" else shifts, resample=cfg.align)
    emit(progress, 0.8, "unmixing")
    comps, notes = unmix_frames(od_al, var_al, energies, cfg, refs, cov)
    x, sd_x, mask = (np.stack([getattr(c, k) for c in comps]) for k in ("x", "sd_x", "mask"))
    if before:
        mask &= raw_mask(od_raw, var_raw, shifts, energies, cfg, refs)
        x, sd_x = np.where(mask, x, np.nan), np.where(mask, sd_x, np.nan)
    thick = np.stack([c.thickness for c in comps])
    if after:
        x, sd_x = after_stage(x, sd_x, mask, cfg, sub_progress(progress, 0.85, 0.99, "denoising x: "), records)
    maps = np.stack([x, np.where(mask, thick, np.nan), sd_x], axis=1).astype(np.float32)
    summary = {
        "energies_ev": energies, "references": refs.describe(), "i0_source": odr.i0_source,
        "i0": np.asarray(odr.i0).reshape(odr.i0.shape[0], odr.i0.shape[1], -1).mean(axis=-1).tolist(),
        "bad_pixels_masked": odr.n_bad, "notes": odr.notes + notes,
        "shifts_px": shifts.tolist(), "residual_misalignment_px": residual, "alignment": cfg.align,
        "stripes": stripes, "sd_source": sd_text(sd_kind, cfg),
        "mask_fraction": [float(m.mean()) for m in mask],
        "frames": [particle_mean(x[t], thick[t], sd_x[t], mask[t], area) for t in range(x.shape[0])],
        "error_correlation_area_px": area,
        **({"denoise_auto": _auto_record(records)} if "auto" in cfg.denoise.split("+") else {}),
        "config": cfg.model_dump(mode="json"), "seed": cfg.seed, "seconds": time.perf_counter() - started,
    }
    emit(progress, 1.0, "composition done")
    return CompositionRun(maps, mask, od_al, od_raw, np.stack([c.sd_thickness for c in comps]),
                          np.stack([c.components for c in comps]), summary)


def _auto_record(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Summarise ``denoise(method="auto")``'s records: the choice and reason of the first call, and every call's."""
    first = records[0] if records else {}
    return {"method": first.get("method"), "reason": first.get("reason"), "calls": records,
            "methods": sorted({str(r.get("method")) for r in records})}


def run_optical_density(counts: Stack, *, config: CompositionConfig | None = None) -> tuple[Stack, dict[str, Any]]:
    """Optical density of every image (single-energy images included), with the I0 and stripe record.

    Parameters
    ----------
    counts : Stack
        ``EYX`` or ``TEYX`` counts.
    config : CompositionConfig, optional
        Only the I0, per-line I0, row-offset, ring-current and gain settings are used.

    Returns
    -------
    (Stack, dict)
        float32 OD (NaN where counts were <= 0 or non-finite) and a JSON-ready summary.
    """
    cfg = config or CompositionConfig()
    stack = energy_stack(counts)
    series = stack if stack.axes == "TEYX" else Stack(stack.to_numpy()[None], "TEYX", stack.metadata)
    od, result = od_stage(series, cfg)
    stripes = stripe_record(series, od, result, cfg)
    warn_bad_pixels(result.n_bad, od.size, stack.metadata.source)
    data = od if stack.axes == "TEYX" else od[0]
    summary = {"i0_source": result.i0_source, "bad_pixels_masked": result.n_bad, "notes": result.notes,
               "background_fraction": float(np.mean(result.background)), "stripes": stripes,
               "energies_ev": list(stack.metadata.energies or []), "config": cfg.model_dump(mode="json")}
    meta = stack.metadata.replace(extra={**(stack.metadata.extra or {}), "quantity": "optical density"})
    return Stack(data.astype(np.float32), stack.axes, meta), summary
