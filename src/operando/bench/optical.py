"""``operando benchmark optical`` and ``operando optical score`` / ``demo``: the optical pipeline against a truth.

:func:`score_analysis` scores an analysis folder against an annotation (instance F1, stage accuracy, transition
errors); :func:`hue_bias` measures how far a denoiser moved the colours of the noise-free render;
:func:`benchmark_optical` runs the single phantom (raw and after each denoiser, plus the speed of a large
frame), :func:`benchmark_optical_variants` a family of phantoms (worst case, median and spread), and
:func:`run_optical_demo` the whole chain on a small phantom.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import write_json_file
from .._progress import Progress, emit, sub_progress
from .._provenance import versions
from ..optical import STAGE_LEGEND, classify_pixels, rgb_to_lab, video_rgb
from ..workflows.optical import OpticalConfig, OpticalResult, analyze_video, write_analysis, write_phantom


def _read_labels_stages(folder: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and check the labels.tif and stages.tif of an analysis or truth folder."""
    from ..io import read

    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder; {what} is a folder holding labels.tif and stages.tif (as written "
                         "by 'operando optical analyze' or 'operando optical phantom')")
    paths = [folder / "labels.tif", folder / "stages.tif"]
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: missing; {what} must hold labels.tif and stages.tif (as written by "
                             "'operando optical analyze' or 'operando optical phantom')")
    labels, stages = (read(p).to_numpy() for p in paths)
    for path, data in zip(paths, (labels, stages), strict=True):
        if data.ndim != 3 or data.dtype.kind not in "ui" or (data.size and data.min() < 0):
            raise InputError(f"{path}: expected frames (T, Y, X) of whole numbers >= 0, got {data.dtype} of shape "
                             f"{data.shape}; give the labels.tif and stages.tif that operando wrote")
    if labels.shape != stages.shape:
        raise InputError(f"{folder}: labels.tif {labels.shape} and stages.tif {stages.shape} differ in shape; give "
                         "the two files of one analysis")
    return labels, stages


def score_analysis(result: str | os.PathLike, truth: str | os.PathLike) -> dict[str, Any]:
    """Score an analysis folder against an annotation folder (both with labels.tif and stages.tif).

    Parameters
    ----------
    result : path
        Folder written by :func:`operando.workflows.optical.write_analysis`.
    truth : path
        Folder with the annotated ``labels.tif`` and ``stages.tif`` (e.g. a phantom's ``truth``).

    Returns
    -------
    dict
        Instance F1 at IoU > 0.5 (Hungarian matching), mean IoU of matches, stage pixel accuracy inside true
        particles, the stage confusion matrix, and the median transition-time error of matched particles.
    """
    from ..metrics import instance_f1, match_instances, stage_confusion
    from ..optical import transition_frames

    labels, stages = _read_labels_stages(Path(result), "the analysis folder")
    t_labels, t_stages = _read_labels_stages(Path(truth), "the truth folder")
    if labels.shape != t_labels.shape:
        raise InputError(f"analysis {labels.shape} and truth {t_labels.shape} differ in shape; score the analysis "
                         "of the video the truth belongs to")
    labels, t_labels = labels.astype(np.int64), t_labels.astype(np.int64)
    inst = instance_f1(t_labels, labels)
    classes = tuple(sorted(STAGE_LEGEND))
    stage = stage_confusion(t_stages, stages, classes=classes, mask=t_labels > 0)
    true_ids, pred_ids, _ = match_instances(t_labels[0], labels[0])
    errors = {}
    for name in ("II", "I"):
        a = transition_frames(t_stages, t_labels, true_ids, name)
        b = transition_frames(stages, labels, pred_ids, name)
        both = np.isfinite(a) & np.isfinite(b)
        errors[name] = {"median_abs_error_frames": float(np.median(np.abs(a - b)[both])) if both.any() else None,
                        "matched_particles": int(true_ids.size), "both_transition": int(both.sum()),
                        "only_truth": int((np.isfinite(a) & ~np.isfinite(b)).sum()),
                        "only_analysis": int((~np.isfinite(a) & np.isfinite(b)).sum())}
    return {"instance": inst.to_dict(), "per_frame_f1": list(inst.per_frame_f1),
            "stage_accuracy_in_true_particles": stage.accuracy, "stage_classes": list(stage.classes),
            "stage_legend": {str(k): v for k, v in STAGE_LEGEND.items()},
            "stage_confusion_rows_truth_cols_analysis": stage.confusion.tolist(), "transition_error": errors}


