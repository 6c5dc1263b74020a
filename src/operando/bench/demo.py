"""``operando demo``: simulate, corrupt, denoise, measure, learn the physics back, and write a report."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .._files import write_json_file
from .._progress import Progress, emit, sub_progress
from .._provenance import versions

logger = logging.getLogger(__name__)

PHYSICS_COLUMNS = ["data", "mu_h_rel_l2", "mobility_rel_l2", "D_rel_l2", "status", "stop_reason", "seconds"]


class DemoConfig(BaseModel):
    """Settings of the demo run (saved as ``config.json`` in the report folder)."""

    model_config = ConfigDict(extra="forbid")
    version: int = 2
    size: int = Field(96, ge=16, description="grid points per side")
    n_frames: int = Field(60, ge=8, description="frames simulated")
    t_end: float = Field(0.2, gt=0)
    d_slope: float = Field(
        0.5, description="truth ln D = d_slope (2c - 1), as in the physics benchmark: nonzero, so the truth "
        "differs from the fit's starting guess (ln D = 0) and a fit that does not move shows as an error")
    noise: str = "gaussian:0.1"
    method: str = "auto"
    time_budget_s: float = Field(90.0, gt=0, description="training budget of a neural denoiser")
    learn: bool = True
    learn_time_budget_s: float | None = Field(
        60.0, gt=0, description="wall-clock budget of the three physics fits together (None: each fit stops on "
        "convergence or after its iteration limit, so the result does not depend on the machine's load)")
    seed: int = 0

    @classmethod
    def quick(cls, **changes: object) -> DemoConfig:
        """Return a tiny configuration that runs in well under a minute (used by the tests)."""
        return cls(**{"size": 32, "n_frames": 16, "time_budget_s": 10.0, "learn_time_budget_s": None, **changes})


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its report and what it measured."""

    folder: Path
    report: Path
    rows: tuple[dict[str, object], ...]
    method: str
    physics: dict[str, object] | None


def best_available_method() -> str:
    """Return the denoiser the demo uses by default: the video denoiser when torch is importable, else the baseline."""
    import importlib.util

    return "video" if importlib.util.find_spec("torch") is not None else "gaussian"


