"""``operando benchmark neutron``: the phantom against its truth, the real step wedge, and bad input."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import write_json_file
from .._stack import Progress, Stack
from ..neutron import (
    Phantom,
    active_area_fraction,
    depth_profile,
    dynamic_variability,
    half_cycle_changes,
    inactive_edge_px,
    normalize,
    regions_from_dict,
    simulate_neutron_phantom,
)
from .neutron import Analysis, AnalysisConfig, analyze_series

logger = logging.getLogger(__name__)

#: Water steps of the shared step wedge (rows, columns; thickest water first) and its open-beam strip.
STEP_WEDGE_STEPS = ((110, 200, 1000, 1200), (230, 300, 1000, 1200), (330, 420, 1000, 1200),
                    (450, 540, 1000, 1200), (570, 640, 1000, 1200))
STEP_WEDGE_OPEN = (10, 60, 20, 1480)
#: What the phantom benchmark can denoise.
TARGETS = ("delta_a", "transmission", "raw")


def _electrodes(phantom: Phantom) -> dict[str, np.ndarray]:
    """Return the phantom's electrode masks."""
    regions = regions_from_dict(phantom.regions, phantom.sample.shape[1:])
    return {r.name: r.mask for r in regions.of_kind("electrode")}


def _mean_bias(estimate: np.ndarray, truth: np.ndarray, mask: np.ndarray, raw: np.ndarray) -> dict[str, float]:
    """Return the bias of the electrode's mean Delta A, relative to the range of the true mean over time.

    ``systematic``: the signed bias averaged over frames; ``max_abs``: the largest per-frame error (it holds the
    raw data's own frame-to-frame noise, e.g. the beam factor's); ``vs_raw_max_abs``: the largest per-frame
    difference from the raw data's mean (what the denoiser itself changed).
    """
    est = np.array([np.nanmean(f[mask]) for f in estimate])
    tru = np.array([np.mean(f[mask]) for f in truth])
    ref = np.array([np.nanmean(f[mask]) for f in raw])
    span = float(tru.max() - tru.min())
    return {"systematic_rel": float(np.mean(est - tru) / span), "max_abs_rel": float(np.max(np.abs(est - tru)) / span),
            "vs_raw_max_abs_rel": float(np.max(np.abs(est - ref)) / span), "range": span}


def _edge(change: np.ndarray, mask: np.ndarray, separator_first: bool) -> float:
    """Return the inactive-zone thickness at the current collector from one half-cycle's change map."""
    prof = depth_profile(change[None], mask, separator_first=separator_first)
    return inactive_edge_px(prof.mean[0])


def evaluate_phantom(analysis: Analysis, phantom: Phantom, config: AnalysisConfig) -> dict[str, Any]:
    """Compare an analysis of the phantom with its truth: the benchmark's targets.

    Parameters
    ----------
    analysis : Analysis
        From :func:`analyze_series` on the phantom.
    phantom : Phantom
        The phantom.
    config : AnalysisConfig
        The analysis settings.

    Returns
    -------
    dict
        Variability cut, electrode-mean bias, active-area errors (raw and denoised), inactive-zone edge error,
        coverage of 1.96 sd on raw data, RMSE of Delta A.
    """
    masks = _electrodes(phantom)
    pooled = np.any(np.stack(list(masks.values())), axis=0)
    truth, raw = phantom.delta_a_true, analysis.delta_raw.stack.to_numpy()
    series = {"raw": raw} if analysis.delta_denoised is None else {"raw": raw, "denoised": analysis.delta_denoised}
    bounds = analysis.boundaries
    change_true, sd = half_cycle_changes(truth, analysis.delta_raw.var_a, bounds, n_avg=config.n_avg)
    thr = config.k * sd
    aaf_true = active_area_fraction(change_true, thr, masks)
    anode_sep_first = bool(np.nonzero(masks["anode"].any(0))[0].mean() > np.nonzero(masks["cathode"].any(0))[0].mean())
    last_charge = 2 * (phantom.config["n_cycles"] - 1)
    # the phantom's inactive zone in the last cycle, counted from the anode mask's collector end (2 px margin)
    nominal = float(phantom.truth["inactive_zone_px"][-1] - 2)
    out: dict[str, Any] = {"active_area_true": aaf_true, "inactive_edge_true_px": nominal,
                           "inactive_edge_rule_on_truth_px": _edge(change_true[last_charge], masks["anode"],
                                                                   anode_sep_first)}
    for name, data in series.items():
        change = half_cycle_changes(data, analysis.delta_raw.var_a, bounds, n_avg=config.n_avg)[0]
        aaf = active_area_fraction(change, thr, masks)
        err = data - truth
        out[name] = {
            "dynamic_variability": dynamic_variability(data, mask=pooled).value,
            "rmse": float(np.sqrt(np.nanmean(err[:, pooled] ** 2))),
            "mean_bias": {n: _mean_bias(data, truth, m, raw) for n, m in masks.items()},
            "active_area": aaf,
            "active_area_max_error": max(abs(a - b) for n in masks for a, b in zip(aaf[n], aaf_true[n], strict=True)),
            "inactive_edge_px": _edge(change[last_charge], masks["anode"], anode_sep_first),
        }
        out[name]["inactive_edge_error_px"] = abs(out[name]["inactive_edge_px"] - out["inactive_edge_true_px"])
    sd_raw = analysis.delta_raw.sd[:, pooled]
    e = (raw - truth)[:, pooled]
    ok = np.isfinite(e) & np.isfinite(sd_raw) & (sd_raw > 0)
    out["coverage_1.96sd_raw"] = float(np.mean(np.abs(e[ok]) <= 1.96 * sd_raw[ok]))
    out["true_variability"] = dynamic_variability(truth, mask=pooled).value
    if "denoised" in out:
        out["variability_cut"] = 1 - out["denoised"]["dynamic_variability"] / out["raw"]["dynamic_variability"]
    return out


