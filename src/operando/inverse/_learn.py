"""Learn mu_h(c) and D(c) back from a concentration video: multiple-shooting Levenberg-Marquardt + bootstrap."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._errors import InputError
from .._stack import Stack, as_stack, check_finite
from .._files import write_json_file
from ._basis import gauge_fix, legendre, log_diffusivity_curve, mobility_curve, mu_h_curve

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class InversionResult:
    """Learned constitutive laws with their uncertainty.

    Attributes
    ----------
    a, b : ndarray
        Legendre coefficients of the excess mu_h (a_1..a_N) and of ln D (b_0..b_M).
    kappa : float
        Gradient-energy coefficient (fitted or as given).
    covariance : ndarray
        Gauss-Newton covariance of the fitted parameters.
    bootstrap : ndarray, shape (B, P)
        Refitted parameters of each bootstrap resample of windows (empty when B = 0).
    settings : dict
        Everything needed to reproduce the fit.
    """

    a: np.ndarray
    b: np.ndarray
    kappa: float
    covariance: np.ndarray
    bootstrap: np.ndarray
    cost: float
    iterations: int
    converged: bool
    seconds: float
    settings: dict = field(default_factory=dict)

    @property
    def theta(self) -> np.ndarray:
        """All fitted parameters in one vector (a, b[, log kappa])."""
        extra = [math.log(self.kappa)] if self.settings.get("fit_kappa") else []
        return np.concatenate([self.a, self.b, extra])

    def curves(self, c: np.ndarray | None = None) -> dict[str, object]:
        """mu_h (gauge-fixed at c = 0.5), D and M on a c grid, with std and 2.5/97.5 % bootstrap bands."""
        c = np.linspace(0.05, 0.95, 91) if c is None else np.asarray(c, float)
        n_mu = self.a.size

        def evaluate(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            a, b = theta[:n_mu], theta[n_mu: n_mu + self.b.size]
            mu = gauge_fix(c, mu_h_curve(c, a))
            d = np.exp(log_diffusivity_curve(c, b))
            return mu, d, mobility_curve(c, b)

        mu, d, m = evaluate(self.theta)
        out: dict[str, object] = {"c": c.tolist()}
        # Gauss-Newton (delta-method) standard deviations
        g_mu = np.zeros((c.size, self.theta.size))
        g_mu[:, :n_mu] = legendre(2 * c - 1, n_mu)[:, 1:] - legendre(np.array([0.0]), n_mu)[:, 1:]
        g_ld = np.zeros((c.size, self.theta.size))
        g_ld[:, n_mu: n_mu + self.b.size] = legendre(2 * c - 1, self.b.size - 1)
        sd_mu = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", g_mu, self.covariance, g_mu), 0))
        sd_ld = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", g_ld, self.covariance, g_ld), 0))
        samples = [evaluate(th) for th in self.bootstrap] if len(self.bootstrap) else []
        for key, mean, gn in (("mu_h", mu, sd_mu), ("D", d, d * sd_ld), ("mobility", m, m * sd_ld)):
            entry: dict[str, list[float]] = {"mean": mean.tolist(), "gn_std": gn.tolist()}
            if samples:
                idx = {"mu_h": 0, "D": 1, "mobility": 2}[key]
                stack = np.stack([s[idx] for s in samples])
                entry["std"] = stack.std(axis=0, ddof=1 if len(stack) > 1 else 0).tolist()
                entry["lo"] = np.percentile(stack, 2.5, axis=0).tolist()
                entry["hi"] = np.percentile(stack, 97.5, axis=0).tolist()
            out[key] = entry
        return out

    def to_dict(self) -> dict[str, object]:
        """The JSON document: curves, coefficients and settings."""
        doc = self.curves()
        doc["coefficients"] = {
            "a": self.a.tolist(), "b": self.b.tolist(), "kappa": self.kappa,
            "covariance": self.covariance.tolist(),
            "bootstrap": self.bootstrap.tolist(),
        }
        doc["settings"] = {**self.settings, "cost": self.cost, "iterations": self.iterations,
                           "converged": self.converged, "seconds": self.seconds,
                           "bootstrap_samples": int(len(self.bootstrap))}
        return doc

    def save_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON, atomically."""
        return write_json_file(path, self.to_dict(), indent=1)


