"""``operando simulate`` and ``operando learn``: physics forward and back.

``--model ch`` (the default) is the periodic Cahn-Hilliard(-reaction) box of the simulated benchmark; ``--model acr``
and ``--model chr`` are reaction-driven bounded particles (Allen-Cahn- or Cahn-Hilliard-reaction), whose laws
``learn`` takes back from a composition video such as ``operando stxm composition`` writes (docs/physics.md).
"""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._errors import InputError
from ._common import (
    FIGURE_SUFFIXES,
    AxesOption,
    SeedOption,
    above_zero,
    cli_errors,
    console,
    data_target,
    file_target,
    guard,
    output_folder,
    progress_bar,
)
from ._core import app


class Model(StrEnum):
    """The physics a command simulates or learns."""

    ch = "ch"
    acr = "acr"
    chr = "chr"


ModelOption = Annotated[Model, typer.Option(help="ch: periodic Cahn-Hilliard box (-o a file); acr / chr: "
                                            "reaction-driven particles, Allen-Cahn- / Cahn-Hilliard-reaction "
                                            "(-o a folder).")]
FrameIntervalOption = Annotated[Optional[float], typer.Option(
    help="Time between frames, > 0 (default: the file's frame times).", callback=above_zero)]


@app.command()
@cli_errors
def simulate(
    output: Annotated[Path, typer.Option("--output", "-o", help="ch: the video file; acr / chr: a folder "
                                         "(clean.tif, noisy.tif, k.tif, labels.tif, truth.json).")],
    model: ModelOption = Model.ch,
    frames: Annotated[Optional[int], typer.Option(help="Frames saved (>= 2; default 100, acr / chr 40).",
                                                  min=2)] = None,
    size: Annotated[Optional[int], typer.Option(help="Grid points per side (default 128; acr / chr 96, >= 48).",
                                                min=8)] = None,
    t_end: Annotated[float, typer.Option(help="ch: time of the last frame (dimensionless, > 0).",
                                         callback=above_zero)] = 0.2,
    dt: Annotated[float, typer.Option(help="ch: largest time step (> 0).", callback=above_zero)] = 2e-5,
    omega: Annotated[Optional[float], typer.Option(help="Regular-solution Omega, kT (> 2 separates; default 3, "
                                                   "acr / chr 4.5).")] = None,
    kappa: Annotated[Optional[float], typer.Option(help="Gradient-energy coefficient (> 0; default 0.002, acr / "
                                                   "chr 1.5 kT px^2).", callback=above_zero)] = None,
    current: Annotated[Optional[float], typer.Option(help="ch: Butler-Volmer insertion at this constant "
                                                     "rate.")] = None,
    particles: Annotated[int, typer.Option(help="acr / chr: particles (1 to 16).", min=1, max=16)] = 4,
    delithiation: Annotated[bool, typer.Option(help="acr / chr: from c = 0.95 down to 0.05 (default: "
                                               "lithiation, up).")] = False,
    symmetric_j0: Annotated[bool, typer.Option(help="acr / chr: j0 = sqrt(c (1 - c)) instead of sqrt(c) "
                                               "(1 - c).")] = False,
    noise_sd: Annotated[float, typer.Option(help="acr / chr: Gaussian noise sd of noisy.tif (>= 0).", min=0)] = 0.05,
    scanline: Annotated[float, typer.Option(help="acr / chr: sd of per-row offsets added to noisy.tif (>= 0).",
                                            min=0)] = 0.0,
    seed: SeedOption = 0,
) -> None:
    """Simulate a periodic Cahn-Hilliard(-reaction) video, or a phantom of reaction-driven particles."""
    for name, value in (("--omega", omega), ("--current", current)):
        if value is not None and not math.isfinite(value):
            raise InputError(f"{name} {value}: must be a finite number")
    if model is not Model.ch:
        _simulate_particles(output, model, frames=frames or 40, size=size or 96, omega=omega, kappa=kappa,
                            particles=particles, delithiation=delithiation, symmetric_j0=symmetric_j0,
                            noise_sd=noise_sd, scanline=scanline, seed=seed)
        return
    from ..io import write
    from ..simulate import simulate_cahn_hilliard

    guard(data_target(output), inputs=[])
    size = size or 128
    with console.status("simulating"):
        stack = simulate_cahn_hilliard(size=size, n_frames=frames or 100, t_end=t_end, dt=dt,
                                       omega=3.0 if omega is None else omega, kappa=kappa or 0.002, current=current,
                                       rng=seed)
    write(stack, output)
    data = stack.to_numpy()
    console.print(f"wrote {output}: {data.shape[0]} frames of {size}x{size}, "
                  f"std(c) {data[0].std():.3f} -> {data[-1].std():.3f}, mean {data.mean():.4f}")