def _region_means(lab: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean Lab of each region (pixels sharing a key) and the region areas."""
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    sums = np.stack([np.bincount(inverse, weights=lab[:, c], minlength=counts.size) for c in range(3)], 1)
    return sums / counts[:, None], counts


def hue_bias(clean: np.ndarray, processed: np.ndarray, truth_labels: np.ndarray, truth_stages: np.ndarray,
             result: OpticalResult) -> dict[str, float]:
    """Measure how far a processed (denoised) video's colours moved from the noise-free render.

    Both videos get the same colour correction (the analysis's) and the same stage model.

    Parameters
    ----------
    clean, processed : ndarray, shape (T, Y, X, 3)
        Noise-free and processed RGB frames, float in [0, 1].
    truth_labels, truth_stages : ndarray, shape (T, Y, X)
        True particle ids and stages.
    result : OpticalResult
        The analysis of ``processed`` (its correction and stage model are used).

    Returns
    -------
    dict
        ``moved_region_share`` (the hue bias): each true (particle, stage) region of each frame is averaged in
        both videos and the means classified; the share of particle pixels in regions whose stage differs.
        Averaging removes the noise left by the denoiser and keeps its systematic colour shifts.
        ``moved_pixel_share``: the same per pixel (includes residual noise). ``hue_shift_deg``: mean signed
        change of the CIELAB hue angle; ``mean_delta_e``: mean CIE76 colour difference per pixel.
    """
    inside = truth_labels > 0
    counts = {"pixel": 0, "region": 0, "total": 0}
    hue, delta_e = [], []
    limit = result.config["max_distance"]
    for t in range(clean.shape[0]):
        a = rgb_to_lab(result.correction.apply(clean[t : t + 1])[0])[inside[t]]
        b = rgb_to_lab(result.correction.apply(processed[t : t + 1])[0])[inside[t]]
        ca, cb = classify_pixels(a, result.model, max_distance=limit)[0], classify_pixels(b, result.model,
                                                                                       max_distance=limit)[0]
        key = truth_labels[t][inside[t]].astype(np.int64) * 8 + truth_stages[t][inside[t]]
        (ma, area), (mb, _) = _region_means(a, key), _region_means(b, key)
        ra, rb = classify_pixels(ma, result.model, max_distance=limit)[0], classify_pixels(mb, result.model,
                                                                                        max_distance=limit)[0]
        counts["pixel"] += int((ca != cb).sum())
        counts["region"] += int(area[ra != rb].sum())
        counts["total"] += ca.size
        dh = np.angle(np.exp(1j * (np.arctan2(b[:, 2], b[:, 1]) - np.arctan2(a[:, 2], a[:, 1]))), deg=True)
        hue.append(dh.mean())
        delta_e.append(np.linalg.norm(a - b, axis=1).mean())
    total = max(counts["total"], 1)
    return {"moved_region_share": counts["region"] / total, "moved_pixel_share": counts["pixel"] / total,
            "hue_shift_deg": float(np.mean(hue)), "mean_delta_e": float(np.mean(delta_e))}


def _benchmark_row(name: str, phantom: Any, result: OpticalResult, out: Path, seconds: float) -> dict[str, Any]:
    """Write one analysis of the phantom, score it and return its benchmark row."""
    write_analysis(result, out / name, source=phantom.video)
    score = score_analysis(out / name, out / "phantom" / "truth")
    write_json_file(out / name / "score.json", {**score, "versions": versions()})
    rgb = video_rgb(phantom.video) if result.denoised is None else result.denoised
    bias = hue_bias(phantom.clean.to_numpy(), rgb, phantom.labels, phantom.stages, result)
    return {"input": name, "instance_f1": score["instance"]["f1"], "mean_iou": score["instance"]["mean_iou"],
            "stage_accuracy": score["stage_accuracy_in_true_particles"],
            "t_II_err_frames": score["transition_error"]["II"]["median_abs_error_frames"],
            "t_I_err_frames": score["transition_error"]["I"]["median_abs_error_frames"],
            "moved_regions_pct": 100 * bias["moved_region_share"], "moved_pixels_pct": 100 * bias["moved_pixel_share"],
            "hue_shift_deg": bias["hue_shift_deg"], "delta_e": bias["mean_delta_e"],
            "denoise_s": result.seconds["denoise_s"], "total_s": round(seconds, 1)}


def benchmark_speed(*, shape: tuple[int, int] = (1000, 1000), n_particles: int = 300, n_frames: int = 10,
                    seed: int = 0, progress: Progress | None = None) -> dict[str, Any]:
    """Time the analysis (no denoising) of a large phantom: seconds per frame, total and per step.

    Parameters
    ----------
    shape : (int, int)
        Frame size.
    n_particles : int
        Particles.
    n_frames : int
        Frames.
    seed : int
        Seed.
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` objects; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    dict
        Wall seconds per frame (total analysis time / frames), CPU seconds per frame (all threads of this
        process: the work done, whatever else runs on the machine) and the wall time of each step.
    """
    from ..optical import simulate_graphite_phantom

    radius = 9.0 * min(shape) / 384
    emit(progress, 0.0, f"speed: rendering a {shape[0]} x {shape[1]} phantom")
    phantom = simulate_graphite_phantom(shape=shape, n_particles=n_particles, n_frames=n_frames,
                                        radius_px=radius, rng=seed, progress=sub_progress(progress, 0.0, 0.1))
    start, cpu = time.perf_counter(), time.process_time()
    result = analyze_video(phantom.video, config=OpticalConfig(seed=seed), progress=sub_progress(progress, 0.1, 1.0))
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"shape": f"{shape[0]}x{shape[1]}", "particles": int(result.table.ids.size), "frames": n_frames,
            "s_per_frame": round(total / n_frames, 3), "cpu_s_per_frame": round(cpu / n_frames, 3),
            "total_s": round(total, 2), **result.seconds}


def benchmark_optical(
    output: str | os.PathLike,
    *,
    shape: tuple[int, int] = (384, 384),
    n_particles: int = 200,
    n_frames: int = 40,
    denoisers: tuple[str, ...] = ("video", "gaussian"),
    time_budget_s: float = 90.0,
    max_steps: int | None = None,
    speed: bool = True,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Benchmark the optical workflow on the phantom: scores of raw and denoised analyses, hue bias, speed.

    Raw and denoised analyses are scored against the truth; the hue bias compares each input's colours with the
    noise-free render; the speed is the analysis (no denoising) of a 1000 x 1000 phantom with 300 particles.

    Parameters
    ----------
    output : path
        Output folder (phantom, one analysis folder per input, report.md, benchmark.json).
    shape, n_particles, n_frames : tuple, int, int
        The phantom.
    denoisers : tuple of str
        Denoising methods to compare with the raw frames.
    time_budget_s : float
        Training budget of each neural denoiser, seconds.
    max_steps : int, optional
        Neural denoisers stop after this many steps (step-bounded: the figures do not depend on the load).
    speed : bool
        Also time the analysis of a 1000 x 1000 phantom with 300 particles.
    seed : int
        Seed of the phantom, the denoisers and the analyses.
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` objects; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    dict
        ``rows`` (one per input), ``speed`` and the settings.
    """
    from ..optical import simulate_graphite_phantom

    configs = [OpticalConfig(denoise=method, time_budget_s=time_budget_s, max_steps=max_steps, seed=seed)
               for method in ("none", *denoisers)]  # unknown denoisers and bad settings refused before any work
    out, parts = Path(output), len(denoisers) + 2
    emit(progress, 0.0, "phantom")
    phantom = simulate_graphite_phantom(shape=shape, n_particles=n_particles, n_frames=n_frames, rng=seed,
                                        progress=sub_progress(progress, 0.0, 0.1 / parts, "phantom: "))
    write_phantom(phantom, out / "phantom")
    rows = []
    for i, cfg in enumerate(configs):
        method = cfg.denoise
        emit(progress, (i + 0.1) / parts, f"analysing ({method})")
        start = time.perf_counter()
        result = analyze_video(phantom.video, config=cfg,
                               progress=sub_progress(progress, (i + 0.1) / parts, (i + 1) / parts, f"{method}: "))
        rows.append(_benchmark_row("raw" if method == "none" else method, phantom, result, out,
                                   time.perf_counter() - start))
    emit(progress, (parts - 1) / parts, "speed")
    timing = benchmark_speed(seed=seed, progress=sub_progress(progress, (parts - 1) / parts, 1.0)) if speed else None
    record = {"rows": rows, "speed": timing, "phantom": phantom.config, "time_budget_s": time_budget_s, "seed": seed,
              "versions": versions()}
    if max_steps is not None:
        record["max_steps"] = max_steps
    write_json_file(out / "benchmark.json", record)
    _single_report(out, rows, timing, shape, phantom.config["placed"], n_frames, seed, time_budget_s)
    emit(progress, 1.0, "done")
    return record


def _single_report(out: Path, rows: list[dict], timing: dict | None, shape: tuple[int, int], placed: int,
                   n_frames: int, seed: int, time_budget_s: float) -> None:
    """Write report.md of the single-phantom benchmark."""
    from ..report import Report

    rep = Report("Optical graphite benchmark")
    rep.text(f"Phantom {shape[0]} x {shape[1]} px, {placed} particles, {n_frames} frames, seed "
             f"{seed}; denoiser budget {time_budget_s:g} s. Targets: F1 >= 0.9, stage accuracy >= 0.95, transition "
             "error < 2 frames, moved < 1 %, < 2 s per frame at 1000 x 1000 px.")
    rep.table(rows)
    if timing:
        rep.table([timing])
    rep.write(out)


#: Targets of the optical workflow (docs/optical.md): figure -> (kind, bound); "min": the worst is the lowest.
OPTICAL_TARGETS: dict[str, tuple[str, float]] = {
    "instance_f1": ("min", 0.9), "stage_accuracy": ("min", 0.95), "t_II_err_frames": ("max", 1.99),
    "t_I_err_frames": ("max", 1.99), "moved_regions_pct": ("max", 1.0), "accuracy_drop_pts": ("max", 1.0),
}


def summarise_variants(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the worst case, the median and the spread (max - min) of every figure, per input, over variants.

    Parameters
    ----------
    rows : list of dict
        One row per variant and input (``variant``, ``input`` and the figures of :func:`_benchmark_row`, plus
        ``accuracy_drop_pts``: raw stage accuracy minus this input's, in points).

    Returns
    -------
    list of dict
        One row per input and figure: ``worst``, ``worst_variant``, ``median``, ``spread``, ``target`` and
        ``met`` (whether the worst case meets it; None where the figure has no target).
    """
    out = []
    for name in dict.fromkeys(r["input"] for r in rows):
        mine = [r for r in rows if r["input"] == name]
        for figure, (kind, bound) in OPTICAL_TARGETS.items():
            pairs = [(r[figure], r["variant"]) for r in mine if r.get(figure) is not None
                     and np.isfinite(r[figure])]
            if not pairs:
                continue
            values = np.array([v for v, _ in pairs], float)
            at = int(np.argmin(values) if kind == "min" else np.argmax(values))
            worst = float(values[at])
            met = worst >= bound if kind == "min" else worst <= bound
            out.append({"input": name, "figure": figure, "worst": round(worst, 4), "worst_variant": pairs[at][1],
                        "median": round(float(np.median(values)), 4), "spread": round(float(np.ptp(values)), 4),
                        "target": f"{'>=' if kind == 'min' else '<='} {bound:g}", "met": bool(met)})
    return out


def _variant_rows(vseed: int, settings: dict[str, Any], configs: list[OpticalConfig], folder: Path,
                  shape: tuple[int, int], n_particles: int, n_frames: int,
                  progress: Progress | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Render one variant, analyse it raw and after each denoiser; return its settings and its rows."""
    from ..optical import background_class, simulate_graphite_phantom

    emit(progress, 0.0, f"variant {vseed}: phantom")
    phantom = simulate_graphite_phantom(shape=shape, n_particles=n_particles, n_frames=n_frames, rng=vseed,
                                        progress=sub_progress(progress, 0.0, 0.05, f"variant {vseed}: "), **settings)
    write_phantom(phantom, folder / "phantom")
    variant = {"variant": vseed, "background": background_class(settings), **phantom.config}
    rows, raw_accuracy = [], None
    for j, cfg in enumerate(configs):
        name = "raw" if cfg.denoise == "none" else cfg.denoise
        lo, hi = 0.05 + 0.95 * j / len(configs), 0.05 + 0.95 * (j + 1) / len(configs)
        emit(progress, lo, f"variant {vseed}: {name}")
        start = time.perf_counter()
        result = analyze_video(phantom.video, config=cfg, progress=sub_progress(progress, lo, hi))
        row = _benchmark_row(name, phantom, result, folder, time.perf_counter() - start)
        raw_accuracy = row["stage_accuracy"] if raw_accuracy is None else raw_accuracy
        rows.append({"variant": vseed, "background": variant["background"], **row,
                     "accuracy_drop_pts": round(100 * (raw_accuracy - row["stage_accuracy"]), 3),
                     "found": int(result.table.ids.size), "placed": phantom.config["placed"],
                     "background_model": (result.notes or {}).get("background_model"),
                     "warnings": len((result.notes or {}).get("warnings", []))})
    return variant, rows


def benchmark_optical_variants(
    output: str | os.PathLike,
    *,
    n_variants: int = 8,
    shape: tuple[int, int] = (192, 192),
    n_particles: int = 50,
    n_frames: int = 16,
    denoisers: tuple[str, ...] = ("video",),
    time_budget_s: float = 90.0,
    max_steps: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Benchmark the optical workflow over a family of phantoms: worst case, median and spread of every figure.

    Variant ``i`` is :func:`operando.optical.draw_variant` of seed ``seed + i`` (seed 0: the default phantom),
    rendered with the same seed; each is analysed raw and after each denoiser and scored against its truth.

    Parameters
    ----------
    output : path
        Output folder: ``variant_<seed>/`` (phantom and analyses), ``benchmark.json``, ``report.md``.
    n_variants : int
        Variants drawn.
    shape, n_particles, n_frames : tuple, int, int
        Every variant's frame size, particles asked for and frames.
    denoisers : tuple of str
        Denoisers compared with the raw frames.
    time_budget_s : float
        Training budget of each neural denoiser, seconds.
    max_steps : int, optional
        Neural denoisers stop after this many steps (step-bounded: the figures do not depend on the load).
    seed : int
        First variant seed.
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` objects; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    dict
        ``rows`` (one per variant and input), ``summary`` (:func:`summarise_variants`), ``variants`` (the
        drawn settings) and the configuration.
    """
    from ..optical import draw_variant

    if n_variants < 1:
        raise InputError(f"--variants {n_variants}: give at least 1 variant")
    configs = [OpticalConfig(denoise=method, time_budget_s=time_budget_s, max_steps=max_steps, seed=seed)
               for method in ("none", *denoisers)]  # refused before any work
    out = Path(output)
    rows, variants = [], []
    for i in range(n_variants):
        vseed = seed + i
        variant, mine = _variant_rows(vseed, draw_variant(vseed), configs, out / f"variant_{vseed}", shape,
                                      n_particles, n_frames, sub_progress(progress, i / n_variants,
                                                                          (i + 1) / n_variants))
        variants.append(variant)
        rows.extend(mine)
    summary = summarise_variants(rows)
    record = {"rows": rows, "summary": summary, "variants": variants, "n_variants": n_variants,
              "shape": list(shape), "n_particles": n_particles, "n_frames": n_frames, "denoisers": list(denoisers),
              "time_budget_s": time_budget_s, "max_steps": max_steps, "seed": seed,
              "targets": {k: list(v) for k, v in OPTICAL_TARGETS.items()}, "versions": versions()}
    write_json_file(out / "benchmark.json", record)
    _family_report(out, record)
    emit(progress, 1.0, "done")
    return record


def _family_report(out: Path, record: dict[str, Any]) -> None:
    """Write report.md of the family benchmark."""
    from ..report import Report

    seed, n, shape = record["seed"], record["n_variants"], record["shape"]
    rep = Report("Optical graphite benchmark over a phantom family")
    rep.text(f"{n} variants (seeds {seed}..{seed + n - 1}, operando.optical.draw_variant), "
             f"{shape[0]} x {shape[1]} px, {record['n_particles']} particles asked, {record['n_frames']} frames; "
             f"denoisers {', '.join(record['denoisers']) or 'none'} (budget {record['time_budget_s']:g} s, max_steps "
             f"{record['max_steps']}). The worst case of every figure over the variants, its median and spread "
             "(max - min); 'met' is the worst case against the target. accuracy_drop_pts: raw stage accuracy minus "
             "this input's, in points.")
    rep.table(record["summary"])
    rep.heading("Every variant")
    rep.table([{k: v for k, v in r.items() if k not in ("hue_shift_deg", "delta_e", "moved_pixels_pct")}
               for r in record["rows"]])
    rep.write(out)


def run_optical_demo(output: str | os.PathLike, *, denoise: str = "none", time_budget_s: float = 60.0,
                     seed: int = 0, quick: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Simulate a small phantom, analyse it, write everything and score it against its truth.

    Parameters
    ----------
    output : path
        Output folder: ``phantom/`` (video and truth), ``analysis/`` (the analysis), ``score.json``.
    denoise : str
        ``none``, ``auto`` or a denoising method.
    time_budget_s : float
        Denoiser budget, seconds.
    seed : int
        Seed.
    quick : bool
        A tiny phantom (seconds).
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` objects; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    dict
        The score (:func:`score_analysis`) with the output paths.
    """
    from ..optical import simulate_graphite_phantom

    config = OpticalConfig(denoise=denoise, time_budget_s=time_budget_s, seed=seed)  # refused before any work
    out = Path(output)
    shape, n, frames = ((128, 128), 25, 12) if quick else ((256, 256), 90, 30)
    emit(progress, 0.0, "phantom")
    phantom = simulate_graphite_phantom(shape=shape, n_particles=n, n_frames=frames, rng=seed,
                                        progress=sub_progress(progress, 0.0, 0.05, "phantom: "))
    result = analyze_video(phantom.video, config=config, progress=sub_progress(progress, 0.05, 0.95))
    write_phantom(phantom, out / "phantom")  # written after the work: a stopped demo leaves no files
    files = write_analysis(result, out / "analysis", source=phantom.video)
    score = score_analysis(out / "analysis", out / "phantom" / "truth")
    write_json_file(out / "score.json", {**score, "versions": versions()})
    emit(progress, 1.0, "done")
    return {**score, "report": str(files["report"]), "folder": str(out)}