def check_concentration_video(video: np.ndarray, source: str) -> None:
    """Refuse data that cannot be concentrations in (0, 1) (noise may push a few pixels slightly outside)."""
    check_finite(video, source=source)
    lo, hi = np.percentile(video, [1, 99])
    if video.min() < -0.5 or video.max() > 1.5 or lo < -0.25 or hi > 1.25:
        raise InputError(
            f"{source}: values must be concentrations (site fractions) in (0, 1), got min {video.min():.3g}, "
            f"max {video.max():.3g}; convert intensities to composition first"
        )


def choose_windows(video: np.ndarray, horizon: int, stride: int, min_std: float) -> np.ndarray:
    """Window start frames: once the pattern has contrast (std >= min_std), every ``stride`` frames."""
    n = video.shape[0]
    stds = video.reshape(n, -1).std(axis=1)
    valid = [k for k in range(n - horizon) if stds[k] >= min_std]
    if not valid:
        valid = list(range(n - horizon))
    return np.asarray(valid[::stride], int)


def _frame_interval(stack: Stack, frame_interval: float | None) -> float:
    if frame_interval is not None:
        return float(frame_interval)
    times = stack.metadata.frame_times
    if times and len(times) >= 2:
        steps = np.diff(np.asarray(times, float))
        if np.allclose(steps, steps[0], rtol=1e-3):
            return float(steps[0])
    raise InputError("the video does not record evenly spaced frame times; pass frame_interval=... (--frame-interval)")


