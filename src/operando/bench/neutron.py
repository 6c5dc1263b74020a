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
from .._progress import Progress, emit, sub_progress
from .._provenance import versions
from .._regions import Region, format_region, parse_region
from ..neutron import (
    PLACEMENTS,
    Phantom,
    active_area_fraction,
    depth_profile,
    draw_phantom_config,
    dynamic_variability,
    half_cycle_changes,
    inactive_edge_px,
    normalize,
    read_normalized,
    regions_from_dict,
    simulate_neutron_phantom,
)
from ..workflows.neutron import Analysis, AnalysisConfig, analyze_series

logger = logging.getLogger(__name__)

#: Water steps of the shared step wedge (rows, columns; thickest water first) and its open-beam strip.
STEP_WEDGE_STEPS = tuple(parse_region(r) for r in ("110:200,1000:1200", "230:300,1000:1200", "330:420,1000:1200",
                                                    "450:540,1000:1200", "570:640,1000:1200"))
STEP_WEDGE_OPEN = parse_region("10:60,20:1480")
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
        "delta_a", "transmission", "raw"), max_steps: int | None = None, progress: Progress | None = None,
        **changes: Any) -> dict[str, Any]:
    """Analyse the phantom once per denoising target (Delta A, T, raw counts) and score each against the truth.

    Parameters
    ----------
    time_budget_s : float
        Video-denoiser budget per run.
    seed : int
        Seed of the phantom and the denoiser.
    targets : tuple of str
        What to denoise in each run.
    max_steps : int, optional
        The denoiser's training steps.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.
    **changes
        Phantom parameters.

    Returns
    -------
    dict
        ``phantom`` (its configuration) and one evaluation per target, with seconds.
    """
    phantom = simulate_neutron_phantom(rng=seed, **changes)
    opens = tuple(parse_region(b) for b in phantom.regions["regions"]["open"]["boxes"])
    tr = normalize(phantom.sample, phantom.open_beam, phantom.dark, open_regions=opens)
    regions = regions_from_dict(phantom.regions, phantom.sample.shape[1:])
    results: dict[str, Any] = {"phantom": phantom.config, "spots_true": int(sum(phantom.truth["spots_per_frame"])),
                               "spot_pixels_found": int(sum(tr.spot_counts)),
                               "beam_factor_vs_flicker_corr": float(np.corrcoef(tr.beam_factors,
                                                                                phantom.truth["beam_flicker"])[0, 1])}
    for i, target in enumerate(targets):
        config = AnalysisConfig(reference=phantom.reference, denoise_target=target, time_budget_s=time_budget_s,
                                max_steps=max_steps, seed=seed, open_regions=opens,
                                half_cycle_frames=tuple(phantom.boundaries))
        sub = sub_progress(progress, i / len(targets), (i + 1) / len(targets), f"denoise {target}: ")
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


def _flatness(t: np.ndarray, box: Region, blocks: int = 10) -> dict[str, float]:
    """Return the spread of block medians along an open region (residual non-flatness)."""
    y0, y1, x0, x1 = box
    edges = np.linspace(x0, x1, blocks + 1).astype(int)
    med = np.array([np.nanmedian(t[y0:y1, a:b]) for a, b in zip(edges, edges[1:], strict=False)])
    return {"block_median_min": float(med.min()), "block_median_max": float(med.max()),
            "block_median_sd": float(med.std()), "median": float(np.nanmedian(t[y0:y1, x0:x1]))}


