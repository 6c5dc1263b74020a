"""Learn mu_h(c) and D(c) back from a concentration video: multiple-shooting Levenberg-Marquardt + bootstrap.

The steps, in order: :func:`prepare_windows` (validate the video, choose the windows, build the model),
:func:`fit_coefficients` (coarse-to-fine Levenberg-Marquardt), :func:`refine_initial_states`
(errors-in-variables rounds, optional), :func:`bootstrap_windows` (resampled windows, optional).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from .._progress import Progress, check_cancel, emit, sub_progress
from .._stack import Stack, as_stack, check_finite
from ._config import InversionConfig
from ._result import InversionResult

CONVERGED_REASONS = ("xtol", "ftol", "precision_floor", "no_decrease")


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


def frame_interval_of(stack: Stack, given: float | None, source: str = "video") -> float:
    """Return the time between frames: ``given``, else the stack's evenly spaced frame times (else refuse)."""
    if given is not None:
        return float(given)
    times = stack.metadata.frame_times
    if times and len(times) >= 2:
        steps = np.diff(np.asarray(times, float))
        if np.all(steps > 0) and np.allclose(steps, steps[0], rtol=1e-3):
            return float(steps[0])
    raise InputError(f"{source}: the video does not record evenly spaced frame times; give the time between frames "
                     "(frame_interval=..., --frame-interval)")