def learn_physics(
    video: Stack | np.ndarray,
    *,
    axes: str | None = None,
    n_mu: int = 4,
    n_d: int = 2,
    kappa: float = 0.002,
    fit_kappa: bool = False,
    dx: float | None = None,
    frame_interval: float | None = None,
    window: int = 3,
    stride: int | None = None,
    min_std: float = 0.05,
    dt: float = 5e-5,
    smoothness: float = 0.0,
    max_iter: int = 30,
    fit_initial_states: int = 0,
    bootstrap: int = 0,
    bootstrap_iter: int = 3,
    time_budget_s: float | None = None,
    rng: int | np.random.Generator | None = None,
    progress: Progress | None = None,
) -> InversionResult:
    """Learn mu_h(c) and D(c) from a Cahn-Hilliard video by PDE-constrained least squares.

    Each window starts from an observed frame and is integrated over the next ``window`` frames with the
    differentiable spectral solver; Levenberg-Marquardt with forward-mode Jacobians fits the Legendre
    coefficients to all pixels of all windows at once (multiple shooting). The fit first runs with a 4x longer
    time step (cheap, near the answer), then refines at ``dt``; Jacobians are evaluated exactly only every few
    iterations and Broyden-updated in between. Uncertainty: the Gauss-Newton covariance, plus ``bootstrap``
    refits on windows resampled with replacement, warm-started from the fit and reusing its Jacobian.

    Parameters
    ----------
    video : Stack or ndarray, shape (T, n, n)
        Concentration video in (0, 1) on a square periodic grid (``axes="TYX"``).
    n_mu, n_d : int
        Legendre terms of the excess mu_h (a_1..a_n_mu) and of ln D (b_0..b_{n_d - 1}).
    kappa : float
        Gradient-energy coefficient (the starting value when ``fit_kappa``).
    dx : float, optional
        Grid spacing (default: the stack's pixel size, else 0.01).
    frame_interval : float, optional
        Time between frames (default: from the stack's frame times).
    window : int
        Frames predicted from each starting frame (the shooting horizon).
    stride : int, optional
        Spacing of window starts (default: ``window``).
    min_std : float
        Windows start only once the frames have this much contrast (early frames carry little information).
    dt : float
        Largest solver time step (keep it >= 4x the step that generated synthetic data: no inverse crime).
    smoothness : float
        Weight of the penalty sum n(n+1) coefficient^2.
    fit_initial_states : int
        Rounds of errors-in-variables refinement after the fit (0: off). Each round takes one Gauss-Newton
        step on every window's starting state (kept close to the observed frame, and moved to predict the
        window's frames better), then refits the coefficients from the new starts. Use it on denoised video,
        whose starting frames carry the denoiser's errors: those bias the fit, and no residual band shows it.
        Between rounds the coefficients are updated by a few Gauss-Newton steps that reuse the fit's
        Jacobian; after the last round they are refitted in full. Each round costs about half a fit.
    bootstrap : int
        Number of bootstrap resamples of windows (0: point estimate and Gauss-Newton covariance only).
    bootstrap_iter : int
        Gauss-Newton steps per resample, warm-started at the fit and reusing its exact Jacobian (each step
        costs one pass over the windows).
    time_budget_s : float, optional
        Wall-clock budget for the fit and the bootstrap together.
    rng : int or Generator, optional
        Seed of the bootstrap resampling.

    Returns
    -------
    InversionResult
    """
    import jax.numpy as jnp

    from ._forward import ModelSpec, make_residual_functions

    t_start = time.perf_counter()
    deadline = None if time_budget_s is None else t_start + time_budget_s
    stack = as_stack(video, axes=axes if axes is not None or isinstance(video, Stack) else "TYX")
    source = stack.metadata.source or "video"
    if set(stack.axes) != set("TYX"):
        raise InputError(f"{source}: need a (T, Y, X) concentration video, got axes {stack.axes!r}")
    data = stack.transpose("TYX").to_numpy().astype(np.float64)
    if data.shape[0] < window + 1:
        raise InputError(f"{source}: need >= {window + 1} frames for windows of {window}, got {data.shape[0]}")
    if data.shape[1] != data.shape[2]:
        raise InputError(f"{source}: the solver is periodic on a square grid; crop the {data.shape[1:]} frames square")
    check_concentration_video(data, source)
    if n_mu < 1 or n_d < 1:
        raise InputError(f"need n_mu >= 1 and n_d >= 1, got {n_mu}, {n_d}")
    interval = _frame_interval(stack, frame_interval)
    spacing = dx if dx is not None else (stack.metadata.pixel_size or 0.01)
    steps = max(1, math.ceil(interval / dt - 1e-9))
    spec = ModelSpec(n_mu=n_mu, n_d=n_d, fit_kappa=fit_kappa, kappa=kappa, dx=float(spacing), size=data.shape[1],
                     horizon=window, steps_per_frame=steps, dt=interval / steps, stabilization=0.5)
    starts = choose_windows(data, window, stride or window, min_std)
    ics = jnp.asarray(np.clip(data[starts], 1e-3, 1 - 1e-3), jnp.float32)
    targets = jnp.asarray(np.stack([data[k + 1: k + 1 + window] for k in starts]), jnp.float32)
    residual_fn, _ = make_residual_functions(spec)
    penalty = smoothness * spec.penalty_weights()
    theta0 = np.zeros(spec.n_params)
    theta0[0] = -2.0  # the critical regular solution: a_1 = -Omega with Omega = 2
    if fit_kappa:
        theta0[-1] = math.log(kappa)
    if progress is not None:
        progress(0.0, f"fitting {spec.n_params} parameters on {len(starts)} windows")
    ones = np.ones(len(starts))
    coarse = _coarse_start(spec, theta0, ics, targets, penalty, max_iter, deadline)
    if coarse is not None:
        r_coarse = np.asarray(residual_fn(jnp.asarray(coarse, jnp.float32), ics, targets, jnp.asarray(ones)))
        r_start = np.asarray(residual_fn(jnp.asarray(theta0, jnp.float32), ics, targets, jnp.asarray(ones)))
        if np.all(np.isfinite(r_coarse)) and r_coarse @ r_coarse < r_start @ r_start:
            theta0 = coarse
    main = _fit_windows(spec, ics, targets, theta0, penalty=penalty, max_iter=max_iter, deadline=deadline)
    observed_ics, rounds = ics, 0
    if fit_initial_states:
        from ._forward import make_state_update

        update_states = make_state_update(spec)
        theta_round, moved = main.theta, False
        for rounds in range(fit_initial_states):
            if deadline is not None and time.perf_counter() > deadline:
                logger.warning("time budget reached after %d of %d initial-state rounds", rounds, fit_initial_states)
                break
            if progress is not None:
                progress(0.0, f"initial states, round {rounds + 1}/{fit_initial_states}")
            new_ics = update_states(jnp.asarray(theta_round, jnp.float32), ics, observed_ics, targets)
            # between rounds, Gauss-Newton steps that reuse the fit's exact Jacobian (the starts and the
            # coefficients move little from round to round); the last round's states get a full refit below
            new_theta = _chord_steps(main.jacobian, lambda th, s=new_ics: residual_fn(
                jnp.asarray(th, jnp.float32), s, targets, jnp.asarray(ones)), theta_round, penalty, CHORD_STEPS)
            if new_theta is None:
                logger.warning("initial-state round %d gave states the solver cannot integrate; keeping the "
                               "result of round %d", rounds + 1, rounds)
                break
            ics, theta_round, moved = new_ics, new_theta, True
        else:
            rounds = fit_initial_states
        if moved:  # a full refit from the last round's starts: exact Jacobian for the covariance and bootstrap
            main = _fit_windows(spec, ics, targets, theta_round, penalty=penalty, max_iter=max_iter,
                                deadline=deadline)
    fit_seconds = time.perf_counter() - t_start
    n_data = main.n_residuals
    mse = main.cost
    try:
        cov = mse / max(n_data - spec.n_params, 1) * np.linalg.inv(main.jtj + np.diag(penalty))
    except np.linalg.LinAlgError:
        cov = np.full((spec.n_params, spec.n_params), np.nan)
    gen = np.random.default_rng(rng)
    refit = _chord_refitter(main, residual_fn, ics, targets, penalty, len(starts))
    samples = []
    for i in range(bootstrap):
        if deadline is not None and time.perf_counter() > deadline:
            logger.warning("time budget reached after %d of %d bootstrap samples", i, bootstrap)
            break
        counts = np.bincount(gen.integers(0, len(starts), len(starts)), minlength=len(starts)).astype(float)
        samples.append(refit(counts, bootstrap_iter))
        if progress is not None:
            progress((i + 1) / (bootstrap + 1), f"bootstrap {i + 1}/{bootstrap}")
    theta = main.theta
    settings = {
        "n_mu": n_mu, "n_d": n_d, "kappa": kappa, "fit_kappa": fit_kappa, "dx": spec.dx,
        "frame_interval": interval, "window": window, "stride": stride or window, "window_starts": starts.tolist(),
        "dt": spec.dt, "steps_per_frame": steps, "smoothness": smoothness, "min_std": min_std,
        "bootstrap_requested": bootstrap, "bootstrap_iter": bootstrap_iter, "seed": rng if isinstance(rng, int) else None,
        "source": stack.metadata.source, "convention": "M(c) = D(c) c (1 - c); mu_h gauge-fixed at c = 0.5",
        "fit_initial_states": rounds,
        "initial_state_change_rms": float(jnp.sqrt(jnp.mean((ics - observed_ics) ** 2))),
        "fit_seconds": fit_seconds, "stop_reason": main.reason,
        "jacobian_evaluations": main.jacobian_evaluations, "residual_evaluations": main.residual_evaluations,
    }
    if progress is not None:
        progress(1.0, "done")
    return InversionResult(
        a=theta[:n_mu], b=theta[n_mu: n_mu + n_d],
        kappa=float(math.exp(theta[-1])) if fit_kappa else kappa,
        covariance=cov, bootstrap=np.asarray(samples).reshape(len(samples), spec.n_params),
        cost=float(main.cost), iterations=main.iterations, converged=main.converged,
        seconds=time.perf_counter() - t_start, settings=settings,
    )