def benchmark_step_wedge(data_dir: str | os.PathLike, *, progress: Progress | None = None) -> dict[str, Any]:
    """Normalise the shared water step wedge (5 s, 120 s, and 5 s sample against the 120 s open beam).

    Parameters
    ----------
    data_dir : str or path
        Folder holding ``exp5s_*.tif`` and ``exp120s_*.tif``.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    dict
        Per case: step transmissions (thickest water first) and whether they increase, open-region flatness,
        spot pixels removed in sample / open beam / dark, dark and open-beam levels.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: no step-wedge folder; the shared data are in ../shared/data/neutron/stepwedge")
    out: dict[str, Any] = {}
    cases = {"5s": ("exp5s_h2o", "exp5s_ob", "exp5s_dc"), "120s": ("exp120s_h2o", "exp120s_ob", "exp120s_dc"),
             "5s_sample_120s_open_beam": ("exp5s_h2o", "exp120s_ob", "exp5s_dc")}
    for i, (name, (s, o, d)) in enumerate(cases.items()):
        tr = read_normalized(folder / f"{s}.tif", folder / f"{o}.tif", folder / f"{d}.tif",
                             open_regions=[STEP_WEDGE_OPEN],
                             progress=sub_progress(progress, i / len(cases), (i + 1) / len(cases), f"{name}: "))
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
    from ..workflows.neutron import normalize_files

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
                  variants: int = 1, max_steps: int | None = None, command: str = "",
                  progress: Progress | None = None, **changes: Any) -> dict[str, Any]:
    """Run the three parts of the neutron benchmark and write ``neutron_benchmark.json``.

    With ``variants`` > 1 the phantom part runs on that many members of the phantom family instead
    (:func:`benchmark_variants`, the default denoising settings) and ``neutron_variants.md`` (the worst / median /
    spread table) is written too.

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
        Denoising targets compared on the phantom (one phantom; ignored with ``variants`` > 1).
    variants : int
        Phantom-family variants (1: the built-in phantom, once per target).
    max_steps : int, optional
        The denoiser's training steps (a result that does not depend on the machine's load).
    command : str
        The command line, recorded in the report.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.
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
    if int(variants) != variants or variants < 1:
        raise InputError(f"variants = {variants!r}: give a whole number of phantom variants >= 1")
    if max_steps is not None and (int(max_steps) != max_steps or max_steps < 1):
        raise InputError(f"max_steps = {max_steps!r}: give a whole number of training steps >= 1")
    results: dict[str, Any] = {"configuration": {"time_budget_s": time_budget_s, "seed": seed,
                                                 "targets": list(targets), "variants": variants,
                                                 "max_steps": max_steps, "command": command, **changes},
                               "versions": versions()}
    phantom = sub_progress(progress, 0.0, 0.9)
    if variants > 1:
        results["family"] = benchmark_variants(variants, time_budget_s=time_budget_s, max_steps=max_steps, seed=seed,
                                               progress=phantom, **changes)
    else:
        results["phantom"] = benchmark_phantom(time_budget_s=time_budget_s, seed=seed, targets=targets,
                                               max_steps=max_steps, progress=phantom, **changes)
    if data_dir is not None and Path(data_dir).is_dir():
        emit(progress, 0.9, "step wedge")
        results["step_wedge"] = benchmark_step_wedge(data_dir, progress=sub_progress(progress, 0.9, 0.98,
                                                                                     "step wedge: "))
    emit(progress, 0.98, "bad input")
    results["bad_input"] = benchmark_bad_input()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_file(out / "neutron_benchmark.json", results)
    if "family" in results:
        (out / "neutron_variants.md").write_text(variants_markdown(results["family"], command), encoding="utf-8")
    return results


# ------------------------------------------------------------------------------------------ the phantom family

#: Targets judged on the worst variant: (figure, "min" or "max" (what a pass needs), bound, text).
VARIANT_TARGETS = (
    ("variability_cut", "min", 0.80, ">= 80 %"),
    ("mean_bias_anode", "max", 0.01, "< 1 % of the range"),
    ("mean_bias_cathode", "max", 0.01, "< 1 % of the range"),
    ("active_area_max_error", "max", 0.05, "<= 0.05"),
    ("inactive_edge_error_px", "max", 2.0, "<= 2 px"),
    ("coverage_raw_low", "min", 0.90, ">= 0.90"),
    ("coverage_raw_high", "max", 0.98, "<= 0.98"),
)


def phantom_beam_regions(phantom: Phantom) -> tuple[tuple[Region, ...], tuple[Region, ...]]:
    """Return the phantom's open (air) boxes and, where it has none, its current collectors as static regions."""
    regs = phantom.regions["regions"]
    opens = tuple(parse_region(b) for b in regs.get("open", {}).get("boxes", []))
    static = () if opens else tuple(parse_region(r["box"]) for r in regs.values() if r["kind"] == "collector")
    return opens, static