def learn_physics(
    video: Stack | np.ndarray,
    config: InversionConfig | None = None,
    *,
    axes: str | None = None,
    rng: int | np.random.Generator | None = None,
    progress: Progress | None = None,
    **settings: object,
) -> InversionResult:
    """Learn mu_h(c) and D(c) from a Cahn-Hilliard video by PDE-constrained least squares.

    Each window starts from an observed frame and is integrated over the next ``window`` frames with the
    differentiable spectral solver; Levenberg-Marquardt with forward-mode Jacobians fits the Legendre
    coefficients to all pixels of all windows at once (multiple shooting). The fit first runs with a 4x longer
    time step (cheap, near the answer), then refines at ``dt``; Jacobians are evaluated exactly only every few
    iterations and Broyden-updated in between. Uncertainty: the Gauss-Newton covariance, plus ``bootstrap``
    refits on windows resampled with replacement, warm-started from the fit and reusing its Jacobian.

    The settings come either as one :class:`InversionConfig` or as its fields given as keywords
    (``learn_physics(video, window=4, bootstrap=20)``), never both. Settings worth knowing:

    - ``n_mu``, ``n_d``: Legendre terms of the excess mu_h (a_1..a_n_mu) and of ln D (b_0..b_{n_d - 1}).
    - ``window``: frames predicted from each starting frame (the shooting horizon); ``stride``: spacing of
      window starts; ``min_std``: windows start once the frames have this much contrast.
    - ``dt``: largest solver time step (keep it >= 4x the step that generated synthetic data: no inverse crime).
    - ``fit_initial_states``: rounds of errors-in-variables refinement after the fit. Each round takes one
      Gauss-Newton step on every window's starting state (kept close to the observed frame, and moved to
      predict the window's frames better), then refits the coefficients from the new starts. Use it on
      denoised video, whose starting frames carry the denoiser's errors. Each round costs about half a fit.
    - ``bootstrap``: resamples of windows; ``bootstrap_iter``: Gauss-Newton steps per resample.
    - ``time_budget_s``: wall-clock budget for the fit and the bootstrap together.

    Parameters
    ----------
    video : Stack or ndarray, shape (T, n, n)
        Concentration video in (0, 1) on a square periodic grid (``axes="TYX"``).
    config : InversionConfig, optional
        All settings (default: ``InversionConfig(**settings)``).
    axes : str, optional
        Axis letters of an ndarray ``video`` (default ``"TYX"``).
    rng : int or Generator, optional
        Seed of the bootstrap resampling. When None a seed is drawn; the seed used is recorded in
        ``result.settings["seed"]`` (resample i draws from child i of ``SeedSequence(seed).spawn``).
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent` objects (one per Levenberg-Marquardt iteration, initial-state
        round and bootstrap sample); it is called before every solver evaluation, so a
        :class:`~operando.Cancelled` raised by it stops the fit within one evaluation.
    **settings
        Fields of :class:`InversionConfig`, when no ``config`` is given (a misspelt name is an error).

    Returns
    -------
    InversionResult
        Coefficients, covariance, bootstrap samples, ``status`` (how the fit ended) and the settings.

    Raises
    ------
    InputError
        If the video cannot be concentrations on a square grid, or a setting is invalid.
    """
    cfg = resolve_config(config, settings)
    seed = concrete_seed(rng)
    t_start = time.perf_counter()
    deadline = None if cfg.time_budget_s is None else t_start + cfg.time_budget_s
    problem = prepare_windows(video, cfg, axes=axes)
    penalty = cfg.smoothness * problem.spec.penalty_weights()
    emit(progress, 0.0, f"fitting {problem.spec.n_params} parameters on {len(problem.starts)} windows")
    guess = starting_guess(problem.spec)
    share = 1 / (1 + bool(cfg.fit_initial_states) + bool(cfg.bootstrap))  # of the fit, the rounds, the bootstrap
    main = fit_coefficients(problem, guess, penalty, cfg.max_iter, deadline, sub_progress(progress, 0.0, share))
    after = share * (1 + bool(cfg.fit_initial_states))
    main, ics, rounds = refine_initial_states(problem, main, penalty, cfg, deadline,
                                              sub_progress(progress, share, after, "initial states: "))
    fit_seconds = time.perf_counter() - t_start
    samples = bootstrap_windows(main, problem, ics, penalty, cfg, seed, deadline, sub_progress(progress, after, 1.0))
    status = fit_status(main.theta, guess, main.reason)
    if status != "converged":
        warnings.warn(f"the fit ended as {status} ({main.reason}); its coefficients may not describe the data",
                      UserWarning, stacklevel=2)
    theta, spec = main.theta, problem.spec
    derived = {
        "n_mu": cfg.n_mu, "n_d": cfg.n_d, "kappa": cfg.kappa, "fit_kappa": cfg.fit_kappa, "dx": spec.dx,
        "frame_interval": problem.interval, "window": cfg.window, "stride": cfg.stride or cfg.window,
        "window_starts": problem.starts.tolist(), "dt": spec.dt, "steps_per_frame": spec.steps_per_frame,
        "smoothness": cfg.smoothness, "min_std": cfg.min_std, "bootstrap_requested": cfg.bootstrap,
        "bootstrap_iter": cfg.bootstrap_iter, "seed": seed, "config": cfg.model_dump(), "source": problem.source,
        "convention": "M(c) = D(c) c (1 - c); mu_h gauge-fixed at c = 0.5", "fit_initial_states": rounds,
        "initial_state_change_rms": float(np.sqrt(np.mean((np.asarray(ics) - np.asarray(problem.ics)) ** 2))),
        "fit_seconds": fit_seconds, "stop_reason": main.reason, "status": status,
        "jacobian_evaluations": main.jacobian_evaluations, "residual_evaluations": main.residual_evaluations,
    }
    emit(progress, 1.0, "done")
    return InversionResult(
        a=theta[:cfg.n_mu], b=theta[cfg.n_mu: cfg.n_mu + cfg.n_d],
        kappa=float(math.exp(theta[-1])) if cfg.fit_kappa else cfg.kappa,
        covariance=covariance(main, penalty), bootstrap=samples, cost=float(main.cost),
        iterations=main.iterations, status=status, seconds=time.perf_counter() - t_start, settings=derived,
    )


def resolve_config(config: InversionConfig | None, settings: dict[str, object]) -> InversionConfig:
    """Return the run's configuration: ``config`` as given, or one built (validated) from keyword settings."""
    if config is not None:
        if settings:
            raise InputError(f"learn_physics got both a config and keyword settings {sorted(settings)}; pass one: "
                             "config.model_copy(update={...}) changes a config")
        if not isinstance(config, InversionConfig):
            raise InputError(f"config must be an InversionConfig, got {type(config).__name__}")
        return config
    return InversionConfig.from_keywords(**settings)


def concrete_seed(rng: int | np.random.Generator | None) -> int:
    """Return the seed to record: ``rng`` itself when it is an int, else one drawn from it (or fresh entropy)."""
    if isinstance(rng, int | np.integer):
        return int(rng)
    return int(np.random.default_rng(rng).integers(2**63))


@dataclass(frozen=True)
class WindowProblem:
    """The inverse problem built from a video: the model, the windows' starting frames and their targets."""

    spec: object  # ModelSpec (imported with JAX)
    starts: np.ndarray
    ics: object  # jax.Array, shape (W, n, n)
    targets: object  # jax.Array, shape (W, window, n, n)
    interval: float
    source: str | None