def _simulate_particles(output: Path, model: Model, *, frames: int, size: int, omega: float | None,
                        kappa: float | None, particles: int, delithiation: bool, symmetric_j0: bool,
                        noise_sd: float, scanline: float, seed: int) -> None:
    from ..bench.kinetics import write_kinetics_phantom
    from ..simulate import KineticsPhantomConfig, simulate_kinetics

    ends = {"c_start": 0.95, "c_end": 0.05} if delithiation else {}
    settings = {k: v for k, v in (("omega", omega), ("kappa", kappa)) if v is not None}
    config = KineticsPhantomConfig(model=model.value, size=size, frames=frames, particles=particles,
                                   symmetric_j0=symmetric_j0, seed=seed, **({"mobility": 0.5} if model is Model.chr
                                                                           else {}), **ends, **settings)
    with output_folder(output), console.status("simulating the particles"):
        phantom = simulate_kinetics(config)
        write_kinetics_phantom(output, phantom, noise_sd=noise_sd, scanline=scanline, rng=seed + 1)
    console.print(f"wrote {output}: {frames} frames of {size}x{size}, {int(phantom.labels.max())} particles, "
                  f"frame interval {phantom.frame_interval:.4g} (1/k0); noisy.tif with sd {noise_sd:g}")


@app.command()
@cli_errors
def learn(
    input: Annotated[Path, typer.Argument(help="ch: concentration video in (0, 1), TYX, square frames; acr / chr: "
                                          "a Li-fraction video (NaN outside the particles) or the TCYX output of "
                                          "'stxm composition'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="ch: result JSON (.json); acr / chr: a folder "
                                         "(kinetics.json, k.tif, figures, report.md).")],
    model: ModelOption = Model.ch,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of windows (0: the Gauss-Newton band).",
                                           min=0)] = 0,
    window: Annotated[Optional[int], typer.Option(help="Frames predicted from each starting frame (>= 1; "
                                                 "default 3, acr / chr 2).", min=1)] = None,
    fit_initial_states: Annotated[Optional[int], typer.Option(
        help="Errors-in-variables: ch: rounds that also fit each window's starting frame (default 0); acr / chr: "
             "iterations of the joint fit of the laws with every window's starting state (default 20 when the "
             "noise sd is known).", min=0)] = None,
    n_mu: Annotated[Optional[int], typer.Option(help="Legendre terms of the excess mu_h (>= 1; default 4, "
                                                "acr / chr 5).", min=1)] = None,
    n_d: Annotated[int, typer.Option(help="Legendre terms of ln D (>= 1; ch and chr).", min=1)] = 2,
    kappa: Annotated[Optional[float], typer.Option(help="Gradient-energy coefficient (> 0): ch its known value "
                                                   "(default 0.002); acr / chr the fit's start (default 1 kT px^2).",
                                                   callback=above_zero)] = None,
    fit_kappa: Annotated[Optional[bool], typer.Option(help="Fit kappa too (default: ch no, acr / chr yes).")] = None,
    dx: Annotated[Optional[float], typer.Option(help="ch: grid spacing, > 0 (default: the file's pixel size).",
                                                callback=above_zero)] = None,
    frame_interval: FrameIntervalOption = None,
    smoothness: Annotated[float, typer.Option(help="ch: weight of the n(n+1) smoothness penalty (>= 0).",
                                              min=0)] = 0.0,
    labels: Annotated[Optional[Path], typer.Option(help="acr / chr: particle labels image (0 outside; default: "
                                                   "the connected regions finite in every frame).")] = None,
    noise_sd: Annotated[Optional[float], typer.Option(help="acr / chr: the video's noise sd (default: the sd(x) "
                                                      "channel, else measured from the video).",
                                                      callback=above_zero)] = None,
    k_modes: Annotated[Optional[int], typer.Option(help="acr / chr: rate-map modes per particle (default area / "
                                                   "8, 3 to 80).", min=1, max=400)] = None,
    time_budget: Annotated[Optional[float], typer.Option("--time-budget", help="Seconds (> 0).",
                                                         callback=above_zero)] = None,
    plot: Annotated[Optional[Path], typer.Option(help="ch: also write a figure of the learned curves (.png, .pdf, "
                                                 ".svg, .jpg).")] = None,
    seed: SeedOption = 0,
    axes: AxesOption = None,
) -> None:
    """Learn mu_h(c) and D(c) (ch), or mu_h(c), j0(c), kappa and the rate map k(x) (acr / chr), with bands."""
    if model is not Model.ch:
        _learn_kinetics(input, output, model, bootstrap=bootstrap, window=window, rounds=fit_initial_states,
                        n_mu=n_mu, n_d=n_d, kappa=kappa, fit_kappa=fit_kappa, frame_interval=frame_interval,
                        labels=labels, noise_sd=noise_sd, k_modes=k_modes, time_budget=time_budget, seed=seed,
                        axes=axes)
        return
    from ..inverse import InversionConfig, learn_physics
    from ..io import read
    from ..report import plot_learned

    guard(file_target(output, "-o", (".json",)), file_target(plot, "--plot", FIGURE_SUFFIXES), inputs=[input])
    config = InversionConfig.from_keywords(
        bootstrap=bootstrap, window=window or 3, fit_initial_states=fit_initial_states or 0, n_mu=n_mu or 4,
        n_d=n_d, kappa=kappa or 0.002, fit_kappa=bool(fit_kappa), dx=dx, frame_interval=frame_interval,
        smoothness=smoothness, time_budget_s=time_budget)
    stack = read(input, axes=axes)
    _check_evolves(stack, input)
    with progress_bar("learning") as update:
        result = learn_physics(stack, config, rng=seed, progress=update)
    result.save_json(output)
    if plot is not None:
        plot_learned({input.name: result}, plot)
    a = ", ".join(f"{v:.4g}" for v in result.a)
    b = ", ".join(f"{v:.4g}" for v in result.b)
    console.print(f"wrote {output}: a = [{a}], b = [{b}], fit {result.status} ({result.settings['stop_reason']}, "
                  f"{result.iterations} LM iterations), {len(result.bootstrap)} bootstrap samples, "
                  f"{result.seconds:.0f} s")