COARSE_FACTOR = 4
CHORD_STEPS = 3  # Gauss-Newton steps per initial-state round (each costs one residual evaluation)


def _chord_steps(jac: np.ndarray, residual_of: Callable[[np.ndarray], object], theta: np.ndarray,
                 penalty: np.ndarray, steps: int) -> np.ndarray | None:
    """Gauss-Newton steps from ``theta`` with an exact Jacobian ``jac`` held fixed (the chord method).

    Each step costs one residual evaluation instead of a (1 + P)-times dearer Jacobian. A step that does not
    lower the cost ends the loop. Returns None when the residual at ``theta`` is not finite.
    """
    info = jac.T @ jac + np.diag(penalty)
    r = np.asarray(residual_of(theta), float)
    if not np.all(np.isfinite(r)):
        return None
    cost = float(r @ r + np.sum(penalty * theta * theta))
    for _ in range(steps):
        try:
            trial = theta - np.linalg.solve(info, jac.T @ r + penalty * theta)
        except np.linalg.LinAlgError:
            break
        r_trial = np.asarray(residual_of(trial), float)
        cost_trial = float(r_trial @ r_trial + np.sum(penalty * trial * trial))
        if not np.all(np.isfinite(r_trial)) or not cost_trial < cost:
            break
        theta, r, cost = trial, r_trial, cost_trial
    return theta


def _coarse_start(spec, theta0: np.ndarray, ics, targets, penalty: np.ndarray, max_iter: int,
                  deadline: float | None) -> np.ndarray | None:
    """Fit with a time step COARSE_FACTOR times longer: a cheap start for the fine fit (None if it fails).

    Most Levenberg-Marquardt iterations are spent far from the solution, where the time-step bias does not
    matter; the fine fit then only has to move by that bias (a few iterations). Stops at half the budget.
    """
    import dataclasses

    steps = spec.steps_per_frame // COARSE_FACTOR
    if steps < 1:
        return None
    coarse = dataclasses.replace(spec, steps_per_frame=steps, dt=spec.dt * spec.steps_per_frame / steps)
    half = None if deadline is None else time.perf_counter() + (deadline - time.perf_counter()) / 2
    try:
        return _fit_windows(coarse, ics, targets, theta0, penalty=penalty, max_iter=max_iter, xtol=1e-3,
                            ftol=1e-6, deadline=half).theta
    except FloatingPointError:  # the coarse step is unstable at the start: fit at the fine step only
        return None