def prepare_windows(video: Stack | np.ndarray, cfg: InversionConfig, *, axes: str | None = None) -> WindowProblem:
    """Validate the video and cut it into shooting windows; describe the model to fit."""
    import jax.numpy as jnp

    from ._forward import ModelSpec

    stack = as_stack(video, axes=axes if axes is not None or isinstance(video, Stack) else "TYX")
    source = stack.metadata.source or "video"
    if set(stack.axes) != set("TYX"):
        raise InputError(f"{source}: need a (T, Y, X) concentration video, got axes {stack.axes!r}")
    data = stack.transpose("TYX").to_numpy().astype(np.float64)
    window = cfg.window
    if data.shape[0] < window + 1:
        raise InputError(f"{source}: need >= {window + 1} frames for windows of {window}, got {data.shape[0]}; "
                         f"pass a window of at most {max(data.shape[0] - 1, 1)} frames (window=..., --window)")
    if data.shape[1] != data.shape[2]:
        raise InputError(f"{source}: the solver is periodic on a square grid; crop the {data.shape[1:]} frames square")
    if data.shape[1] < 8:
        raise InputError(f"{source}: frames of {data.shape[1]} x {data.shape[2]} px are too small for the spectral "
                         "solver; give frames of at least 8 x 8 grid points")
    check_concentration_video(data, source)
    interval = frame_interval_of(stack, cfg.frame_interval, source)
    spacing = cfg.dx if cfg.dx is not None else (stack.metadata.pixel_size or 0.01)
    steps = max(1, math.ceil(interval / cfg.dt - 1e-9))
    spec = ModelSpec(n_mu=cfg.n_mu, n_d=cfg.n_d, fit_kappa=cfg.fit_kappa, kappa=cfg.kappa, dx=float(spacing),
                     size=data.shape[1], horizon=window, steps_per_frame=steps, dt=interval / steps,
                     stabilization=0.5)
    starts = choose_windows(data, window, cfg.stride or window, cfg.min_std)
    ics = jnp.asarray(np.clip(data[starts], 1e-3, 1 - 1e-3), jnp.float32)
    targets = jnp.asarray(np.stack([data[k + 1: k + 1 + window] for k in starts]), jnp.float32)
    return WindowProblem(spec=spec, starts=starts, ics=ics, targets=targets, interval=interval,
                         source=stack.metadata.source)


def starting_guess(spec) -> np.ndarray:
    """Return the fit's start: the critical regular solution (a_1 = -2, Omega = 2), ln D = 0, kappa as given."""
    theta0 = np.zeros(spec.n_params)
    theta0[0] = -2.0
    if spec.fit_kappa:
        theta0[-1] = math.log(spec.kappa)
    return theta0


def fit_coefficients(problem: WindowProblem, theta0: np.ndarray, penalty: np.ndarray, max_iter: int,
                     deadline: float | None, progress: Progress | None = None):
    """Coarse-to-fine Levenberg-Marquardt from ``theta0`` on all windows; returns the fine fit's LMResult."""
    import jax.numpy as jnp

    from ._forward import make_residual_functions

    spec, ics, targets = problem.spec, problem.ics, problem.targets
    residual_fn, _ = make_residual_functions(spec)
    ones = jnp.ones(len(problem.starts))
    coarse = _coarse_start(spec, theta0, ics, targets, penalty, max_iter, deadline,
                           sub_progress(progress, 0.0, 0.5, "coarse step: "))
    check_cancel(progress)
    if coarse is not None:
        r_coarse = np.asarray(residual_fn(jnp.asarray(coarse, jnp.float32), ics, targets, ones))
        r_start = np.asarray(residual_fn(jnp.asarray(theta0, jnp.float32), ics, targets, ones))
        if np.all(np.isfinite(r_coarse)) and r_coarse @ r_coarse < r_start @ r_start:
            theta0 = coarse
    return _fit_windows(spec, ics, targets, theta0, penalty=penalty, max_iter=max_iter, deadline=deadline,
                        progress=sub_progress(progress, 0.5, 1.0))


