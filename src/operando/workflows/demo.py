"""``operando demo``: simulate, corrupt, denoise, measure, learn the physics back, and write a report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .._files import write_json_file

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


class DemoConfig(BaseModel):
    """Settings of the demo run (saved as ``config.json`` in the report folder)."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    size: int = Field(96, ge=16, description="grid points per side")
    n_frames: int = Field(60, ge=8, description="frames simulated")
    t_end: float = Field(0.2, gt=0)
    noise: str = "gaussian:0.1"
    method: str = "auto"
    time_budget_s: float = Field(90.0, gt=0, description="training budget of a neural denoiser")
    learn: bool = True
    learn_time_budget_s: float = Field(60.0, gt=0)
    seed: int = 0

    @classmethod
    def quick(cls, **changes: object) -> DemoConfig:
        """A tiny configuration that runs in well under a minute (used by the tests)."""
        return cls(**{"size": 32, "n_frames": 16, "time_budget_s": 10.0, "learn_time_budget_s": 20.0, **changes})


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its report and what it measured."""

    folder: Path
    report: Path
    rows: tuple[dict[str, object], ...]
    method: str
    physics: dict[str, object] | None


def best_available_method() -> str:
    """The denoiser the demo uses by default: the video denoiser when torch is importable, else the baseline."""
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
        Called as ``progress(fraction_done, message)``.
    """
    from .. import io, metrics, noise, report, simulate
    from ..denoise import denoise

    cfg = config or DemoConfig()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda f, m: None)
    timings: dict[str, float] = {}

    say(0.0, "simulating Cahn-Hilliard video")
    t0 = time.perf_counter()
    clean = simulate.simulate_cahn_hilliard(size=cfg.size, n_frames=cfg.n_frames, t_end=cfg.t_end, rng=cfg.seed)
    timings["simulate_s"] = time.perf_counter() - t0

    say(0.1, f"adding noise {cfg.noise}")
    noisy = noise.corrupt(clean, cfg.noise, rng=cfg.seed + 1)

    method = best_available_method() if cfg.method == "auto" else cfg.method
    say(0.15, f"denoising with {method}")
    t0 = time.perf_counter()
    denoised = denoise(
        noisy, method=method, time_budget_s=cfg.time_budget_s, rng=cfg.seed,
        progress=(lambda f, m: say(0.15 + 0.5 * f, m)),
    )
    timings["denoise_s"] = time.perf_counter() - t0

    say(0.65, "measuring")
    evals = metrics.evaluate(clean, {"noisy": noisy, method: denoised}, data_range=1.0)
    rows = tuple({**e.to_dict(), "seconds": timings["denoise_s"] if e.name == method else 0.0} for e in evals)

    physics = None
    if cfg.learn:
        say(0.7, "learning mu_h(c) and D(c) back from the videos")
        physics = _learn_physics(clean, noisy, denoised, cfg, out)

    say(0.9, "writing report")
    for name, stack in (("clean", clean), ("noisy", noisy), ("denoised", denoised)):
        io.write(stack, out / f"{name}.tif")
    videos = {"clean": clean.to_numpy(), "noisy": noisy.to_numpy(), method: denoised.to_numpy()}
    picks = sorted({int(round(x)) for x in np.linspace(0, cfg.n_frames - 1, 4)})
    report.plot_frames_side_by_side(videos, out / "frames.png", frames=picks, vmin=0, vmax=1,
                                    times=clean.metadata.frame_times)
    report.plot_psnr_per_frame({e.name: e.psnr_frames_db for e in evals}, out / "psnr_per_frame.png")
    rep = report.Report("operando demo: simulate, corrupt, denoise, measure, learn")
    rep.text(
        f"A {cfg.size} x {cfg.size} x {cfg.n_frames} Cahn-Hilliard video (regular solution, Omega = 3, "
        f"M = c(1-c), kappa = 0.002) was corrupted with {cfg.noise} noise (seed {cfg.seed}) and denoised "
        f"with `{method}` trained on the noisy video only. Data range 1 for PSNR and SSIM."
    )
    rep.heading("Denoising quality")
    rep.table(list(rows), ["name", "psnr_db", "ssim", "bias", "max_conditional_bias", "max_mass_drift",
                           "variability", "seconds"])
    rep.figure("frames.png", "Clean, noisy and denoised frames")
    rep.figure("psnr_per_frame.png", "PSNR per frame")
    if physics is not None:
        rep.heading("Physics learned back from the videos")
        rep.text("Relative L2 errors of the learned mu_h(c) (gauge-fixed at c = 0.5) and mobility M(c) against "
                 "the truth, over c in [0.1, 0.9]. The fit starts from a_1 = -2 and D = 1; 'fit' says how it "
                 "stopped ('no_progress': no step lowered the cost, so the numbers are the starting guess).")
        rep.table(physics["rows"])
        rep.figure("physics.png", "Learned mu_h(c) and D(c) against the truth")
    report_path = rep.write(out)
    write_json_file(out / "metrics.json", {"denoising": list(rows), "physics": physics, "timings": timings})
    write_json_file(out / "config.json", cfg.model_dump())
    say(1.0, "done")
    return DemoResult(folder=out, report=report_path, rows=rows, method=method, physics=physics)


def _learn_physics(clean, noisy, denoised, cfg: DemoConfig, out: Path) -> dict[str, object] | None:
    """Learn mu_h and D from each video (when the inversion module is available) and plot them."""
    try:
        from ..inverse import compare_learned, learn_physics, plot_learned
    except ImportError:
        logger.info("operando.inverse is not available; skipping the physics step")
        return None
    budget = cfg.learn_time_budget_s / 3
    results = {
        name: learn_physics(video, n_mu=2, n_d=2, window=2, stride=3, bootstrap=0, time_budget_s=budget,
                            rng=cfg.seed)
        for name, video in (("clean", clean), ("noisy", noisy), ("denoised", denoised))
    }
    plot_learned(results, out / "physics.png")
    return {"rows": compare_learned(results)}