def run_demo(
    folder: str | Path = "operando-demo",
    *,
    config: DemoConfig | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Run the whole operando pipeline on built-in simulated data and write a report folder.

    Parameters
    ----------
    folder : path
        Output folder (created); holds ``report.md``, ``report.html``, PNG figures, TIFF videos,
        ``metrics.json`` and ``config.json``.
    config : DemoConfig, optional
        Settings; defaults run in a few minutes on 2 CPU cores.
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent` objects; raising :class:`~operando.Cancelled` from it stops the
        demo within a training step or a solver iteration, before the report folder's files are written.

    Returns
    -------
    DemoResult
        The report's path, the denoising rows and the physics rows (each fit with its ``status``).
    """
    from .. import io, metrics, noise
    from ..denoise import denoise
    from ..inverse import regular_solution_truth
    from ..simulate import simulate_regular_solution

    cfg = config or DemoConfig()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    emit(progress, 0.0, "simulating Cahn-Hilliard video")
    t0 = time.perf_counter()
    clean = simulate_regular_solution(size=cfg.size, n_frames=cfg.n_frames, t_end=cfg.t_end, d_slope=cfg.d_slope,
                                      rng=cfg.seed)
    truth = regular_solution_truth(3.0, cfg.d_slope)
    timings["simulate_s"] = time.perf_counter() - t0

    emit(progress, 0.1, f"adding noise {cfg.noise}")
    noisy = noise.corrupt(clean, cfg.noise, rng=cfg.seed + 1)

    method = best_available_method() if cfg.method == "auto" else cfg.method
    emit(progress, 0.15, f"denoising with {method}")
    t0 = time.perf_counter()
    denoised = denoise(noisy, method=method, time_budget_s=cfg.time_budget_s, rng=cfg.seed,
                       progress=sub_progress(progress, 0.15, 0.65))
    timings["denoise_s"] = time.perf_counter() - t0

    emit(progress, 0.65, "measuring")
    evals = metrics.evaluate(clean, {"noisy": noisy, method: denoised}, data_range=1.0)
    rows = tuple({**e.to_dict(), "seconds": timings["denoise_s"] if e.name == method else 0.0} for e in evals)

    physics = None
    if cfg.learn:
        emit(progress, 0.7, "learning mu_h(c) and D(c) back from the videos")
        physics = _learn_physics(clean, noisy, denoised, truth, cfg, out, sub_progress(progress, 0.7, 0.9))

    emit(progress, 0.9, "writing report")
    for name, stack in (("clean", clean), ("noisy", noisy), ("denoised", denoised)):
        io.write(stack, out / f"{name}.tif")
    report_path = _write_report(out, cfg, method, clean, {"noisy": noisy, method: denoised}, evals, rows, physics)
    write_json_file(out / "metrics.json", {"denoising": list(rows), "physics": physics, "timings": timings,
                                           "config": cfg.model_dump(), "seed": cfg.seed, "versions": versions()})
    write_json_file(out / "config.json", cfg.model_dump())
    emit(progress, 1.0, "done")
    return DemoResult(folder=out, report=report_path, rows=rows, method=method, physics=physics)


def _write_report(out: Path, cfg: DemoConfig, method: str, clean, others: dict, evals, rows, physics) -> Path:
    """Write the figures and report.md/report.html of the demo; return the Markdown path."""
    from .. import report

    videos = {"clean": clean.to_numpy(), **{name: stack.to_numpy() for name, stack in others.items()}}
    picks = sorted({int(round(x)) for x in np.linspace(0, cfg.n_frames - 1, 4)})
    report.plot_frames_side_by_side(videos, out / "frames.png", frames=picks, vmin=0, vmax=1,
                                    times=clean.metadata.frame_times)
    report.plot_psnr_per_frame({e.name: e.psnr_frames_db for e in evals}, out / "psnr_per_frame.png")
    rep = report.Report("operando demo: simulate, corrupt, denoise, measure, learn")
    rep.text(
        f"A {cfg.size} x {cfg.size} x {cfg.n_frames} Cahn-Hilliard video (regular solution, Omega = 3, "
        f"ln D = {cfg.d_slope:g} (2c - 1), M = D c(1-c), kappa = 0.002) was corrupted with {cfg.noise} noise "
        f"(seed {cfg.seed}) and denoised with `{method}` trained on the noisy video only. Data range 1 for PSNR "
        "and SSIM."
    )
    rep.heading("Denoising quality")
    rep.table(list(rows), ["name", "psnr_db", "ssim", "bias", "max_conditional_bias", "max_mass_drift",
                           "variability", "seconds"])
    rep.figure("frames.png", "Clean, noisy and denoised frames")
    rep.figure("psnr_per_frame.png", "PSNR per frame")
    if physics is not None:
        rep.heading("Physics learned back from the videos")
        rep.text("Relative L2 errors of the learned mu_h(c) (gauge-fixed at c = 0.5) and mobility M(c) against "
                 "the truth, over c in [0.1, 0.9]. The fit starts from a_1 = -2 and D = 1, away from the truth. "
                 "'status' says how each fit ended: 'converged'; 'did_not_move' (still at its starting guess: "
                 "its errors are those of the guess and say nothing about the data); 'not_converged' (stopped "
                 "by the iteration limit or the time budget). 'stop_reason' is the solver's own reason.")
        rep.table(physics["rows"], PHYSICS_COLUMNS)
        rep.figure("physics.png", "Learned mu_h(c) and D(c) against the truth")
    return rep.write(out)


def _learn_physics(clean, noisy, denoised, truth, cfg: DemoConfig, out: Path,
                   progress: Progress | None = None) -> dict[str, object]:
    """Learn mu_h and D from each video, compare them with the truth and plot them."""
    from ..inverse import InversionConfig, compare_learned, learn_physics
    from ..report import plot_learned

    budget = None if cfg.learn_time_budget_s is None else cfg.learn_time_budget_s / 3
    fit = InversionConfig(n_mu=2, n_d=2, window=2, stride=3, bootstrap=0, time_budget_s=budget)
    videos = (("clean", clean), ("noisy", noisy), ("denoised", denoised))
    results = {name: learn_physics(video, fit, rng=cfg.seed, progress=sub_progress(progress, k / 3, (k + 1) / 3,
                                                                                    f"{name}: "))
               for k, (name, video) in enumerate(videos)}
    plot_learned(results, out / "physics.png", truth)
    return {"rows": compare_learned(results, truth), "config": fit.model_dump()}