def refine_initial_states(problem: WindowProblem, main, penalty: np.ndarray, cfg: InversionConfig,
                          deadline: float | None, progress: Progress | None = None):
    """Errors-in-variables rounds (``cfg.fit_initial_states``); returns (fit, starting states, rounds done).

    Between rounds the coefficients take Gauss-Newton steps that reuse the fit's exact Jacobian (the starts
    and the coefficients move little from round to round); the last round's states get a full refit.
    """
    import jax.numpy as jnp

    from ._forward import make_residual_functions, make_state_update

    ics = problem.ics
    if not cfg.fit_initial_states:
        return main, ics, 0
    spec, targets, total = problem.spec, problem.targets, cfg.fit_initial_states
    residual_fn, _ = make_residual_functions(spec)
    ones = jnp.ones(len(problem.starts))
    update_states = make_state_update(spec)
    theta_round, moved, rounds = main.theta, False, 0
    for rounds in range(total):
        if deadline is not None and time.perf_counter() > deadline:
            warnings.warn(f"time budget reached after {rounds} of {total} initial-state rounds", UserWarning,
                          stacklevel=2)
            break
        emit(progress, rounds / (total + 1), f"round {rounds + 1}/{total}", step=rounds + 1)
        new_ics = update_states(jnp.asarray(theta_round, jnp.float32), ics, problem.ics, targets)
        new_theta = _chord_steps(main.jacobian, lambda th, s=new_ics: residual_fn(
            jnp.asarray(th, jnp.float32), s, targets, ones), theta_round, penalty, CHORD_STEPS)
        if new_theta is None:
            warnings.warn(f"initial-state round {rounds + 1} gave states the solver cannot integrate; keeping the "
                          f"result of round {rounds}", UserWarning, stacklevel=2)
            break
        ics, theta_round, moved = new_ics, new_theta, True
    else:
        rounds = total
    if moved:  # a full refit from the last round's starts: exact Jacobian for the covariance and bootstrap
        main = _fit_windows(spec, ics, targets, theta_round, penalty=penalty, max_iter=cfg.max_iter,
                            deadline=deadline, progress=sub_progress(progress, total / (total + 1), 1.0, "refit: "))
    return main, ics, rounds


def covariance(main, penalty: np.ndarray) -> np.ndarray:
    """Gauss-Newton covariance of the fitted parameters (NaN when the information matrix is singular)."""
    n_params = main.theta.size
    try:
        return main.cost / max(main.n_residuals - n_params, 1) * np.linalg.inv(main.jtj + np.diag(penalty))
    except np.linalg.LinAlgError:
        return np.full((n_params, n_params), np.nan)


def bootstrap_windows(main, problem: WindowProblem, ics, penalty: np.ndarray, cfg: InversionConfig, seed: int,
                      deadline: float | None, progress: Progress | None = None) -> np.ndarray:
    """Refit on ``cfg.bootstrap`` resamples of windows; returns the samples, shape (B, P)."""
    from ._forward import make_residual_functions

    residual_fn, _ = make_residual_functions(problem.spec)
    n_windows = len(problem.starts)
    refit = _chord_refitter(main, residual_fn, ics, problem.targets, penalty, n_windows)
    samples = []
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(cfg.bootstrap)):
        if deadline is not None and time.perf_counter() > deadline:
            warnings.warn(f"time budget reached after {i} of {cfg.bootstrap} bootstrap samples", UserWarning,
                          stacklevel=2)
            break
        check_cancel(progress)
        draws = np.random.default_rng(child).integers(0, n_windows, n_windows)
        samples.append(refit(np.bincount(draws, minlength=n_windows).astype(float), cfg.bootstrap_iter))
        emit(progress, (i + 1) / cfg.bootstrap, f"bootstrap {i + 1}/{cfg.bootstrap}", step=i + 1)
    return np.asarray(samples).reshape(len(samples), problem.spec.n_params)


def fit_status(theta: np.ndarray, start: np.ndarray, reason: str, *, xtol: float = 1e-5) -> str:
    """How a fit ended: ``"did_not_move"`` (still at ``start``), ``"converged"`` or ``"not_converged"``."""
    if np.linalg.norm(theta - start) <= xtol * (np.linalg.norm(start) + xtol):
        return "did_not_move"
    return "converged" if reason in CONVERGED_REASONS else "not_converged"


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
                  deadline: float | None, progress: Progress | None = None) -> np.ndarray | None:
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
                            ftol=1e-6, deadline=half, progress=progress).theta
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