def variant_figures(scores: dict[str, Any]) -> dict[str, float]:
    """Return one variant's headline figures from :func:`evaluate_phantom` (bias as |systematic| of the range)."""
    den = scores.get("denoised", scores["raw"])
    out = {"variability_cut": scores.get("variability_cut", 0.0),
           "variability_raw": scores["raw"]["dynamic_variability"], "variability_denoised": den["dynamic_variability"],
           "variability_truth": scores["true_variability"],
           # the share of the noise's variability removed: (raw - denoised) / (raw - truth); the cut itself is
           # bounded by 1 - truth / raw, which is far below 80 % where the cell changes fast between frames
           "variability_cut_of_possible": (scores["raw"]["dynamic_variability"] - den["dynamic_variability"])
           / max(scores["raw"]["dynamic_variability"] - scores["true_variability"], 1e-12),
           "rmse_raw": scores["raw"]["rmse"], "rmse_denoised": den["rmse"],
           "active_area_max_error": den["active_area_max_error"],
           "active_area_max_error_raw": scores["raw"]["active_area_max_error"],
           "inactive_edge_error_px": den["inactive_edge_error_px"],
           "coverage_raw_low": scores["coverage_1.96sd_raw"], "coverage_raw_high": scores["coverage_1.96sd_raw"]}
    for name in ("anode", "cathode"):
        out[f"mean_bias_{name}"] = abs(den["mean_bias"][name]["systematic_rel"])
        out[f"mean_bias_{name}_raw"] = abs(scores["raw"]["mean_bias"][name]["systematic_rel"])
        out[f"mean_bias_{name}_vs_raw"] = abs(den["mean_bias"][name]["systematic_rel"]
                                              - scores["raw"]["mean_bias"][name]["systematic_rel"])
    return out


def summarize_variants(figures: list[dict[str, float]]) -> dict[str, Any]:
    """Return worst, median, min, max and sd of each figure over the variants, and each target on the worst.

    Parameters
    ----------
    figures : list of dict
        :func:`variant_figures` of each variant.

    Returns
    -------
    dict
        ``figures``: per figure ``worst`` (the smallest for a figure that should be large, else the largest),
        ``median``, ``min``, ``max``, ``sd``; ``targets``: per target the worst value and whether it holds.
    """
    larger_is_better = {"variability_cut", "variability_cut_of_possible", "coverage_raw_low"}
    table: dict[str, Any] = {}
    for key in figures[0]:
        values = np.array([f[key] for f in figures], float)
        worst = float(np.nanmin(values) if key in larger_is_better else np.nanmax(values))
        table[key] = {"worst": worst, "median": float(np.nanmedian(values)), "min": float(np.nanmin(values)),
                      "max": float(np.nanmax(values)), "sd": float(np.nanstd(values)),
                      "worst_variant": int(np.nanargmin(values) if key in larger_is_better else np.nanargmax(values))}
    targets = {}
    for key, kind, bound, text in VARIANT_TARGETS:
        worst = table[key]["worst"]
        targets[key] = {"target": text, "worst": worst,
                        "holds": bool(worst >= bound if kind == "min" else worst < bound if "<" in text
                                      else worst <= bound)}
    return {"figures": table, "targets": targets}


def variant_seeds(n_variants: int, seed: int) -> list[int]:
    """Return the variants' seeds: children of ``seed`` (``numpy.random.SeedSequence(seed).spawn``)."""
    return [int(c.generate_state(1)[0] % (2**31 - 1)) for c in np.random.SeedSequence(seed).spawn(n_variants)]


