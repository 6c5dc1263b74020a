"""Learn reaction kinetics from a composition video of bounded particles: mu_h(c), j0(c), kappa and k(x).

The steps, in order: :func:`prepare_kinetics` (validate the video, find the particles, pack them side by side,
take each particle's current from its observed mean, cut shooting windows), a Levenberg-Marquardt fit of all
windows at once (forward-mode Jacobians through the reaction model), the Gauss-Newton covariance and optional
bootstrap over windows for the bands, and two model comparisons (a uniform k refit; a Wald test of the
asymmetric terms of j0).
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from .._progress import Progress, check_cancel, emit, sub_progress
from .._stack import Stack, as_stack
from ._kinetics_config import KineticsConfig
from ._kinetics_model import (
    KineticsSpec,
    Packing,
    check_particles,
    pack_particles,
    rate_modes,
    residual_functions,
    subset_jacobian,
)
from ._learn import concrete_seed, frame_interval_of

C_FIT = (0.1, 0.9)  # where the learned curves are reported and scored


@dataclass(frozen=True, eq=False)
class KineticsProblem:
    """A video cut into windows of packed particles, ready to fit."""

    spec: KineticsSpec
    packing: Packing
    starts: np.ndarray  # (W, H, W') packed starting states
    observed: np.ndarray  # (W, H, W') the observed starting frames (before any errors-in-variables step)
    start_weights: np.ndarray  # (W, H, W'): 1 / sd of the starting frames on particle pixels
    targets: np.ndarray  # (W, horizon, H, W')
    weights: np.ndarray  # (W, horizon, H, W'): 1 / sd on particle pixels
    drives: np.ndarray  # (W, horizon, P)
    window_starts: np.ndarray
    currents: np.ndarray  # (T - 1, P)
    interval: float
    sigma_known: bool
    source: str
    continuity: float = 0.0  # > 0: the laws are fitted with the continuity terms too (states held)


def particles_of(video: np.ndarray, labels: np.ndarray | None, source: str) -> np.ndarray:
    """Return particle labels 1..P: the given ones, or the connected regions finite in every frame.

    Parameters
    ----------
    video : ndarray, shape (T, Y, X)
        Li fraction, NaN outside the particles.
    labels : ndarray of int, shape (Y, X), optional
        Particles (0 outside), renumbered 1..P.
    source : str
        Named in errors.

    Returns
    -------
    ndarray of int32, shape (Y, X)
    """
    from skimage.measure import label

    finite = np.isfinite(video).all(axis=0)
    if labels is None:
        labels = label(finite, connectivity=1).astype(np.int32)
    else:
        labels = np.asarray(labels)
        if labels.shape != video.shape[1:]:
            raise InputError(f"{source}: the labels are {labels.shape}, the frames {video.shape[1:]}; give labels of "
                             "the frames' size")
        if np.any((labels > 0) & ~finite):
            raise InputError(f"{source}: {int(np.sum((labels > 0) & ~finite))} labelled pixels are NaN in some "
                             "frame; give labels inside the measured particles")
        _, labels = np.unique(labels, return_inverse=True)  # 0..P without gaps (0 stays 0 when present)
        labels = labels.reshape(video.shape[1:]).astype(np.int32)
    if labels.max() == 0:
        raise InputError(f"{source}: no particle: no pixel is finite in every frame (NaN marks what is outside); "
                         "give a composition video with the particles measured")
    return labels


def _check_values(video: np.ndarray, labels: np.ndarray, source: str) -> None:
    values = video[:, labels > 0]
    lo, hi = np.percentile(values, [0.5, 99.5])
    if lo < -0.3 or hi > 1.3:
        raise InputError(f"{source}: values must be Li fractions in (0, 1) (noise may push a few slightly outside), "
                         f"got 0.5-99.5 % range {lo:.3g} to {hi:.3g}; give a composition video (x), not counts "
                         "or optical density")


def particle_currents(video: np.ndarray, labels: np.ndarray, interval: float, window: int) -> np.ndarray:
    """Each particle's mean rate of change per frame interval, shape (T - 1, P), from its smoothed mean."""
    from scipy.signal import savgol_filter

    n = int(labels.max())
    means = np.stack([video[:, labels == p].mean(axis=1) for p in range(1, n + 1)], axis=1)
    w = min(window, means.shape[0] - (1 - means.shape[0] % 2))
    if w >= 5:
        means = savgol_filter(means, w if w % 2 else w - 1, 2, axis=0, mode="interp")
    return np.diff(means, axis=0) / interval


