"""The kinetics chain on the STXM phantom: counts -> composition -> learned kinetics, scored against the truth.

:func:`run_chain` draws an STXM phantom whose Li maps come from the Allen-Cahn-reaction model
(``PhantomConfig(li_model="acr")``: the reaction runs on the platelets' own masks on the STXM grid), writes its
counts as a beamline would, maps the composition from the counts with the STXM pipeline (raw, and with each
denoiser asked for), fits the reaction kinetics to each composition video through the kinetics workflow (the
composition's sd(x) weights the residuals) and scores the fit with :func:`operando.bench.kinetics.score_kinetics`
on c in [0.1, 0.9]. Every step goes through the files the command line writes, so the chain is the one a user
runs::

    operando stxm phantom -o ph --li-model acr
    operando stxm composition ph/stxm.nxstxm.h5 -o x.tif
    operando learn x.tif --model acr --frame-interval <truth.json's frame_interval> -o fit/

:func:`score_files` scores such a run from its folders (``ph`` and ``fit``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._files import write_csv_file, write_json_file
from .._progress import Progress, emit, sub_progress
from .._provenance import versions
from .kinetics import score_kinetics

#: The scores of each chain row (besides the input's name), in the order the table prints them.
COLUMNS = ("x_rmse", "sd_x_median", "mu_h_max_error_kT", "j0_shape_error", "j0_peak_error", "log_k_r",
           "residual_over_sigma", "kappa", "status", "seconds")


def load_truth(folder: str | os.PathLike):
    """Return the kinetics truth of an ACR STXM phantom folder as a :class:`operando.simulate.KineticsPhantom`.

    Reads ``truth.json`` (the reaction run's settings and frame interval), ``k.tif``, ``truth_labels.tif`` and
    ``truth_x.tif`` (the video) that :func:`operando.xray.write_phantom` writes.
    """
    from .._errors import InputError
    from ..io import read
    from ..simulate import KineticsPhantom, KineticsPhantomConfig

    path = Path(folder)
    if not (path / "truth.json").is_file():
        raise InputError(f"{path}: no truth.json; write the phantom with 'operando stxm phantom --li-model acr'")
    truth = json.loads((path / "truth.json").read_text(encoding="utf-8"))
    labels = read(path / "truth_labels.tif").to_numpy().astype(np.int32)
    k = read(path / "k.tif", allow_nan=True).to_numpy().astype(float)
    video = read(path / "truth_x.tif", allow_nan=True).to_numpy().astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_k = np.where(labels > 0, np.log(k), np.nan)
    return KineticsPhantom(video=video, labels=labels, log_k=log_k, frame_interval=float(truth["frame_interval"]),
                           currents=np.zeros((0, int(labels.max()))),
                           config=KineticsPhantomConfig(**truth["config"]), truth=truth)


def load_fit(folder: str | os.PathLike):
    """Return the :class:`operando.inverse.KineticsResult` that ``operando learn --model acr -o FOLDER`` wrote."""
    from ..inverse import KineticsResult
    from ..io import read

    path = Path(folder)
    rec = json.loads((path / "kinetics.json").read_text(encoding="utf-8"))
    k_map = read(path / "k.tif", allow_nan=True).to_numpy().astype(float)
    return KineticsResult(
        c=np.asarray(rec["c"]), mu_h=np.asarray(rec["mu_h"]), mu_h_band=np.asarray(rec["mu_h_band"]),
        j0=np.asarray(rec["j0"]), j0_band=np.asarray(rec["j0_band"]), kappa=float(rec["kappa"]),
        kappa_band=tuple(rec["kappa_band"]), k_map=k_map, labels=np.isfinite(k_map).astype(np.int32),
        residual_over_sigma=float(rec["residual_over_sigma"]), status=rec["status"], reason=rec.get("reason", ""),
        comparison=rec.get("comparison") or {}, settings={"seconds": rec.get("seconds", float("nan"))})


def score_files(phantom_folder: str | os.PathLike, fit_folder: str | os.PathLike) -> dict[str, Any]:
    """Score a kinetics fit folder against the phantom folder it came from (:func:`score_kinetics`)."""
    return score_kinetics(load_fit(fit_folder), load_truth(phantom_folder))


def composition_scores(maps: np.ndarray, truth_x: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Return the x RMSE and median sd(x) of a TCYX composition on the true particle pixels finite in all frames."""
    x, sd = maps[:, 0], maps[:, 2]
    inside = (labels > 0) & np.isfinite(x).all(axis=0)
    return {"x_rmse": float(np.sqrt(np.mean((x[:, inside] - truth_x[:, inside]) ** 2))),
            "sd_x_median": float(np.median(sd[:, inside])),
            "mask_recall": float(inside.sum() / max(int((labels > 0).sum()), 1))}


def _one_input(out: Path, counts, phantom, denoise: str, *, seed: int, time_budget_s: float | None,
               denoise_budget_s: float, fit_settings: dict[str, Any], progress: Progress | None) -> dict[str, Any]:
    """Composition (with ``denoise``) -> files -> kinetics fit -> files -> scores, for one input of the chain."""
    from ..inverse import KineticsConfig
    from ..io import read
    from ..workflows.kinetics import run_kinetics, write_kinetics
    from ..workflows.stxm import CompositionConfig, check_composition, run_composition, write_composition

    cfg = CompositionConfig(denoise=denoise, time_budget_s=denoise_budget_s, seed=seed)
    check_composition(counts, cfg)
    t0 = time.perf_counter()
    comp = run_composition(counts, config=cfg, progress=sub_progress(progress, 0.0, 0.2, "composition: "))
    tif, _ = write_composition(comp, out / f"x_{denoise}.tif", counts=counts)
    seconds_composition = time.perf_counter() - t0
    stack = read(tif, allow_nan=True)
    config = KineticsConfig(model="acr", frame_interval=phantom.kinetics.frame_interval, time_budget_s=time_budget_s,
                            **fit_settings)
    run = run_kinetics(stack, config, rng=seed, progress=sub_progress(progress, 0.2, 1.0, "kinetics: "))
    write_kinetics(run, out / f"fit_{denoise}", inputs=[str(tif)])
    score = score_kinetics(run.result, phantom.kinetics)
    return {"input": "raw" if denoise == "none" else denoise,
            **composition_scores(stack.to_numpy(), phantom.x_true, phantom.labels),
            "seconds_composition": seconds_composition, **score, "reason": run.result.reason,
            "sigma_source": run.sigma_source}


def run_chain(folder: str | os.PathLike, *, seed: int = 0, size: int = 96, frames: int = 40, particles: int = 4,
              delithiation: bool = False, denoisers: tuple[str, ...] = ("none", "tv"),
              time_budget_s: float | None = 600.0, denoise_budget_s: float = 120.0,
              phantom_settings: dict[str, Any] | None = None, fit_settings: dict[str, Any] | None = None,
              progress: Progress | None = None) -> dict[str, Any]:
    """Run the chain phantom counts -> composition -> kinetics fit, once per denoiser, and score each fit.

    Parameters
    ----------
    folder : str or path
        Output folder (made): ``phantom/`` (counts and truth), ``x_<denoiser>.tif`` (+ .json),
        ``fit_<denoiser>/`` (what ``operando learn`` writes), ``chain.json`` and ``chain.csv``.
    seed : int
        The phantom's seed, the composition's and the fit's.
    size, frames, particles : int
        STXM pixels per side, time points, platelets.
    delithiation : bool
        The mean Li fraction falls from 0.95 to 0.05 (default: rises from 0.05 to 0.95).
    denoisers : tuple of str
        ``stxm composition --denoise`` values, one chain row each (``none``: the raw counts).
    time_budget_s : float or None
        Wall-clock budget of each kinetics fit.
    denoise_budget_s : float
        Budget of each trained denoiser.
    phantom_settings, fit_settings : dict, optional
        More :class:`operando.xray.PhantomConfig` / :class:`operando.inverse.KineticsConfig` fields.
    progress : callable, optional
        Progress events; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    dict
        ``rows`` (one per denoiser: composition x RMSE and median sd(x) on the true particles, the kinetics
        scores of :func:`score_kinetics`: mu_h max error, j0 shape and peak errors, ln k Pearson R on interior
        pixels, residual / sigma, status, seconds), the phantom's settings and truth, ``seconds`` and versions.
    """
    from .._errors import InputError
    from ..xray import PhantomConfig, make_phantom, write_phantom

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ends = {"c_start": 0.95, "c_end": 0.05} if delithiation else {}
    cfg = PhantomConfig(size=size, frames=frames, n_particles=particles, li_model="acr", seed=seed,
                        **{**ends, **(phantom_settings or {})})
    emit(progress, 0.0, "phantom: the ACR run on the platelets")
    phantom = make_phantom(cfg)
    files = write_phantom(phantom, out / "phantom")
    counts = _read_counts(files["nxstxm"])
    rows = []
    for i, denoise in enumerate(denoisers):
        part = sub_progress(progress, 0.05 + 0.95 * i / len(denoisers), 0.05 + 0.95 * (i + 1) / len(denoisers),
                            f"{denoise}: ")
        try:
            rows.append(_one_input(out, counts, phantom, denoise, seed=seed, time_budget_s=time_budget_s,
                                   denoise_budget_s=denoise_budget_s, fit_settings=fit_settings or {},
                                   progress=part))
        except InputError as exc:  # e.g. learn refusing a raw video whose thin edges reach x < -0.3: a row
            rows.append({"input": "raw" if denoise == "none" else denoise, "status": "refused", "reason": str(exc)})
    truth = json.loads((out / "phantom" / "truth.json").read_text(encoding="utf-8"))
    record = {"rows": rows, "phantom": cfg.model_dump(mode="json"), "truth": {k: truth[k] for k in (
              "frame_interval", "kappa", "j0_shape", "omega", "particles")},
              "fit": fit_settings or {}, "time_budget_s": time_budget_s, "seconds": time.perf_counter() - t0,
              "seed": seed, "versions": versions()}
    write_json_file(out / "chain.json", record)
    write_csv_file(out / "chain.csv", rows)
    emit(progress, 1.0, "chain done")
    return record


def _read_counts(path: Path):
    """Read the phantom's counts back as ``stxm composition`` does."""
    from ..workflows.stxm import read_series

    return read_series([path])
