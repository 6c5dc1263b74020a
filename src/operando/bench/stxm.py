"""The STXM benchmark and demo: composition on the phantom, scored against its truth.

:func:`benchmark_stxm` runs the pipeline (:mod:`operando.workflows.stxm`) on the built-in phantom
(:func:`operando.xray.make_phantom`) raw and denoised, scores every run against the truth (:func:`score_run`),
averages each particle's error over noise draws (:func:`expected_particle_bias`) and compares the OD with the
phantom's ptychography reference. The family of phantoms is in :mod:`operando.bench.stxm_family`.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .._errors import InputError
from .._files import write_json_file
from .._progress import Progress, emit, sub_progress
from .._provenance import versions as library_versions
from .._stack import Stack
from ..workflows.stxm import (
    CompositionConfig,
    CompositionRun,
    check_denoisers,
    plot_maps,
    read_series,
    run_composition,
    write_composition,
)
from ..xray import Phantom, PhantomConfig, make_phantom, noise_draw, write_phantom


def particle_errors(run: CompositionRun, phantom: Phantom) -> np.ndarray:
    """Return the error of every particle's Li fraction in every frame: estimated minus true.

    A particle's Li fraction is the thickness-weighted mean sum(t x) / sum(t) over its pixels inside the run's
    mask (estimated thickness for the estimate, true thickness for the truth).

    Parameters
    ----------
    run : CompositionRun
        The run.
    phantom : Phantom
        Its phantom.

    Returns
    -------
    ndarray, shape (T, n_particles)
        NaN where a particle has 4 or fewer pixels inside the mask.
    """
    x, truth = run.maps[:, 0], phantom.x_true
    inside = (phantom.labels > 0)[None] & np.isfinite(x)
    n_k = int(phantom.labels.max())
    out = np.full((x.shape[0], n_k), np.nan)
    for t in range(x.shape[0]):
        for k in range(1, n_k + 1):
            sel = (phantom.labels == k) & inside[t]
            if sel.sum() > 4:
                w_est, w = np.maximum(run.maps[t, 1][sel], 0), phantom.thickness_true[sel]
                out[t, k - 1] = np.sum(w_est * x[t][sel]) / w_est.sum() - np.sum(w * truth[t][sel]) / w.sum()
    return out


def score_run(run: CompositionRun, phantom: Phantom) -> dict[str, float]:
    """Score a composition run against the phantom's truth (inside the true particle mask).

    Parameters
    ----------
    run : CompositionRun
        The run.
    phantom : Phantom
        Its phantom.

    Returns
    -------
    dict
        ``rmse_x``, ``max_abs_particle_error`` / ``mean_abs_particle_error`` / ``mean_bias`` (signed, the mean
        over particles and frames of this draw) of the particle Li fraction
        sum(t x) / sum(t) per particle and frame,
        ``coverage_1.96sd``, ``mask_recall`` (share of true particle pixels in the estimated mask), and the
        stripe energy of the OD error in scan geometry.
    """
    from ..xray import stripe_share

    x, sd = run.maps[:, 0], run.maps[:, 2]
    truth = phantom.x_true
    inside = (phantom.labels > 0)[None] & np.isfinite(x)
    err = x - truth
    particle_err = particle_errors(run, phantom)
    particle_err = particle_err[np.isfinite(particle_err)]
    covers = []
    for t, frame in enumerate(run.summary.get("frames", [])):
        sel = run.mask[t] & (phantom.labels > 0)
        w = phantom.thickness_true[sel]
        if w.sum() > 0:
            true_mean = float(np.sum(w * truth[t][sel]) / w.sum())
            covers.append(frame["ci95_low"] <= true_mean <= frame["ci95_high"])
    od_err = run.od_raw - phantom.od_observed
    stripe_energy = float(np.nansum([stripe_share(e) * np.nansum(e**2) for e in od_err.reshape(-1, *od_err.shape[2:])]))
    return {"rmse_x": float(np.sqrt(np.mean(err[inside] ** 2))),
            "max_abs_particle_error": float(np.max(np.abs(particle_err))) if particle_err.size else float("nan"),
            "mean_abs_particle_error": float(np.mean(np.abs(particle_err))) if particle_err.size else float("nan"),
            "mean_bias": float(np.mean(particle_err)) if particle_err.size else float("nan"),
            "coverage_1.96sd": float(np.mean(np.abs(err[inside]) < 1.96 * sd[inside])),
            "mask_recall": float(inside.sum() / ((phantom.labels > 0).sum() * x.shape[0])),
            "mask_precision": float(inside.sum() / max(int(np.isfinite(x).sum()), 1)),
            "frame_interval_coverage": float(np.mean(covers)) if covers else float("nan"),
            "od_stripe_energy": stripe_energy,
            "od_error_energy": float(np.nansum(od_err**2))}


def _particle_boxes(labels: np.ndarray, margin: int = 3) -> list[tuple[int, int, int, int]]:
    boxes = []
    for k in range(1, int(labels.max()) + 1):
        ys, xs = np.where(labels == k)
        if ys.size:
            boxes.append((max(ys.min() - margin, 0), min(ys.max() + margin + 1, labels.shape[0]),
                          max(xs.min() - margin, 0), min(xs.max() + margin + 1, labels.shape[1])))
    return boxes


def compare_with_reference(runs: dict[str, CompositionRun], phantom: Phantom) -> Any:
    """Measure masked PSNR/SSIM of each run's first-energy OD against the ptychography, per particle and frame.

    Parameters
    ----------
    runs : dict of str to CompositionRun
        Versions to compare (the first is the baseline of the paired statistics).
    phantom : Phantom
        Holds the reference.

    Returns
    -------
    ComparisonTable
        Rows and paired statistics.
    """
    from scipy import ndimage

    from ..workflows.compare import compare_versions

    versions = {k: Stack(np.nan_to_num(r.od[:, 0], nan=0.0), "TYX", phantom.counts.metadata.replace(energies=None))
                for k, r in runs.items()}
    mask = ndimage.binary_dilation(phantom.labels > 0, iterations=2)
    return compare_versions(versions, phantom.reference, mask=mask, regions=_particle_boxes(phantom.labels))


class BenchmarkConfig(BaseModel):
    """Settings of :func:`benchmark_stxm`."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    phantom: PhantomConfig = Field(default_factory=PhantomConfig)
    method: str = Field("tv", description="denoiser of the 'denoised' rows (tv: the best measured on the phantom)")
    time_budget_s: float = Field(90.0, gt=0, description="training budget per neural denoising run")
    extra_methods: list[str] = Field(default_factory=lambda: ["nlm", "n2v2"],
                                     description="more denoisers, before the ratio")
    bias_draws: int = Field(10, ge=0, description="more noise draws of the phantom over which the per-particle "
                                                  "bias of the raw and denoised rows is averaged (0: one draw)")
    seed: int = 0