def _fit_windows(spec, ics, targets, theta0: np.ndarray, **options):
    """Levenberg-Marquardt on all windows (unit weights) with ``spec``'s compiled residual and Jacobian."""
    import jax.numpy as jnp

    from ._forward import make_residual_functions
    from ._levenberg_marquardt import levenberg_marquardt

    residual_fn, jacobian_fn = make_residual_functions(spec)
    w = jnp.ones(ics.shape[0], jnp.float32)
    return levenberg_marquardt(
        lambda th: residual_fn(jnp.asarray(th, jnp.float32), ics, targets, w),
        lambda th: jacobian_fn(jnp.asarray(th, jnp.float32), ics, targets, w),
        theta0, **options,
    )


def _chord_refitter(main, residual_fn, ics, targets, penalty: np.ndarray, n_windows: int):
    """Refit on reweighted windows by Gauss-Newton steps that reuse the fit's exact Jacobian (chord method).

    A bootstrap resample only reweights windows, so its Jacobian is the fit's, with the rows of window w
    scaled by sqrt(count_w); each step then costs one residual evaluation instead of a (1 + P)-times dearer
    Jacobian. The fixed point differs from a full refit only by second-order terms in the (small) parameter
    change times the residual.
    """
    import jax.numpy as jnp

    n_params = main.theta.size
    blocks = main.jacobian.reshape(n_windows, -1, n_params)
    info_per_window = np.einsum("wrp,wrq->wpq", blocks, blocks)

    def refit(counts: np.ndarray, iterations: int) -> np.ndarray:
        info = np.einsum("w,wpq->pq", counts, info_per_window) + np.diag(penalty)
        theta = main.theta.copy()
        w = jnp.asarray(counts, jnp.float32)
        for _ in range(iterations):
            r = np.asarray(residual_fn(jnp.asarray(theta, jnp.float32), ics, targets, w), float)
            grad = np.einsum("wrp,wr,w->p", blocks, r.reshape(n_windows, -1), np.sqrt(counts)) + penalty * theta
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
            if not np.all(np.isfinite(step)):
                break
            theta = theta - step
        return theta

    return refit


def refit_on_fresh_noise(
    clean: Stack | np.ndarray,
    noise: str,
    *,
    replicates: int,
    denoise_method: str | None = None,
    denoise_budget_s: float = 60.0,
    axes: str | None = None,
    rng: int = 0,
    progress: Progress | None = None,
    **fit_options: object,
) -> InversionResult:
    """Fit the clean video's physics once per fresh noise realisation (optionally denoised first).

    The only replicates that capture the denoiser's own bias and variance: each one corrupts ``clean`` with
    ``noise`` (seed ``rng + i``), denoises it with ``denoise_method`` if given, and refits. The returned result
    holds the first replicate's fit as the point estimate and all replicates in ``bootstrap`` (so the bands
    of :meth:`InversionResult.curves` are noise-realisation bands). ``fit_options`` go to :func:`learn_physics`
    (its own window bootstrap is switched off).
    """
    from ..noise import corrupt

    if replicates < 1:
        raise InputError(f"replicates must be >= 1, got {replicates}")
    fits = []
    for i in range(replicates):
        noisy = corrupt(clean, noise, axes=axes, rng=rng + i)
        if denoise_method is not None:
            from ..denoise import denoise

            noisy = denoise(noisy, method=denoise_method, time_budget_s=denoise_budget_s, rng=rng + i)
        fits.append(learn_physics(noisy, **{**fit_options, "bootstrap": 0}))
        if progress is not None:
            progress((i + 1) / replicates, f"noise replicate {i + 1}/{replicates}")
    first = fits[0]
    settings = {**first.settings, "replicates": "noise", "noise": noise, "denoise_method": denoise_method,
                "n_replicates": replicates}
    return InversionResult(
        a=first.a, b=first.b, kappa=first.kappa, covariance=first.covariance,
        bootstrap=np.stack([f.theta for f in fits]), cost=first.cost, iterations=first.iterations,
        converged=first.converged, seconds=float(sum(f.seconds for f in fits)), settings=settings,
    )
