"""What an optical analysis writes (:func:`write_analysis`) and a phantom's files (:func:`write_phantom`).

Every file is written after the work: an analysis stopped from its progress callback leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..._errors import InputError
from ..._files import write_csv_file, write_json_file
from ..._provenance import versions
from ..._stack import Metadata, Stack
from ...optical import STAGE_LEGEND, stage_fractions_over_time, transition_trend
from ._run import OpticalResult

logger = logging.getLogger(__name__)


def default_frames_of_interest(n_frames: int) -> list[int]:
    """Return four frames spread over the video (a quarter, half, three quarters, last).

    Parameters
    ----------
    n_frames : int
        Frames of the video.

    Returns
    -------
    list of int
        Sorted, distinct frame indices.
    """
    return sorted({max(0, min(n_frames - 1, round(f * (n_frames - 1)))) for f in (0.25, 0.5, 0.75, 1.0)})


def summary_rows(result: OpticalResult) -> list[dict]:
    """Return one row per particle: id, V/A, first/last area, transition frames, final c-bar.

    Parameters
    ----------
    result : OpticalResult
        From :func:`analyze_video`.

    Returns
    -------
    list of dict
        The rows of ``particle_summary.csv``.
    """
    t = result.table
    unit = t.pixel_unit if t.pixel_size else "px"
    va = t.v_over_a
    rows = []
    for j, pid in enumerate(t.ids):
        present = np.flatnonzero(t.area[:, j] > 0)
        rows.append({"id": int(pid), f"v_over_a_{unit}": round(float(va[j]), 4),
                     "area_first_px": float(t.area[present[0], j]) if present.size else 0.0,
                     "area_last_px": float(t.area[present[-1], j]) if present.size else 0.0,
                     "transition_II_frame": t.transition_frames["II"][j],
                     "transition_I_frame": t.transition_frames["I"][j],
                     "cbar_last": round(float(t.cbar[present[-1], j]), 4) if present.size else float("nan")})
    return rows


def _figures(result: OpticalResult, out: Path, frames: list[int], seed: int) -> tuple[list[Path], list[dict]]:
    """Draw the population figures; return their paths and the transition trends."""
    from ...report import save_figure
    from ._figures import plot_cbar_histograms, plot_density, plot_stage_fractions, plot_transitions

    t = result.table
    paths = [save_figure(plot_stage_fractions(stage_fractions_over_time(t)), out / "stage_fractions.png"),
             save_figure(plot_cbar_histograms(t, frames), out / "cbar_histograms.png"),
             save_figure(plot_density(t, frames), out / "density.png")]
    trends = []
    for stage in ("II", "I"):
        try:
            trends.append(transition_trend(t.v_over_a, t.transition_frames[stage], stage=stage,
                                           n_boot=result.config["n_boot"], rng=seed))
        except InputError as exc:
            logger.info("no %s trend: %s", stage, exc)
    if trends:
        paths.append(save_figure(plot_transitions(t, trends), out / "transition_vs_size.png"))
    return paths, [tr.to_dict() for tr in trends]


def _labels_stack(labels: np.ndarray, meta: Metadata) -> Stack:
    """Wrap particle ids per frame as a ``TYX`` Stack with the video's pixel size and frame times."""
    return Stack(labels, axes="TYX", metadata=Metadata(pixel_size=meta.pixel_size, pixel_unit=meta.pixel_unit,
                                                        frame_times=meta.frame_times,
                                                        extra={"content": "particle ids, 0 = background"}))


def _stages_stack(stages: np.ndarray, meta: Metadata) -> Stack:
    """Wrap stage codes per frame as a ``TYX`` Stack with the stage legend in its metadata."""
    legend = {str(k): v for k, v in STAGE_LEGEND.items()}
    return Stack(stages, axes="TYX", metadata=Metadata(pixel_size=meta.pixel_size, pixel_unit=meta.pixel_unit,
                                                        frame_times=meta.frame_times,
                                                        extra={"content": "graphite stage per pixel",
                                                               "legend": legend}))


