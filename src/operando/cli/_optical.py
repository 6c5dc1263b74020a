"""``operando optical ...``: analyze, score, phantom, demo (``operando benchmark optical`` is in ``_benchmark``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._errors import InputError
from ._common import (
    AxesOption,
    OutputDirOption,
    SeedOption,
    TimeBudgetOption,
    cli_errors,
    console,
    file_target,
    guard,
    output_folder,
    print_rows,
    progress_bar,
)

app = typer.Typer(help="Optical microscopy of graphite: segment particles, classify stages by colour, count.",
                  no_args_is_help=True)

#: Smallest phantom frame, pixels per side (operando.optical.MIN_PHANTOM_SIZE; kept here so --help loads fast).
MIN_PHANTOM_SIZE = 32

# Options with their ranges (typer refuses a value outside them in one line; the library checks them again).
SizeOption = Annotated[int, typer.Option(min=MIN_PHANTOM_SIZE, max=8192, help=f"Frame size, pixels "
                                         f"({MIN_PHANTOM_SIZE} to 8192).")]
ParticlesOption = Annotated[int, typer.Option(min=1, max=10_000, help="Particles (1 to 10000).")]
FramesOption = Annotated[int, typer.Option(min=2, max=100_000, help="Frames (2 to 100000).")]
DENOISE_HELP = ("none, auto (chosen from the measured noise; the choice and its reason go to analysis.json), video "
                "(the video denoiser over R, G, B jointly), or another method of 'operando denoise' (gaussian, "
                "median, ...).")


def _frames_list(text: Optional[str]) -> Optional[list[int]]:
    """Parse '10,20,30' into frame indices."""
    if not text:
        return None
    try:
        return [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise InputError(f"--frames-of-interest {text!r} is not a list of frame numbers; give e.g. 10,20,30") from None


def _stages_json(path: Optional[Path]) -> Optional[dict]:
    """Read a stages.json of stage colours."""
    if path is None:
        return None
    example = '{"III": [40, 70, 160], "II": [180, 30, 30], "I": [220, 170, 30]}'
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: --stages is not a JSON text file ({type(exc).__name__}); give e.g. "
                         f"{example}") from None
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path}: expected an object of stage colours such as {example}")
    return data


@app.command()
@cli_errors
def analyze(
    video: Annotated[Path, typer.Argument(help="Colour video: TIFF (TYXC), MP4/AVI/MOV, or a folder of frames.")],
    output: OutputDirOption,
    denoise: Annotated[str, typer.Option(help=DENOISE_HELP)] = "none",
    time_budget: TimeBudgetOption = 90.0,
    stages: Annotated[Optional[Path], typer.Option(help="stages.json of stage colours (default: learned from the "
                                                   "video).")] = None,
    frames_of_interest: Annotated[Optional[str], typer.Option(help="Frames of the c-bar histograms and density "
                                                              "plots, e.g. 10,20,30.")] = None,
    reference_frame: Annotated[int, typer.Option(min=0, help="A frame where all particles are one stage "
                                                 "(pristine); 0 to the last frame.")] = 0,
    channel: Annotated[str, typer.Option(help="Foreground channel: auto, chroma, lightness, saturation.")] = "auto",
    threshold: Annotated[str, typer.Option(help="otsu, multiotsu or gmm.")] = "otsu",
    min_area: Annotated[int, typer.Option(min=1, help="Smallest particle, pixels (>= 1).")] = 20,
    restore_colour: Annotated[bool, typer.Option(help="After denoising, take the local colours back from the "
                                                 "measured frames under the denoised edges (guided filter).")] = True,
    stage_covariance: Annotated[str, typer.Option(help="Stage colour model: tied (one spread for all stages) or "
                                                  "full (one each).")] = "tied",
    video_format: Annotated[str, typer.Option("--format", help="Format of the denoised video: tif, or mp4 "
                                              "(lossy, for sharing).")] = "tif",
    seed: SeedOption = 0,
    axes: AxesOption = None,
) -> None:
    """Segment, track and stage graphite particles; write labels.tif, stages.tif, particles.csv, figures, report."""
    from .._files import Target
    from ..denoise import check_method
    from ..io import read
    from ..optical import check_colour_video
    from ..workflows.optical import (
        DENOISE_CHOICES,
        OpticalConfig,
        analyze_video,
        check_video_settings,
        write_analysis,
    )

    if video_format not in ("tif", "mp4"):
        raise InputError(f"--format {video_format!r}: choose tif or mp4")
    check_method(denoise, "--denoise", allow=DENOISE_CHOICES)
    guard(Target(output, "-o", kind="folder"), inputs=[video, stages])  # before any input is read
    stage_colours, frames = _stages_json(stages), _frames_list(frames_of_interest)
    try:
        cfg = OpticalConfig(denoise=denoise, time_budget_s=time_budget, stages=stage_colours,
                            frames_of_interest=frames, reference_frame=reference_frame,
                            channel=channel, threshold_method=threshold, min_area_px=min_area, seed=seed,
                            restore_colour=restore_colour, stage_covariance=stage_covariance)
    except ValueError as exc:  # pydantic's first complaint, on one line
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": ["option"], "msg": str(exc)}
        name = {"threshold_method": "threshold", "min_area_px": "min-area", "time_budget_s": "time-budget"}.get(
            str(first["loc"][0]), str(first["loc"][0]).replace("_", "-"))
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InputError(f"--{name}: {message} (got {first.get('input')!r})") from None
    stack = read(video, axes=axes)  # read and checked before the output folder is emptied of an earlier run
    check_colour_video(stack)  # grayscale, one frame, no colour, one colour: refused before the work starts
    check_video_settings(cfg, stack.size("T"), (stack.size("Y"), stack.size("X")))
    with output_folder(output, inputs=[video, stages]):
        with progress_bar("optical") as update:
            result = analyze_video(stack, config=cfg, progress=update)
        files = write_analysis(result, output, source=stack, video_format=video_format)  # type: ignore[arg-type]
    console.print(f"wrote {output}: {result.table.ids.size} particles in {result.labels.shape[0]} frames "
                  f"(labels.tif, stages.tif, particles.csv, {len(files) - 6} more); report {files['report']}")


def _score_inputs(folder: Path, truth: Path) -> list[Path]:
    """Return what ``optical score`` must never overwrite: both folders' files, and the truth folder as a whole.

    The analysis folder is not an input as a whole (the scores go to FOLDER/score.json by default), but every
    file in it other than an earlier score.json is: the analysis's own record, tables and figures are kept.
    """
    files = [p / name for p in (folder, truth) for name in ("labels.tif", "stages.tif")]
    if folder.is_dir():
        files += [p for p in folder.iterdir() if p.is_file() and p.name != "score.json"]
    same = folder.resolve() == truth.resolve()
    return files if same or not truth.is_dir() else [*files, truth]


@app.command()
@cli_errors
def score(
    folder: Annotated[Path, typer.Argument(help="An analysis folder (labels.tif, stages.tif).")],
    truth: Annotated[Path, typer.Option(help="Annotation folder with labels.tif and stages.tif.")],
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the scores here (default: "
                                                      "FOLDER/score.json).")] = None,
) -> None:
    """Score an analysis against annotation: instance F1 at IoU > 0.5, stage accuracy and confusion."""
    from .._files import write_json_file
    from .._provenance import versions
    from ..bench.optical import score_analysis

    path = json_path or folder / "score.json"
    guard(file_target(path, "--json", (".json",)), inputs=_score_inputs(folder, truth))
    result = score_analysis(folder, truth)
    row = {**result["instance"], "stage_accuracy": result["stage_accuracy_in_true_particles"],
           "t_II_err": result["transition_error"]["II"]["median_abs_error_frames"],
           "t_I_err": result["transition_error"]["I"]["median_abs_error_frames"]}
    print_rows([row], f"{folder} against {truth}")
    write_json_file(path, {**result, "versions": versions()})
    console.print(f"wrote {path} (confusion matrix rows = truth, columns = analysis, classes "
                  f"{result['stage_classes']})")


@app.command()
@cli_errors
def phantom(
    output: OutputDirOption,
    size: SizeOption = 384,
    particles: ParticlesOption = 200,
    frames: FramesOption = 40,
    seed: SeedOption = 0,
) -> None:
    """Write a synthetic graphite video (video.tif) and its truth (truth/labels.tif, truth/stages.tif)."""
    from ..optical import simulate_graphite_phantom
    from ..workflows.optical import write_phantom

    with output_folder(output, inputs=[]):
        with progress_bar("rendering the phantom") as update:
            ph = simulate_graphite_phantom(shape=(size, size), n_particles=particles, n_frames=frames, rng=seed,
                                           progress=update)
        files = write_phantom(ph, output)
    console.print(f"wrote {files['video']} ({ph.config['placed']} particles, {frames} frames, seed {seed}) and "
                  f"{output / 'truth'}")


@app.command()
@cli_errors
def demo(
    output: OutputDirOption = Path("operando-optical-demo"),
    denoise: Annotated[str, typer.Option(help="none, auto or a denoising method (video: ~1 min more).")] = "none",
    time_budget: TimeBudgetOption = 60.0,
    quick: Annotated[bool, typer.Option(help="A tiny phantom (seconds).")] = False,
    seed: SeedOption = 0,
) -> None:
    """Phantom -> analysis -> score, with a report: the whole optical workflow on built-in data."""
    from ..bench.optical import run_optical_demo
    from ..denoise import check_method
    from ..workflows.optical import DENOISE_CHOICES

    check_method(denoise, "--denoise", allow=DENOISE_CHOICES)
    with output_folder(output, inputs=[]), progress_bar("optical demo") as update:
        result = run_optical_demo(output, denoise=denoise, time_budget_s=time_budget, seed=seed, quick=quick,
                                  progress=update)
    print_rows([{**result["instance"], "stage_accuracy": result["stage_accuracy_in_true_particles"]}],
               "analysis against the phantom's truth")
    console.print(f"report: {result['report']}")