def benchmark_phantom(*, time_budget_s: float = 90.0, seed: int = 0, targets: tuple[str, ...] = (
        "delta_a", "transmission", "raw"), progress: Progress | None = None, **changes: Any) -> dict[str, Any]:
    """Analyse the phantom once per denoising target (Delta A, T, raw counts) and score each against the truth.

    Parameters
    ----------
    time_budget_s : float
        Video-denoiser budget per run.
    seed : int
        Seed of the phantom and the denoiser.
    targets : tuple of str
        What to denoise in each run.
    progress : callable, optional
        ``progress(fraction, message)``.
    **changes
        Phantom parameters.

    Returns
    -------
    dict
        ``phantom`` (its configuration) and one evaluation per target, with seconds.
    """
    phantom = simulate_neutron_phantom(rng=seed, **changes)
    opens = tuple(tuple(b) for b in phantom.regions["regions"]["open"]["boxes"])
    tr = normalize(phantom.sample, phantom.open_beam, phantom.dark, open_regions=opens)
    regions = regions_from_dict(phantom.regions, phantom.sample.shape[1:])
    results: dict[str, Any] = {"phantom": phantom.config, "spots_true": int(sum(phantom.truth["spots_per_frame"])),
                               "spot_pixels_found": int(sum(tr.spot_counts)),
                               "beam_factor_vs_flicker_corr": float(np.corrcoef(tr.beam_factors,
                                                                                phantom.truth["beam_flicker"])[0, 1])}
    for i, target in enumerate(targets):
        config = AnalysisConfig(reference=phantom.reference, denoise_target=target, time_budget_s=time_budget_s,
                                seed=seed, open_regions=opens, half_cycle_frames=tuple(phantom.boundaries))
        sub = None if progress is None else (lambda f, m, i=i, t=target: progress((i + f) / len(targets),
                                                                                    f"denoise {t}: {m}"))
        started = time.perf_counter()
        analysis = analyze_series(tr, config=config, regions=regions, raw=(phantom.sample, phantom.open_beam,
                                                                            phantom.dark), progress=sub)
        results[target] = evaluate_phantom(analysis, phantom, config) | {"seconds": time.perf_counter() - started}
        drift_err = np.abs(np.array(analysis.delta_raw.info["drift_px"]) - np.array(phantom.truth["drift_px"]))
        results["drift_max_error_px"] = float(drift_err.max())
    return results


def _step_medians(t: np.ndarray) -> list[float]:
    """Return the median transmission of each water step of the step wedge."""
    return [float(np.nanmedian(t[y0:y1, x0:x1])) for y0, y1, x0, x1 in STEP_WEDGE_STEPS]


def _flatness(t: np.ndarray, box: tuple[int, int, int, int], blocks: int = 10) -> dict[str, float]:
    """Return the spread of block medians along an open region (residual non-flatness)."""
    y0, y1, x0, x1 = box
    edges = np.linspace(x0, x1, blocks + 1).astype(int)
    med = np.array([np.nanmedian(t[y0:y1, a:b]) for a, b in zip(edges, edges[1:], strict=False)])
    return {"block_median_min": float(med.min()), "block_median_max": float(med.max()),
            "block_median_sd": float(med.std()), "median": float(np.nanmedian(t[y0:y1, x0:x1]))}