def variant_config(index: int, variant_seed: int, **changes: Any) -> dict[str, Any]:
    """Return variant ``index``'s phantom parameters (checked).

    Where the open beam is and the depth axis cycle with the index (so 8 variants hold each placement along X
    and along Y); everything else is drawn from ``variant_seed``; ``changes`` are kept.
    """
    fixed = {"open_beam_placement": PLACEMENTS[index % len(PLACEMENTS)],
             "depth_axis": "XY"[(index // len(PLACEMENTS)) % 2], **changes}
    return draw_phantom_config(variant_seed, **fixed)


def benchmark_variants(n_variants: int, *, time_budget_s: float = 90.0, max_steps: int | None = None, seed: int = 0,
                       polish: str = "tv", mean_correction: str = "region", denoise: str = "video",
                       progress: Progress | None = None, **changes: Any) -> dict[str, Any]:
    """Analyse ``n_variants`` members of the phantom family and score each against its truth.

    Each variant is drawn with :func:`variant_config` (its seed a child of ``seed``), normalised with its open
    beam (or its current collectors as static regions where no air is in view), and analysed as ``operando
    neutron analyze`` does (the transmission denoised, TV polish, region means restored from the raw data).

    Parameters
    ----------
    n_variants : int
        Variants (>= 1).
    time_budget_s : float
        The denoiser's budget per variant.
    max_steps : int, optional
        The denoiser's training steps per variant (a run that does not depend on the machine's load).
    seed : int
        Seed of the draw and the denoiser.
    polish, mean_correction, denoise : str
        :class:`AnalysisConfig` settings.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.
    **changes
        Phantom parameters kept for every variant (``ny``, ``nx`` (with depth along X), ``n_cycles``,
        ``frames_per_half_cycle``, or any family parameter).

    Returns
    -------
    dict
        ``variants`` (each: seed, configuration, scores, figures, seconds) and ``summary``
        (:func:`summarize_variants`).
    """
    if int(n_variants) != n_variants or n_variants < 1:
        raise InputError(f"variants = {n_variants!r}: give a whole number of variants >= 1")
    seeds = variant_seeds(n_variants, seed)
    configs = [variant_config(i, s, **changes) for i, s in enumerate(seeds)]  # all checked before any work
    variants = []
    for i, (vseed, params) in enumerate(zip(seeds, configs, strict=True)):
        started = time.perf_counter()
        phantom = simulate_neutron_phantom(rng=vseed, **params)
        opens, static = phantom_beam_regions(phantom)
        tr = normalize(phantom.sample, phantom.open_beam, phantom.dark, open_regions=opens, static_regions=static)
        regions = regions_from_dict(phantom.regions, phantom.sample.shape[1:])
        config = AnalysisConfig(reference=phantom.reference, denoise=denoise, time_budget_s=time_budget_s,
                                max_steps=max_steps, seed=seed, open_regions=opens, polish=polish,
                                mean_correction=mean_correction, half_cycle_frames=tuple(phantom.boundaries))
        sub = sub_progress(progress, i / n_variants, (i + 1) / n_variants, f"variant {i + 1}/{n_variants}: ")
        analysis = analyze_series(tr, config=config, regions=regions, progress=sub)
        scores = evaluate_phantom(analysis, phantom, config)
        drift_err = np.abs(np.array(analysis.delta_raw.info["drift_px"]) - np.array(phantom.truth["drift_px"]))
        variants.append({"index": i, "seed": vseed, "phantom": phantom.config, "beam_regions":
                         {"open": [format_region(b) for b in opens], "static": [format_region(b) for b in static]},
                         "scores": scores, "figures": variant_figures(scores) | {"drift_max_error_px":
                                                                               float(drift_err.max())},
                         "mean_correction": analysis.delta_raw.info.get("mean_correction"),
                         "seconds": time.perf_counter() - started})
        logger.info("variant %d: %s", i, variants[-1]["figures"])
    return {"variants": variants, "summary": summarize_variants([v["figures"] for v in variants])}


def variants_markdown(result: dict[str, Any], command: str = "") -> str:
    """Return the worst / median / spread table of :func:`benchmark_variants` as markdown."""
    summary = result["summary"]
    n = len(result["variants"])
    lines = [f"Neutron phantom family: {n} variant(s)" + (f" (`{command}`)" if command else ""), "",
             "| figure | target | worst | median | spread (min - max) | holds on the worst |",
             "|---|---|---|---|---|---|"]
    targets = summary["targets"]
    for key, row in summary["figures"].items():
        pct = key.startswith(("mean_bias", "variability_cut"))
        fmt = (lambda v: f"{100 * v:.2f} %") if pct else (lambda v: f"{v:.4g}")
        target = targets.get(key)
        lines.append(f"| {key} | {target['target'] if target else ''} | {fmt(row['worst'])} | {fmt(row['median'])} | "
                     f"{fmt(row['min'])} - {fmt(row['max'])} | "
                     f"{'' if target is None else 'yes' if target['holds'] else '**no**'} |")
    lines += ["", "| variant | seed | depth | anode side | open beam | flicker | counts | blur px | cut | bias anode | "
              "bias cathode |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for v in result["variants"]:
        c, f = v["phantom"], v["figures"]
        lines.append(f"| {v['index']} | {v['seed']} | {c['depth_axis']} | {c['anode_side']} | "
                     f"{c['open_beam_placement']} | {c['beam_flicker']:.3f} | {c['open_beam_counts']:.0f} | "
                     f"{c['psf_sigma_px']:.2f} | {100 * f['variability_cut']:.1f} % | "
                     f"{100 * f['mean_bias_anode']:.2f} % | {100 * f['mean_bias_cathode']:.2f} % |")
    return "\n".join(lines) + "\n"