def _learn_kinetics(input: Path, output: Path, model: Model, *, bootstrap: int, window: int | None,
                    rounds: int | None, n_mu: int | None, n_d: int, kappa: float | None, fit_kappa: bool | None,
                    frame_interval: float | None, labels: Path | None, noise_sd: float | None, k_modes: int | None,
                    time_budget: float | None, seed: int, axes: str | None) -> None:
    from ..inverse import KineticsConfig
    from ..io import read
    from ..workflows.kinetics import run_kinetics, write_kinetics

    settings: dict[str, Any] = {k: v for k, v in (
        ("window", window), ("fit_initial_states", rounds), ("n_mu", n_mu), ("kappa", kappa),
        ("fit_kappa", fit_kappa), ("k_modes", k_modes), ("time_budget_s", time_budget),
        ("frame_interval", frame_interval)) if v is not None}
    config = KineticsConfig(model=model.value, bootstrap=bootstrap, n_d=n_d, **settings)
    with output_folder(output, inputs=[input, labels]):
        stack = read(input, axes=axes, allow_nan=True)  # NaN marks what is outside the particles
        label_image = None if labels is None else read(labels).to_numpy().astype(int)
        with progress_bar("learning the kinetics") as update:
            run = run_kinetics(stack, config, labels=label_image, noise_sd=noise_sd, rng=seed, progress=update)
        write_kinetics(run, output, inputs=[str(input)])
    r = run.result
    console.print(f"wrote {output}: fit {r.status} ({r.reason}), kappa {r.kappa:.4g} kT px^2, residual/sigma "
                  f"{r.residual_over_sigma:.3g}, {r.settings['particles']} particles, {r.settings['seconds']:.0f} s")


def _check_evolves(stack: Any, source: Path) -> None:
    """Refuse a video in which nothing changes (the library's fit would only report that it did not move)."""
    import numpy as np

    data = np.asarray(stack.data)
    if data.size and np.isfinite(data).all() and np.ptp(data) == 0:
        raise InputError(f"{source}: the video is constant (every pixel {data.flat[0]:.4g}): there is no pattern or "
                         "change to learn mu_h and D from; give a video in which the concentration evolves")
    if "T" in stack.axes and stack.size("T") > 1:
        frames = np.moveaxis(data, stack.axes.index("T"), 0)
        if np.all(frames == frames[:1]):
            raise InputError(f"{source}: every frame is the same image: nothing evolves, so mu_h and D cannot be "
                             "learned; give a video in which the concentration changes between frames")