def _window_starts(n_frames: int, horizon: int) -> np.ndarray:
    starts = list(range(0, n_frames - horizon, horizon))
    if starts[-1] + horizon < n_frames - 1:
        starts.append(n_frames - 1 - horizon)
    return np.asarray(starts, int)


def _weights(sd, video: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, bool]:
    """1 / sd on the particle pixels (0 elsewhere) and whether sd was known (else unit weights)."""
    inside = np.broadcast_to(labels > 0, video.shape)
    if sd is None:
        return inside.astype(np.float64), False
    sd = np.broadcast_to(np.asarray(sd, np.float64), video.shape)
    good = inside & np.isfinite(sd) & (sd > 0)
    return np.where(good, 1.0 / np.where(good, sd, 1.0), 0.0), True


def prepare_kinetics(video: Stack | np.ndarray, cfg: KineticsConfig, *, sd=None, labels=None,
                     axes: str | None = None, starts_from: np.ndarray | None = None) -> KineticsProblem:
    """Validate the video and build the windowed problem (see :func:`learn_kinetics`)."""
    stack = as_stack(video, axes=axes if axes is not None or isinstance(video, Stack) else "TYX")
    source = stack.metadata.source or "video"
    if set(stack.axes) != set("TYX"):
        raise InputError(f"{source}: need a (T, Y, X) composition video, got axes {stack.axes!r}")
    data = stack.transpose("TYX").to_numpy().astype(np.float64)
    if data.shape[0] < max(5, cfg.window + 1):
        raise InputError(f"{source}: {data.shape[0]} frames; the kinetics need at least {max(5, cfg.window + 1)}")
    interval = frame_interval_of(stack, cfg.frame_interval, source)
    labels = particles_of(data, labels, source)
    check_particles(labels, cfg.min_particle_px, source)
    _check_values(data, labels, source)
    weights, known = _weights(sd, data, labels)
    packing = pack_particles(labels)
    counts = np.bincount(packing.labels.ravel())[1:]
    n_modes = [cfg.k_modes or int(np.clip(c // 8, 3, 80)) for c in counts]
    steps = cfg.steps_per_frame or 4
    spec = KineticsSpec(model=cfg.model, n_mu=cfg.n_mu, n_j0=cfg.n_j0, n_d=cfg.n_d if cfg.model == "chr" else 0,
                        fit_kappa=cfg.fit_kappa, kappa=cfg.kappa, alpha=cfg.alpha,
                        modes=rate_modes(packing.labels, n_modes), labels=packing.labels, steps_per_frame=steps,
                        dt=interval / steps, horizon=cfg.window)
    currents = particle_currents(data, labels, interval, cfg.current_window)
    starts = _window_starts(data.shape[0], cfg.window)
    packed = packing.pack(np.where(np.isfinite(data), data, 0.5))
    packed_w = packing.pack(weights, fill=0.0)
    h = cfg.window
    first = packed[starts]
    if starts_from is not None:
        starts_from = np.asarray(starts_from, np.float64)
        if starts_from.shape != data.shape or not np.isfinite(starts_from[:, labels > 0]).all():
            raise InputError(f"{source}: starts_from must be a video of the same shape {data.shape}, finite on the "
                             f"particles; got {starts_from.shape}")
        first = packing.pack(np.where(np.isfinite(starts_from), starts_from, 0.5))[starts]
    return KineticsProblem(
        spec=spec, packing=packing, starts=np.clip(first, 1e-3, 1 - 1e-3).astype(np.float32),
        observed=packed[starts].astype(np.float32), start_weights=packed_w[starts].astype(np.float32),
        targets=np.stack([packed[s + 1: s + 1 + h] for s in starts]).astype(np.float32),
        weights=np.stack([packed_w[s + 1: s + 1 + h] for s in starts]).astype(np.float32),
        drives=np.stack([currents[s: s + h] for s in starts]).astype(np.float32), window_starts=starts,
        currents=currents, interval=interval, sigma_known=known, source=source)


def predicted_video(problem: KineticsProblem, theta: np.ndarray, n_frames: int) -> np.ndarray:
    """Return the model's prediction of each frame a window predicts, (T, Y, X), NaN elsewhere and outside."""
    import jax.numpy as jnp

    from ._kinetics_model import prediction_function

    preds = np.asarray(prediction_function(problem.spec)(jnp.asarray(theta, jnp.float32),
                                                         jnp.asarray(problem.starts), jnp.asarray(problem.drives)))
    out = np.full((n_frames, *problem.packing.field_shape), np.nan, np.float32)
    for w, start in enumerate(problem.window_starts):
        frames = problem.packing.unpack(preds[w])
        out[start + 1: start + 1 + frames.shape[0]] = frames
    return out


def starting_guess(problem: KineticsProblem) -> np.ndarray:
    """Return the start: a critical regular solution (a_1 = -2), j0 of the currents' scale, kappa as given, k = 1."""
    spec, s = problem.spec, problem.spec.slices
    theta = np.zeros(spec.n_params)
    theta[s["a"].start] = -2.0
    b = s["b"].start
    theta[b: b + 3] = [math.log(4.0 * max(float(np.mean(np.abs(problem.currents))), 1e-12)), 0.5, 0.5]
    if spec.fit_kappa:
        theta[s["log_kappa"].start] = math.log(spec.kappa)
    return theta


def residual_of(problem: KineticsProblem, free: np.ndarray | None = None):
    """``(residual(theta), jacobian(theta))`` of the whole problem as numpy callables (Jacobian columns: ``free``)."""
    import jax.numpy as jnp

    if problem.continuity > 0:
        from ._kinetics_model import joint_residual_functions, window_links

        residual_fn, jacobian_fn = joint_residual_functions(
            problem.spec, window_links(problem.window_starts, problem.spec.horizon), float(problem.continuity),
            None if free is None else tuple(int(i) for i in np.flatnonzero(free)))
        args = tuple(jnp.asarray(a) for a in (problem.starts, problem.targets, problem.weights, problem.drives,
                                              problem.start_weights))
    else:
        residual_fn, jacobian_fn = residual_functions(problem.spec)
        if free is not None:
            jacobian_fn = subset_jacobian(problem.spec, tuple(int(i) for i in np.flatnonzero(free)))
        args = tuple(jnp.asarray(a) for a in (problem.starts, problem.targets, problem.weights, problem.drives))

    def residual(theta):
        return np.asarray(residual_fn(jnp.asarray(theta, jnp.float32), *args), np.float64)

    def jacobian(theta):
        return np.asarray(jacobian_fn(jnp.asarray(theta, jnp.float32), *args), np.float64)

    return residual, jacobian


def fit(problem: KineticsProblem, theta0: np.ndarray, *, max_iter: int, deadline: float | None,
        free: np.ndarray | None = None, progress: Progress | None = None):
    """Levenberg-Marquardt on all windows; ``free`` (bool per parameter) holds the others at ``theta0``."""
    from ._levenberg_marquardt import levenberg_marquardt

    residual, jacobian = residual_of(problem, free)
    if free is None:
        return levenberg_marquardt(residual, jacobian, theta0, max_iter=max_iter, deadline=deadline,
                                   progress=progress)
    index = np.flatnonzero(free)

    def full(sub):
        theta = theta0.copy()
        theta[index] = sub
        return theta

    result = levenberg_marquardt(lambda sub: residual(full(sub)), lambda sub: jacobian(full(sub)), theta0[index],
                                 max_iter=max_iter, deadline=deadline, progress=progress)
    return dataclasses.replace(result, theta=full(result.theta))


def learn_kinetics(video: Stack | np.ndarray, config: KineticsConfig | None = None, *, sd=None, labels=None,
                   axes: str | None = None, starts_from: np.ndarray | None = None,
                   rng: int | np.random.Generator | None = None, progress: Progress | None = None,
                   **settings: object):
    """Learn mu_h(c), j0(c), kappa and the rate map k(x) from a composition video of reacting particles.

    Parameters
    ----------
    video : Stack or ndarray, shape (T, Y, X)
        Li fraction in (0, 1), NaN outside the particles (the x channel of ``operando stxm composition``).
    config : KineticsConfig, optional
        Settings (or give its fields as keywords).
    sd : float or ndarray, optional
        Noise sd of the video (a scalar or per pixel, e.g. the sd(x) channel): the residuals are weighted by
        1 / sd and ``residual_over_sigma`` is reported. Without it the weights are 1 and that figure is NaN.
    labels : ndarray of int, shape (Y, X), optional
        Particles (0 outside); default: the connected regions finite in every frame.
    starts_from : ndarray, shape (T, Y, X), optional
        The frames each window starts from (default: ``video`` itself), e.g. a denoised copy: the residuals stay
        on ``video``. Noisy starting frames are what bends the fit on noisy data (docs/benchmarks.md).
    rng : int or Generator, optional
        Seed of the bootstrap (recorded).
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent`; raise :class:`~operando.Cancelled` in it to stop.

    Returns
    -------
    KineticsResult
    """
    from ._kinetics_result import summarise

    if config is None:
        config = KineticsConfig(**settings)
    elif settings:
        raise InputError(f"learn_kinetics got both a config and keyword settings {sorted(settings)}; pass one")
    cfg = config
    seed = concrete_seed(rng)
    t0 = time.perf_counter()
    deadline = None if cfg.time_budget_s is None else t0 + cfg.time_budget_s
    problem = prepare_kinetics(video, cfg, sd=sd, labels=labels, axes=axes, starts_from=starts_from)
    emit(progress, 0.02, f"fitting {problem.spec.n_params} parameters on {len(problem.window_starts)} windows of "
         f"{int((problem.spec.labels > 0).sum())} particle pixels")
    theta0 = starting_guess(problem)
    # the main fit may take 60 % of a time budget; the joint fit of the starting states and the uniform-k refit
    # share the rest, less the last tenth, which fit_starts leaves to the bands' solves
    main_deadline = None if deadline is None else t0 + 0.6 * cfg.time_budget_s
    main = fit(problem, theta0, max_iter=cfg.max_iter, deadline=main_deadline,
               progress=sub_progress(progress, 0.02, 0.5, "fit: "))
    emit(progress, 0.5, f"fit: {main.reason} after {main.iterations} iterations")
    rounds = cfg.fit_initial_states if cfg.fit_initial_states is not None else (20 if problem.sigma_known else 0)
    problem, main, joint = fit_starts(problem, main, rounds, cfg, deadline, progress)
    uniform = None
    if cfg.compare_models and problem.spec.n_k and deadline is not None and time.perf_counter() > deadline:
        warnings.warn("time budget reached before the uniform-k refit: no uniform-k comparison", UserWarning,
                      stacklevel=2)
    elif cfg.compare_models and problem.spec.n_k:
        free = np.ones(problem.spec.n_params, bool)
        free[problem.spec.slices["g"]] = False
        start = main.theta.copy()
        start[problem.spec.slices["g"]] = 0.0
        uniform = fit(problem, start, max_iter=cfg.max_iter, deadline=deadline, free=free,
                      progress=sub_progress(progress, 0.7, 0.8, "uniform k: "))
        emit(progress, 0.75, "uniform-k fit done")
    samples = bootstrap(problem, main, cfg.bootstrap, cfg.bootstrap_iter, seed, deadline, progress)
    if main.reason not in ("xtol", "ftol", "precision_floor", "no_decrease"):
        warnings.warn(f"the kinetics fit ended as not converged ({main.reason})", UserWarning, stacklevel=2)
    predicted = predicted_video(problem, main.theta, len(problem.currents) + 1)
    emit(progress, 1.0, "done")
    return summarise(problem, cfg, main, theta0, uniform, samples, seed=seed, seconds=time.perf_counter() - t0,
                     predicted=predicted, joint_columns=joint)


def fit_starts(problem: KineticsProblem, main, iterations: int, cfg: KineticsConfig, deadline: float | None,
               progress: Progress | None):
    """Errors-in-variables: the laws and every window's starting state fitted together (:func:`fit_joint`).

    Returns the problem with the fitted starts (and ``continuity`` set, so that later refits and the reported
    Jacobian use the same objective), the fit as an ``LMResult`` in theta at the fitted starts, and the rows of
    the joint (J^T J)^-1 for the laws' parameters (the starts' uncertainty integrated out), or None without
    errors-in-variables or when the time budget ran out before those solves (a warning says so).
    """
    from ._kinetics_joint import fit_joint, marginal_columns
    from ._kinetics_model import window_links

    if iterations <= 0:
        return problem, main, None
    if deadline is not None and time.perf_counter() > deadline:
        warnings.warn("time budget reached before the errors-in-variables fit of the starting states", UserWarning,
                      stacklevel=3)
        return problem, main, None
    links = window_links(problem.window_starts, problem.spec.horizon) if cfg.continuity > 0 else ()
    data = (problem.observed, problem.start_weights, problem.targets, problem.weights, problem.drives)
    # the joint fit leaves a tenth of the budget to the bands' solves below (about 60 s of a 600 s budget on the
    # 96 x 96 x 40 benchmark)
    joint_deadline = None if deadline is None else deadline - 0.1 * (cfg.time_budget_s or 0.0)
    joint = fit_joint(problem.spec, links, cfg.continuity, main.theta, problem.starts, *data, max_iter=iterations,
                      deadline=joint_deadline,
                      progress=sub_progress(progress, 0.5, 0.7, "starting states and laws: "))
    problem, main = at_fitted_starts(problem, joint, cfg.continuity, main.iterations)
    if deadline is not None and time.perf_counter() > deadline:
        warnings.warn("time budget reached before the uncertainty of the starting states: the bands leave it out "
                      "and are too narrow; give a larger --time-budget", UserWarning, stacklevel=3)
        return problem, main, None
    s = problem.spec.slices
    laws = np.r_[s["a"], s["b"], s["log_kappa"], s["d"]]
    emit(progress, 0.7, "uncertainty of the laws with the starting states integrated out")
    rows = marginal_columns(problem.spec, links, cfg.continuity, joint.theta, joint.states, *data, laws)
    return problem, main, (laws, rows)


def at_fitted_starts(problem: KineticsProblem, joint, continuity: float, prior_iterations: int = 0):
    """Return the problem at a joint fit's starting states (``continuity`` set) and that fit as an ``LMResult``.

    The result's residual and Jacobian are those of the windows and the continuity terms in theta (the start
    terms are constant in theta), as every later refit and the reported covariance use them.
    """
    from ._levenberg_marquardt import LMResult

    problem = dataclasses.replace(problem, starts=joint.states, continuity=float(continuity))
    residual, jacobian = residual_of(problem)
    r = residual(joint.theta)
    return problem, LMResult(theta=joint.theta, cost=float(r @ r), jacobian=jacobian(joint.theta), residual=r,
                             n_residuals=int(r.size), iterations=prior_iterations + joint.iterations,
                             converged=joint.converged, reason=joint.reason)


def bootstrap(problem: KineticsProblem, main, n: int, iterations: int, seed: int, deadline: float | None,
              progress: Progress | None) -> np.ndarray:
    """Refits on windows resampled with replacement (Gauss-Newton steps with the fit's Jacobian); (B, P)."""
    if n == 0:
        return np.zeros((0, main.theta.size))
    residual, _ = residual_of(problem)
    n_windows = len(problem.window_starts)
    blocks = main.jacobian.reshape(n_windows, -1, main.theta.size)
    info = np.einsum("wrp,wrq->wpq", blocks, blocks)
    samples = []
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(n)):
        if deadline is not None and time.perf_counter() > deadline:
            warnings.warn(f"time budget reached after {i} of {n} bootstrap samples", UserWarning, stacklevel=2)
            break
        check_cancel(progress)
        counts = np.bincount(np.random.default_rng(child).integers(0, n_windows, n_windows), minlength=n_windows)
        weights = np.repeat(counts.astype(float), blocks.shape[1])
        matrix = np.einsum("w,wpq->pq", counts.astype(float), info)
        theta = main.theta.copy()
        for _ in range(iterations):
            r = residual(theta)
            step = np.linalg.lstsq(matrix, main.jacobian.T @ (weights * r), rcond=None)[0]
            if not np.all(np.isfinite(step)):
                break
            theta = theta - step
        samples.append(theta)
        emit(progress, 0.8 + 0.2 * (i + 1) / n, f"bootstrap {i + 1}/{n}")
    return np.asarray(samples).reshape(len(samples), main.theta.size)