def benchmark_stxm(output: str | os.PathLike, *, config: BenchmarkConfig | None = None,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Composition on the phantom: raw (one I0 per image / per-line I0), denoised before and after the ratio.

    Parameters
    ----------
    output : str or path
        Folder for report.md, results.json and figures.
    config : BenchmarkConfig, optional
        Phantom and denoiser settings.
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    dict
        Rows (one per variant), targets met or not, the reference comparison and the configuration.
    """
    cfg = config or BenchmarkConfig()
    check_denoisers(cfg.method, "--method")
    for extra in cfg.extra_methods:
        check_denoisers(extra, "--extra")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    phantom = make_phantom(cfg.phantom)
    base = {"seed": cfg.seed, "time_budget_s": cfg.time_budget_s}
    variants = {
        "raw, one I0 per image": CompositionConfig(per_line_i0=False, **base),
        "raw, per-line I0": CompositionConfig(**base),
        f"{cfg.method}, before the ratio": CompositionConfig(denoise=cfg.method, **base),
        f"{cfg.method}, after (x)": CompositionConfig(denoise=cfg.method, denoise_stage="after", **base),
        **{f"{m}, before the ratio": CompositionConfig(denoise=m, **base) for m in cfg.extra_methods},
    }
    runs, rows = {}, []
    steps = len(variants) + 1  # the variants, then the noise draws
    for i, (name, vcfg) in enumerate(variants.items()):
        emit(progress, i / steps, name)
        started = time.perf_counter()
        try:
            runs[name] = run_composition(phantom.counts, config=vcfg,
                                         progress=sub_progress(progress, i / steps, (i + 1) / steps, f"{name}: "))
        except InputError as exc:  # e.g. bm3d after the ratio: the filled x maps hold no measurable noise
            rows.append({"variant": f"{name} (not run: {exc})"})
            continue
        rows.append({"variant": name, **score_run(runs[name], phantom), "seconds": time.perf_counter() - started})
    missing = [r["variant"] for r in rows[:3] if "rmse_x" not in r]
    if missing:
        raise InputError(f"the benchmark's main variants did not run: {missing[0]}; check the phantom settings "
                         "(a photon budget i0_counts too low leaves nothing to measure: raise it, command line "
                         "--i0-counts)")
    table = compare_with_reference({k: runs[k] for k in list(runs)[1:3]}, phantom)
    judged = list(variants)[1:3]
    bias = expected_particle_bias(phantom, {k: variants[k] for k in judged}, cfg.bias_draws,
                                  first={k: runs[k] for k in judged},
                                  progress=sub_progress(progress, (steps - 1) / steps, 1.0))
    result = _benchmark_result(rows, table, cfg, phantom, bias)
    _benchmark_report(out, result, runs, phantom, table)
    emit(progress, 1.0, "benchmark done")
    return result


def expected_particle_bias(phantom: Phantom, variants: dict[str, CompositionConfig], draws: int, *,
                           first: dict[str, CompositionRun] | None = None, progress: Progress | None = None
                           ) -> dict[str, dict[str, Any]]:
    """Average every particle's Li-fraction error over noise draws: its bias, with a standard error.

    One draw's error of a particle's mean x is bias plus noise; the mean over ``draws + 1`` draws (the
    phantom's own counts and ``draws`` more from :func:`noise_draw`) estimates the bias, and
    sd / sqrt(n) its standard error.

    Parameters
    ----------
    phantom : Phantom
        The phantom.
    variants : dict of str to CompositionConfig
        The runs to average (each is rerun on every draw).
    draws : int
        Noise draws beyond the phantom's own (0: the phantom's counts only).
    first : dict of str to CompositionRun, optional
        Runs already made on the phantom's own counts (not recomputed).
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    dict
        Per variant: ``bias`` (T x particles, mean error), ``se``, ``max_abs_bias``, ``se_of_max`` (the se of the
        particle-frame with the largest |bias|), ``max_abs_error_one_draw``, ``draws`` (counted with the first).
    """
    errors: dict[str, list[np.ndarray]] = {k: [] for k in variants}
    for name, vcfg in variants.items():
        run = (first or {}).get(name) or run_composition(phantom.counts, config=vcfg)
        errors[name].append(particle_errors(run, phantom))
    for d in range(draws):
        emit(progress, d / max(draws, 1), f"noise draw {d + 1}/{draws}")
        counts = noise_draw(phantom, d + 1)
        draw_progress = sub_progress(progress, d / draws, (d + 1) / draws, f"noise draw {d + 1}/{draws}: ")
        for name, vcfg in variants.items():
            run = run_composition(counts, config=vcfg, progress=draw_progress)
            errors[name].append(particle_errors(run, phantom))
    out = {}
    for name, errs in errors.items():
        e = np.stack(errs)
        if not np.isfinite(e).any():
            raise InputError(f"{name}: no particle of the phantom was found in the maps (photon budget "
                             f"i0_counts={phantom.config.i0_counts:g}, {phantom.config.size} px); raise i0_counts "
                             "(command line: --i0-counts) or the size")
        with warnings.catch_warnings():  # a particle missed in every draw has no bias: NaN, not a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            bias = np.nanmean(e, axis=0)
            se = np.nanstd(e, axis=0, ddof=1) / np.sqrt(len(e)) if len(e) > 1 else np.full_like(bias, np.nan)
        worst = int(np.nanargmax(np.abs(bias)))
        out[name] = {"bias": bias.tolist(), "se": se.tolist(), "max_abs_bias": float(np.abs(bias).flat[worst]),
                     "se_of_max": float(se.flat[worst]), "max_abs_error_one_draw": float(np.nanmax(np.abs(e))),
                     "draws": len(e)}
    return out


def _benchmark_result(rows: list[dict[str, Any]], table: Any, cfg: BenchmarkConfig, phantom: Phantom,
                      bias: dict[str, dict[str, Any]]) -> dict[str, Any]:
    raw, den = rows[1], rows[2]
    raw_bias, den_bias = bias[raw["variant"]], bias[den["variant"]]
    stripes_removed = 1 - rows[1]["od_stripe_energy"] / rows[0]["od_stripe_energy"]
    psnr_gain = next(iter(table.statistics.values()))["psnr_db"]["mean_difference"]
    n = den_bias["draws"]
    targets = {
        "rmse_ratio_raw_over_denoised": {"value": raw["rmse_x"] / den["rmse_x"], "target": ">= 3"},
        "mean_bias_denoised": {"value": den["mean_bias"], "target": "|.| < 0.01"},
        "mean_bias_raw": {"value": raw["mean_bias"], "target": "|.| < 0.01"},
        "max_abs_bias_denoised": {"value": den_bias["max_abs_bias"], "se": den_bias["se_of_max"],
                                  "target": f"< 0.01 (particle x frame, mean error over {n} noise draws)"},
        "max_abs_bias_raw": {"value": raw_bias["max_abs_bias"], "se": raw_bias["se_of_max"],
                             "target": f"< 0.01 (particle x frame, mean error over {n} noise draws)"},
        "coverage_raw": {"value": raw["coverage_1.96sd"], "target": "0.90-0.98"},
        "coverage_denoised": {"value": den["coverage_1.96sd"], "target": "0.90-0.98"},
        "stripe_share_removed": {"value": stripes_removed, "target": ">= 0.8"},
        "psnr_gain_vs_reference_db": {"value": psnr_gain, "target": ">= 3"},
    }
    checks = {"rmse_ratio_raw_over_denoised": lambda v: v >= 3, "max_abs_bias_denoised": lambda v: v < 0.01,
              "max_abs_bias_raw": lambda v: v < 0.01,
              "mean_bias_denoised": lambda v: abs(v) < 0.01, "mean_bias_raw": lambda v: abs(v) < 0.01,
              "coverage_raw": lambda v: 0.9 <= v <= 0.98,
              "coverage_denoised": lambda v: 0.9 <= v <= 0.98, "stripe_share_removed": lambda v: v >= 0.8,
              "psnr_gain_vs_reference_db": lambda v: v >= 3}
    for key, entry in targets.items():
        entry["met"] = bool(checks[key](entry["value"]))
        entry["margin"] = float(TARGET_MARGINS[key](entry["value"]))
    return {"rows": rows, "targets": targets, "particle_bias": bias, "reference_comparison": table.to_dict(),
            "config": cfg.model_dump(mode="json"), "seed": cfg.seed, "phantom_seed": phantom.config.seed,
            "versions": library_versions()}


#: How far each benchmark figure is inside its target (negative: missed); the worst variant has the smallest.
TARGET_MARGINS: dict[str, Any] = {
    "rmse_ratio_raw_over_denoised": lambda v: v - 3, "mean_bias_denoised": lambda v: 0.01 - abs(v),
    "mean_bias_raw": lambda v: 0.01 - abs(v), "max_abs_bias_denoised": lambda v: 0.01 - v,
    "max_abs_bias_raw": lambda v: 0.01 - v, "coverage_raw": lambda v: min(v - 0.9, 0.98 - v),
    "coverage_denoised": lambda v: min(v - 0.9, 0.98 - v), "stripe_share_removed": lambda v: v - 0.8,
    "psnr_gain_vs_reference_db": lambda v: v - 3}


def _benchmark_report(out: Path, result: dict[str, Any], runs: dict[str, CompositionRun], phantom: Phantom,
                      table: Any) -> None:
    from ..report import markdown_table
    from ..workflows.compare import plot_comparison

    last = phantom.x_true.shape[0] - 1
    maps = {"truth": phantom.x_true[last], **{k: r.maps[last, 0] for k, r in runs.items()}}
    plot_maps(maps, out / "x_maps.png", title=f"frame {last}: Li fraction x")
    plot_comparison(table, out / "reference_boxplot.png")
    write_json_file(out / "results.json", result)
    cols = ["variant", "rmse_x", "mean_bias", "max_abs_particle_error", "coverage_1.96sd",
            "frame_interval_coverage", "mask_recall", "mask_precision", "od_stripe_energy", "seconds"]
    bias = [{"variant": k, "noise draws": v["draws"], "max |bias| (particle x frame)": v["max_abs_bias"],
             "its se": v["se_of_max"], "max |error| in one draw": v["max_abs_error_one_draw"]}
            for k, v in result["particle_bias"].items()]
    lines = ["# STXM composition benchmark (phantom)", "",
             markdown_table([{k: r.get(k) for k in cols} for r in result["rows"]]), "",
             "Bias of every particle's Li fraction (thickness-weighted mean x), averaged over noise draws:", "",
             markdown_table(bias), "",
             markdown_table([{"quantity": k, "value": v["value"], "target": v["target"], "met": v["met"]}
                             for k, v in result["targets"].items()]), "",
             "![x maps](x_maps.png)", "", "![against the reference](reference_boxplot.png)", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def run_demo(output: str | os.PathLike, *, quick: bool = False, method: str = "tv", time_budget_s: float = 60.0,
             rng: int | np.random.Generator | None = 0, progress: Progress | None = None) -> dict[str, Any]:
    """Phantom on disk -> read back as a user would -> composition raw and denoised -> report with figures.

    Parameters
    ----------
    output : str or path
        Folder (phantom files, maps, report.md).
    quick : bool
        A 48 x 48 phantom with 2 frames (seconds).
    method : str
        Denoiser of the denoised run.
    time_budget_s : float
        Training budget of a neural denoiser.
    rng : int, Generator or None
        Seed of the phantom and the denoiser (a Generator or None draws one; the seed used is recorded).
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop
        (the maps and the report are written after both runs).

    Returns
    -------
    dict
        Scores of the raw and denoised runs, the reference comparison and the files written.
    """
    from ..report import markdown_table
    from ..workflows.compare import plot_comparison

    seed = int(rng) if isinstance(rng, int | np.integer) else int(np.random.default_rng(rng).integers(2**31))
    out = Path(output)
    pcfg = PhantomConfig(size=48 if quick else 96, frames=2 if quick else 3, seed=seed)
    phantom = make_phantom(pcfg, progress=sub_progress(progress, 0.0, 0.3, "phantom: "))
    files = write_phantom(phantom, out / "phantom")
    counts = read_series(sorted(str(p) for k, p in files.items() if k.startswith("hdr_")))
    runs = {}
    settings = {"raw": CompositionConfig(seed=seed),
                method: CompositionConfig(denoise=method, time_budget_s=time_budget_s, seed=seed)}
    for (name, cfg), (start, stop) in zip(settings.items(), ((0.3, 0.5), (0.5, 0.95)), strict=True):
        emit(progress, start, f"composition ({name})")
        runs[name] = run_composition(counts, config=cfg, progress=sub_progress(progress, start, stop, f"{name}: "))
    for name, run in runs.items():
        write_composition(run, out / f"composition_{name}.tif", counts=counts)
    table = compare_with_reference(runs, phantom)
    scores = {k: score_run(r, phantom) for k, r in runs.items()}
    plot_maps({"truth": phantom.x_true[-1], **{k: r.maps[-1, 0] for k, r in runs.items()}}, out / "x_maps.png")
    plot_comparison(table, out / "reference_boxplot.png")
    result = {"scores": scores, "reference_comparison": table.to_dict(), "phantom": pcfg.model_dump(mode="json"),
              "seed": seed, "method": method, "versions": library_versions()}
    write_json_file(out / "demo.json", result)
    keep = ("rmse_x", "max_abs_particle_error", "coverage_1.96sd")
    rows = [{"run": k, **{m: v for m, v in s.items() if m in keep}} for k, s in scores.items()]
    (out / "report.md").write_text("\n".join([
        "# operando stxm demo", "", f"Phantom {pcfg.size}x{pcfg.size}, {pcfg.frames} frames, energies "
        f"{list(pcfg.energies_ev)} eV, seed {seed}; files in phantom/ (.hdr/.xim and NXstxm).", "",
        markdown_table(rows), "", "![x maps](x_maps.png)", "", "![against the reference](reference_boxplot.png)", ""]),
        encoding="utf-8")
    emit(progress, 1.0, "demo done")
    return {**result, "report": str(out / "report.md")}


def check_demo_settings(method: str, time_budget_s: float) -> None:
    """Refuse demo settings that cannot work (an unknown denoiser, a budget <= 0) before anything is written.

    Parameters
    ----------
    method : str
        Denoiser of the denoised run.
    time_budget_s : float
        Training budget of a neural denoiser, s.

    Raises
    ------
    InputError
        Naming the setting and what to give.
    """
    check_denoisers(method, "--method")
    if not (math.isfinite(time_budget_s) and time_budget_s > 0):
        raise InputError(f"--time-budget {time_budget_s:g}: give a training budget > 0 s")
