"""Correlated-noise benchmarks: ``operando benchmark correlated`` and ``operando benchmark real``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .._errors import InputError
from ._common import (
    OutputDirOption,
    SeedOption,
    TimeBudgetOption,
    cli_errors,
    console,
    output_folder,
    print_rows,
    progress_bar,
)
from ._core import _check_noises, benchmark_app

MaxStepsOption = Annotated[Optional[int], typer.Option(
    "--max-steps", help="Stop every network after this many steps, >= 1 (equal steps, not equal time, on a shared "
    "CPU).", min=1)]


@benchmark_app.command("correlated")
@cli_errors
def benchmark_correlated_cmd(
    output: OutputDirOption = Path("benchmark-correlated"),
    scene: Annotated[Optional[list[str]], typer.Option(help="camera, cahn_hilliard (repeat; default both).")] = None,
    noise: Annotated[Optional[list[str]], typer.Option(help=(
        "Noise cases (repeat; default: white, PSF-blurred 0.2/0.4/0.6, scintillator, scan-line, scan-line plus "
        "jitter). A case joins with '+' the models gaussian:SIGMA, poisson:PEAK, impulse:FRACTION, "
        "mixed:PEAK,SIGMA[,IMPULSE], scanline:OFFSET[,GAIN[,PIXEL[,CORR]]], fixed:SIGMA[,GAIN], "
        "correlated:SIGMA[,RHO], scintillator:PEAK[,RHO] and jitter:PX[,CORR] (STXM positioning jitter: each "
        "row shifted along X by an AR(1) amount of SD PX pixels, row-to-row correlation CORR, default 0.8), "
        "e.g. 'jitter:0.3+scanline:0.05'."))] = None,
    method: Annotated[Optional[list[str]], typer.Option(help="Methods (repeat; default: auto, n2v2, "
                                                          "pixel_shuffle, video, gaussian, bm3d, bm3d_true).")] = None,
    size: Annotated[int, typer.Option(help="Side of the natural image, pixels (>= 64).", min=64)] = 256,
    video_size: Annotated[int, typer.Option(help="Side of the Cahn-Hilliard video, pixels (>= 64).", min=64)] = 128,
    frames: Annotated[int, typer.Option(help="Frames of the Cahn-Hilliard video (>= 5).", min=5)] = 50,
    time_budget: TimeBudgetOption = 300.0,
    max_steps: MaxStepsOption = None,
    seed: SeedOption = 0,
) -> None:
    """Every denoiser on correlated noise with ground truth: PSNR, SSIM and the no-clean-data residual check."""
    from ..workflows.correlated_benchmark import (
        DEFAULT_METHODS,
        DEFAULT_NOISES,
        SCENES,
        benchmark_correlated,
    )

    _check_noises(noise)
    with output_folder(output), progress_bar("correlated benchmark") as update:
        rows = benchmark_correlated(output, scenes=scene or SCENES, noises=noise or DEFAULT_NOISES,
                                    methods=method or DEFAULT_METHODS, size=size, video_size=video_size,
                                    n_frames=frames, time_budget_s=time_budget, max_steps=max_steps, seed=seed,
                                    progress=update)
    keys = ("scene", "noise", "method", "psnr_db", "ssim", "residual_passed", "seconds", "chosen")
    print_rows([{k: r.as_dict()[k] for k in keys} for r in rows], "correlated-noise benchmark (data range 1)")
    console.print(f"report: {output / 'report.md'}")


@benchmark_app.command("real")
@cli_errors
def benchmark_real_cmd(
    output: OutputDirOption = Path("benchmark-real"),
    data: Annotated[Path, typer.Option(help="The neutron step-wedge folder (5 s and 120 s exposures).")] = Path(
        "../shared/data/neutron/stepwedge"),
    method: Annotated[Optional[list[str]], typer.Option(help="Methods (repeat; default: auto, n2v2, "
                                                          "pixel_shuffle, gaussian, bm3d).")] = None,
    crop: Annotated[int, typer.Option(help="Side of the central square scored (0: the whole lit field; else "
                                           ">= 64).", min=0)] = 512,
    time_budget: TimeBudgetOption = 300.0,
    max_steps: MaxStepsOption = None,
    seed: SeedOption = 0,
) -> None:
    """Denoise the 5 s step-wedge radiograph; every method's MSE against the 120 s exposure of the same scene."""
    from ..workflows.real_benchmark import DEFAULT_METHODS, benchmark_real

    if 0 < crop < 64:
        raise InputError(f"--crop {crop}: a square of fewer than 64 px is too small to score; pass 0 (the whole lit "
                         "field) or >= 64")
    if not data.is_dir():
        raise InputError(f"{data}: --data must be the neutron step-wedge folder (5 s and 120 s exposures)")
    with output_folder(output, inputs=[data]), progress_bar("real benchmark") as update:
        summary = benchmark_real(output, data_dir=data, methods=method or DEFAULT_METHODS, crop=crop or None,
                                 time_budget_s=time_budget, max_steps=max_steps, seed=seed, progress=update)
    print_rows(summary["rows"], "5 s step wedge against the 120 s reference (transmission MSE)")
    noise = summary["noise"]
    console.print(f"measured noise: neighbour correlation {noise['acf_x'][1]:.2f} (x) / {noise['acf_y'][1]:.2f} "
                  f"(y), correlation length {noise['correlation_length_px']} px; report: {output}")