def write_analysis(result: OpticalResult, output: str | os.PathLike, *, source: Stack,
                   video_format: Literal["tif", "mp4"] = "tif") -> dict[str, Path]:
    """Write an analysis: labels.tif, stages.tif, CSV tables, figures, report and analysis.json.

    The CSV tables are particles.csv (per particle per frame), particle_summary.csv (per particle) and
    population.csv (stage fractions per frame); analysis.json records the configuration, seed, stage model,
    timings and, when a denoiser ran, its record (with ``auto``: the method chosen and why).

    Parameters
    ----------
    result : OpticalResult
        From :func:`analyze_video`.
    output : path
        Output folder (created).
    source : Stack
        The video analysed (its metadata: pixel size, frame times, source file, which is never overwritten).
    video_format : {"tif", "mp4"}
        Format of the denoised video, when denoising ran (mp4 is lossy: for sharing only).

    Returns
    -------
    dict of str -> Path
        The files written.
    """
    from ..._files import refuse_to_overwrite
    from ...io import write

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    meta = source.metadata
    files = {name: out / name for name in ("labels.tif", "stages.tif", "particles.csv", "particle_summary.csv",
                                           "population.csv", "analysis.json")}
    for path in files.values():
        refuse_to_overwrite(path, meta.source)
    write(_labels_stack(result.labels, meta), files["labels.tif"])
    write(_stages_stack(result.stages, meta), files["stages.tif"])
    write_csv_file(files["particles.csv"], result.table.rows(meta.frame_times))
    summary = summary_rows(result)
    write_csv_file(files["particle_summary.csv"], summary)
    fractions = stage_fractions_over_time(result.table)
    write_csv_file(files["population.csv"], [{"frame": t, **{f"frac_{k}": round(float(v[t]), 5)
                                                              for k, v in fractions.items()}}
                                             for t in range(result.labels.shape[0])])
    if result.denoised is not None:
        files["denoised"] = out / f"denoised.{video_format}"
        refuse_to_overwrite(files["denoised"], meta.source)
        write(Stack(np.clip(np.rint(result.denoised * 255), 0, 255).astype(np.uint8), axes="TYXC", metadata=meta),
              files["denoised"])
    files.update(_write_report_and_record(result, out, meta, files["analysis.json"]))
    return files


def _denoising_text(result: OpticalResult) -> str:
    """Say which denoiser ran (with ``auto``: what it chose and why)."""
    auto = (result.denoise_record or {}).get("auto")
    if auto:
        return f"auto chose {auto['method']} ({auto['reason']})"
    return str(result.config["denoise"])


def _write_report_and_record(result: OpticalResult, out: Path, meta: Metadata, record_path: Path) -> dict[str, Path]:
    """Write the figures, analysis.json and report.md/html of an analysis."""
    from ...report import Report

    frames = result.config["frames_of_interest"] or default_frames_of_interest(result.labels.shape[0])
    figures, trends = _figures(result, out, frames, result.config["seed"])
    record: dict[str, Any] = {
        "config": result.config, "seed": result.config["seed"], "versions": versions(), "source": meta.source,
        "n_particles": int(result.table.ids.size),
        "channel": result.channel, "threshold": result.threshold, "stage_model": result.model.to_dict(),
        "legend": {str(k): v for k, v in STAGE_LEGEND.items()}, "seconds": result.seconds,
        "flicker": result.correction.flicker.round(4).tolist(), "white_balance": result.correction.white.tolist(),
        "registration_shifts_px": result.shifts.tolist(), "frames_of_interest": frames, "trends": trends}
    if result.denoise_record is not None:
        record["denoise"] = result.denoise_record
    write_json_file(record_path, record)
    rep = Report("Optical graphite analysis")
    rep.text(f"{meta.source or 'video'}: {result.labels.shape[0]} frames of {result.labels.shape[1]} x "
             f"{result.labels.shape[2]} px; {result.table.ids.size} particles; denoising: {_denoising_text(result)}; "
             f"foreground channel {result.channel} (threshold {result.threshold:.3g}); stage colours "
             f"{result.model.source}; seed {result.config['seed']}.")
    rep.text("V/A is area / perimeter of the 2-D outline. c-bar maps stage fractions to x in LixC6 with "
             f"{result.config['cbar_mapping']} (unknown and plating pixels are left out and reported).")
    rep.table([{"stage": n, "L*": m[0], "a*": m[1], "b*": m[2]} for n, m in zip(result.model.names,
                                                                                 result.model.means, strict=True)])
    if trends:
        rep.heading("Transition time vs V/A")
        rep.table(trends)
    for path in figures:
        rep.figure(path.name, path.stem.replace("_", " "))
    rep.table([{"step": k, "seconds": v} for k, v in result.seconds.items()])
    return {"report": rep.write(out), **{p.stem: p for p in figures}}


def write_phantom(phantom: Any, output: str | os.PathLike) -> dict[str, Path]:
    """Write a phantom: video.tif (TYXC uint8), truth/labels.tif, truth/stages.tif, truth/particles.csv, phantom.json.

    Parameters
    ----------
    phantom : GraphitePhantom
        From :func:`operando.optical.simulate_graphite_phantom`.
    output : path
        Output folder.

    Returns
    -------
    dict of str -> Path
        The files written.
    """
    from ...io import write
    from ...optical import transition_frames

    out = Path(output)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    meta = phantom.video.metadata
    files = {"video": out / "video.tif", "labels": out / "truth" / "labels.tif",
             "stages": out / "truth" / "stages.tif", "particles": out / "truth" / "particles.csv",
             "config": out / "phantom.json"}
    write(phantom.video, files["video"])
    write(_labels_stack(phantom.labels, meta), files["labels"])
    write(_stages_stack(phantom.stages, meta), files["stages"])
    ids = np.array([p["id"] for p in phantom.particles])
    t2, t1 = (transition_frames(phantom.stages, phantom.labels.astype(np.int64), ids, s) for s in ("II", "I"))
    rows = [{**p, "transition_II_frame": t2[i], "transition_I_frame": t1[i]} for i, p in enumerate(phantom.particles)]
    write_csv_file(files["particles"], rows)
    write_json_file(files["config"], {**phantom.config, "versions": versions()})
    return files