def benchmark_step_wedge(data_dir: str | os.PathLike) -> dict[str, Any]:
    """Normalise the shared water step wedge (5 s, 120 s, and 5 s sample against the 120 s open beam).

    Parameters
    ----------
    data_dir : str or path
        Folder holding ``exp5s_*.tif`` and ``exp120s_*.tif``.

    Returns
    -------
    dict
        Per case: step transmissions (thickest water first) and whether they increase, open-region flatness,
        spot pixels removed in sample / open beam / dark, dark and open-beam levels.
    """
    from ..io import read_sequence

    folder = Path(data_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: no step-wedge folder; the shared data are in ../shared/data/neutron/stepwedge")
    out: dict[str, Any] = {}
    cases = {"5s": ("exp5s_h2o", "exp5s_ob", "exp5s_dc"), "120s": ("exp120s_h2o", "exp120s_ob", "exp120s_dc"),
             "5s_sample_120s_open_beam": ("exp5s_h2o", "exp120s_ob", "exp5s_dc")}
    for name, (s, o, d) in cases.items():
        sample = read_sequence(folder / f"{s}.tif")
        sample = Stack(sample.to_numpy()[0], axes="YX", metadata=sample.metadata)
        tr = normalize(sample, read_sequence(folder / f"{o}.tif"), read_sequence(folder / f"{d}.tif"),
                       open_regions=[STEP_WEDGE_OPEN])
        t = tr.stack.to_numpy()
        steps = _step_medians(t)
        out[name] = {"steps": steps, "increasing": bool(np.all(np.diff(steps) > 0)),
                     "open_region": _flatness(t, STEP_WEDGE_OPEN), "spots": {
                         "sample": tr.info["sample_spots"][0], "open_beam": tr.info["open_beam_spots"][0],
                         "dark": tr.info["dark_spots"][0]},
                     "exposure_ratio": tr.info["exposure_ratio"], "beam_factor": tr.info["beam_factors"][0],
                     "dark_median": tr.info["dark_median"],
                     "open_beam_minus_dark": tr.info["open_beam_minus_dark_median"],
                     "median_propagated_sd": float(np.nanmedian(tr.sd))}
    return out


def _bad_cases(folder: Path, data_dir: Path | None) -> dict[str, tuple[Any, Any, Any]]:
    """Write the bad inputs: a cropped open beam, a dark-as-open-beam, a glob with a hole, a FITS without data."""
    from astropy.io import fits
    from tifffile import imwrite

    rng = np.random.default_rng(0)
    frame = lambda level: rng.poisson(level, (32, 40)).astype(np.uint16)  # noqa: E731
    for i in (0, 1, 3):
        imwrite(folder / f"sample_{i:04d}.tif", frame(1000))
    imwrite(folder / "ob.tif", frame(1300))
    imwrite(folder / "ob_cropped.tif", frame(1300)[:, :30])
    imwrite(folder / "dc.tif", frame(300))
    fits.PrimaryHDU().writeto(folder / "empty.fits")
    return {"open beam and sample of different shapes": (folder / "sample_0000.tif", folder / "ob_cropped.tif",
                                                         folder / "dc.tif"),
            "all-dark open beam": (folder / "sample_0000.tif", folder / "dc.tif", folder / "dc.tif"),
            "missing file in a glob": (str(folder / "sample_*.tif"), folder / "ob.tif", folder / "dc.tif"),
            "FITS without data": (folder / "empty.fits", folder / "ob.tif", folder / "dc.tif")}


def benchmark_bad_input() -> dict[str, Any]:
    """Feed ``normalize_files`` each bad input; record the one-line error and that nothing was written.

    Returns
    -------
    dict
        Per case: the message, whether it is one line, whether an output appeared.
    """
    from .neutron import normalize_files

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, (s, o, d) in _bad_cases(folder, None).items():
            target = folder / f"out_{len(out)}.tif"
            try:
                normalize_files(s, o, d, target)
                message = None
            except InputError as exc:
                message = str(exc)
            written = [p.name for p in folder.iterdir() if p.name.startswith(f"out_{len(out)}")
                       or p.name.startswith(f".out_{len(out)}")]
            out[name] = {"error": message, "one_line": message is not None and "\n" not in message,
                         "written": written}
    return out


def run_benchmark(output_dir: str | os.PathLike, *, time_budget_s: float = 90.0, seed: int = 0,
                  data_dir: str | os.PathLike | None = None, targets: tuple[str, ...] = ("delta_a", "transmission",
                                                                                         "raw"),
                  progress: Progress | None = None, **changes: Any) -> dict[str, Any]:
    """Run the three parts of the neutron benchmark and write ``neutron_benchmark.json``.

    Parameters
    ----------
    output_dir : str or path
        Folder for the JSON.
    time_budget_s : float
        Video-denoiser budget per phantom run.
    seed : int
        Seed.
    data_dir : str or path, optional
        The step-wedge folder (skipped when missing).
    targets : tuple of str
        Denoising targets compared on the phantom.
    progress : callable, optional
        ``progress(fraction, message)``.
    **changes
        Phantom parameters.

    Returns
    -------
    dict
        Everything measured, with the configuration and seed.
    """
    if not (np.isfinite(time_budget_s) and time_budget_s > 0):
        raise InputError(f"time_budget_s = {time_budget_s!r}: the denoiser's budget must be > 0 seconds")
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise InputError(f"targets {list(targets)!r}: choose one or more of {', '.join(TARGETS)}")
    if seed < 0:
        raise InputError(f"seed = {seed}: give a seed >= 0")
    results: dict[str, Any] = {"configuration": {"time_budget_s": time_budget_s, "seed": seed,
                                                 "targets": list(targets), **changes}}
    results["phantom"] = benchmark_phantom(time_budget_s=time_budget_s, seed=seed, targets=targets,
                                           progress=progress, **changes)
    if data_dir is not None and Path(data_dir).is_dir():
        results["step_wedge"] = benchmark_step_wedge(data_dir)
    results["bad_input"] = benchmark_bad_input()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_file(out / "neutron_benchmark.json", results)
    return results
