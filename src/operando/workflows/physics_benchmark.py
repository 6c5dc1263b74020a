"""The physics benchmark: learn mu_h and M back from clean, noisy and denoised simulated videos."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from .._files import write_csv_file, write_json_file
from ..inverse import InversionConfig, InversionResult, compare_to_truth, learn_physics, regular_solution_truth
from ..report import plot_learned

logger = logging.getLogger(__name__)


def _slug(name: str) -> str:
    """Return a noise case as part of a file name: 'gaussian:0.05' -> 'gaussian_0.05'."""
    return name.replace(":", "_").replace(",", "_")


def simulate_truth_video(*, size: int = 128, n_frames: int = 50, t_end: float = 0.2, d_slope: float = 0.5,
                         truth_dt: float = 1e-5, seed: int = 0):
    """Simulate the benchmark's clean video and its truth: mu_h = ln(c/(1-c)) + 3 (1 - 2c), ln D = d_slope (2c - 1).

    Simulated with ``truth_dt``, finer than the inversion's step (no inverse crime). With ``d_slope`` != 0 the
    truth differs from every starting guess of the fit (a_1 = -2, ln D = 0).

    Parameters
    ----------
    size : int
        Grid points per side.
    n_frames : int
        Frames, evenly spaced on [0, t_end].
    t_end : float
        Time of the last frame.
    d_slope : float
        Slope of ln D in 2c - 1.
    truth_dt : float
        Largest time step of the simulation.
    seed : int
        Seed of the initial noise.

    Returns
    -------
    (Stack, Truth)
        The clean video and the laws that made it.
    """
    import jax.numpy as jnp

    from .. import simulate

    def mobility(c):
        c = jnp.clip(c, 0.0, 1.0)
        return jnp.exp(d_slope * (2 * c - 1)) * c * (1 - c)

    clean = simulate.simulate_cahn_hilliard(size=size, n_frames=n_frames, t_end=t_end, dt=truth_dt, mobility=mobility,
                                            rng=seed)
    return clean, regular_solution_truth(3.0, d_slope)


def benchmark_physics(
    output: str | Path,
    *,
    size: int = 128,
    n_frames: int = 50,
    noises: Sequence[str] = ("gaussian:0.05",),
    denoisers: Sequence[str] = ("video", "n2v"),
    d_slope: float = 0.5,
    truth_dt: float = 1e-5,
    inversion_dt: float = 4e-5,
    n_mu: int = 4,
    n_d: int = 2,
    window: int = 3,
    fit_initial_states: int = 0,
    bootstrap: int = 20,
    denoise_budget_s: float = 300.0,
    denoise_ensemble: int = 1,
    fit_budget_s: float | None = None,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> list[dict[str, object]]:
    """Simulate a truth (finer time step than the inversion: no inverse crime), corrupt, denoise, and learn.

    Truth: mu_h = ln(c/(1-c)) + 3 (1 - 2c), ln D = d_slope (2c - 1), M = D c (1 - c). Writes
    ``physics_benchmark.csv``, ``report.md``/``.html``, one figure per noise case and every result as JSON.
    Returns one row per (noise, data) with relative L2 errors over c in [0.1, 0.9], band widths and coverage,
    and the PSNR of the data the fit saw against the clean video. Each denoised video is kept as
    ``denoised_<method>_<noise>.npy`` (time-budgeted training differs from run to run, and the fit with it).
    ``denoise_ensemble`` > 1 averages that many networks per neural denoiser (see :func:`operando.denoise.denoise`).
    """
    from .. import io, noise, report
    from ..denoise import NEURAL, denoise
    from ..metrics import psnr

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda f, m: None)
    say(0.0, "simulating the truth")
    clean, truth = simulate_truth_video(size=size, n_frames=n_frames, d_slope=d_slope, truth_dt=truth_dt, seed=seed)
    config = InversionConfig(n_mu=n_mu, n_d=n_d, window=window, dt=inversion_dt, bootstrap=bootstrap,
                             fit_initial_states=fit_initial_states, time_budget_s=fit_budget_s)
    n_steps = 1 + len(noises) * (1 + 2 * len(denoisers))
    step = 0

    def fit(name: str, video) -> InversionResult:
        nonlocal step
        say(step / n_steps, f"learning from {name}")
        res = learn_physics(video, config, rng=seed)
        res.save_json(out / f"{_slug(name)}.json")
        step += 1
        return res

    clean_result = fit("clean", clean)
    rows = [{"noise": "none", "data": "clean", "psnr_db": None, **compare_to_truth(clean_result, truth),
             "seconds": clean_result.seconds, "status": clean_result.status}]
    rep = report.Report("operando physics benchmark: mu_h(c) and M(c) learned back")
    training = f"{denoise_budget_s:g} s" + (f" x {denoise_ensemble} seeds, averaged" if denoise_ensemble > 1 else "")
    rep.text(f"Truth: {truth.label}, {size} x {size} x {n_frames}, truth dt {truth_dt:g}, inversion dt "
             f"{inversion_dt:g}, window {window}, {fit_initial_states} initial-state rounds, {bootstrap} bootstrap "
             f"resamples, denoising networks trained for {training}. Errors are relative L2 over c in [0.1, 0.9]; "
             "coverage is the share of that range where the 95 % band holds the truth; status says how each fit "
             "ended (converged, did_not_move, not_converged).")
    for case in noises:
        noisy = noise.corrupt(clean, case, rng=seed + 1)
        results = {"clean": clean_result, f"noisy ({case})": fit(f"noisy_{case}", noisy)}
        quality = {f"noisy ({case})": psnr(clean, noisy, data_range=1.0)}
        for method in denoisers:
            say(step / n_steps, f"denoising {case} with {method}")
            den = denoise(noisy, method=method, time_budget_s=denoise_budget_s, rng=seed,
                          ensemble=denoise_ensemble if method in NEURAL else 1)
            io.write(den, out / f"denoised_{method}_{_slug(case)}.npy", dtype="float32")
            quality[f"{method} ({case})"] = psnr(clean, den, data_range=1.0)
            step += 1
            results[f"{method} ({case})"] = fit(f"{method}_{case}", den)
        for name, res in list(results.items())[1:]:
            rows.append({"noise": case, "data": name.split(" (")[0], "psnr_db": quality[name],
                         **compare_to_truth(res, truth), "seconds": res.seconds, "status": res.status})
        fig = f"physics_{_slug(case)}.png"
        plot_learned(results, out / fig, truth)
        rep.figure(fig, f"Learned curves, {case}")
    rep.heading("Errors")
    rep.table(rows)
    rep.write(out)
    write_csv_file(out / "physics_benchmark.csv", rows)
    write_json_file(out / "physics_benchmark.json", rows, indent=1)
    say(1.0, "done")
    return rows


