"""Errors-in-variables as one least-squares problem: the laws and every window's starting state fitted together.

The objective (pixelwise weights w = 1 / sd, windows w with starting state u_w, links (w, v, k) where window w
starts on the frame k that window v predicts; :func:`~operando.inverse._kinetics_model.window_links`):

    sum_w ||w_s (u_w - observed_w)||^2 + ||W (predict_theta(u_w) - targets_w)||^2
        + continuity^2 sum_links ||w_s (u_w - predict_theta,k(u_v))||^2

is minimised over theta (the laws and the rate map, a few hundred numbers) and U = (u_1, ..., u_W) (one number
per particle pixel and window) at once by Levenberg-Marquardt. Each step solves the damped normal equations

    [J_t^T J_t + lam D_t    J_t^T J_u         ] [d_theta]     [J_t^T r]
    [J_u^T J_t              J_u^T J_u + lam D_u] [d_U    ] = - [J_u^T r]

by preconditioned conjugate gradients: J_t is the dense forward-mode Jacobian in theta, J_u is applied
matrix-free (a Jacobian-vector product and its transpose through every window), and the preconditioner is
block-diagonal: the exact inverse of the theta block, and for the states, per pixel, the inverse of the chain of
windows the continuity terms tie together with each window's prediction taken as the identity (a W x W matrix
per pixel). The theta block of the Jacobian is evaluated exactly every ``refresh_every`` accepted steps (and
after a rejected or a small step) and updated by Broyden's rank-one formula in between, from what the linear model
missed; the states' block is always exact. Fitting both blocks together avoids the slow zig-zag of alternating
them: a noisy start pulls the laws towards a large kappa, which smooths the states, which keeps kappa large.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

from .._progress import Progress, check_cancel, emit
from ._kinetics_model import KineticsSpec, _link_index, _windows_predictor

C_CLIP = 1e-3  # starting states are kept in [C_CLIP, 1 - C_CLIP]


@dataclass(frozen=True)
class JointResult:
    """Outcome of :func:`fit_joint`."""

    theta: np.ndarray
    states: np.ndarray  # (W, H, W') packed starting states
    cost: float  # ||r||^2 of the whole objective
    iterations: int
    reason: str
    converged: bool
    seconds: float


@functools.lru_cache(maxsize=8)
def joint_functions(spec: KineticsSpec, links: tuple[tuple[int, int, int], ...], continuity: float):
    """Jitted ``residual(theta, states, *data)``, its Jacobian in theta, and ``solve`` (one damped step).

    ``data`` = (observed, w_start, targets, weights, drives). The residual holds, on particle pixels only, the
    windows' (prediction - observation) / sd, the starts' (u - observed) / sd and the continuity terms.
    """
    import jax
    import jax.numpy as jnp

    windows = _windows_predictor(spec)
    flat = np.flatnonzero(spec.labels.ravel() > 0)
    inside = jnp.asarray(spec.labels > 0)
    w_idx, v_idx, k_idx = _link_index(links)

    def residual(theta, states, observed, w_start, targets, weights, drives):
        preds = windows(spec.laws(theta), states, drives)
        n = states.shape[0]
        parts = [((preds - targets) * weights).reshape(n, preds.shape[1], -1)[:, :, flat].reshape(-1),
                 (w_start * (states - observed)).reshape(n, -1)[:, flat].reshape(-1)]
        if len(links):
            c = continuity * w_start[w_idx] * (states[w_idx] - preds[v_idx, k_idx])
            parts.append(c.reshape(len(links), -1)[:, flat].reshape(-1))
        return jnp.concatenate(parts)

    def system(theta, states, data, jt, lam, d_theta, theta_inverse, chain_inverse, d_states):
        """Return the residual, J, J^T, the damped normal operator and the preconditioner at (theta, states)."""
        r, forward = jax.linearize(lambda u: residual(theta, u, *data), states)
        transpose = jax.linear_transpose(forward, states)

        def apply_j(x):
            return jt @ x[0] + forward(jnp.where(inside, x[1], 0.0))

        def apply_jt(y):
            return jt.T @ y, jnp.where(inside, transpose(y)[0], 0.0)

        def normal(x):
            g = apply_jt(apply_j(x))
            return (g[0] + lam * d_theta * x[0],
                    jnp.where(inside, g[1] + lam * d_states * x[1], x[1]))

        def precondition(x):
            u = x[1].reshape(x[1].shape[0], -1).T  # (pixels, W)
            u = jnp.einsum("pij,pj->pi", chain_inverse, u).T.reshape(x[1].shape)
            return theta_inverse @ x[0], jnp.where(inside, u, x[1])

        return r, apply_j, apply_jt, normal, precondition

    def solve(theta, states, data, jt, lam, d_theta, theta_inverse, chain_inverse, d_states, maxiter):
        r, apply_j, apply_jt, normal, precondition = system(theta, states, data, jt, lam, d_theta, theta_inverse,
                                                            chain_inverse, d_states)
        rhs = tuple(-g for g in apply_jt(r))
        step, _ = jax.scipy.sparse.linalg.cg(normal, rhs, M=precondition, maxiter=maxiter)
        return step, r + apply_j(step)  # the step and the linear model's residual after it

    def inverse_columns(theta, states, data, jt, d_theta, theta_inverse, chain_inverse, d_states, columns, maxiter):
        """(J^T J)^-1 e_i restricted to theta, for the parameter indices ``columns`` (the states marginalised)."""
        _, _, _, normal, precondition = system(theta, states, data, jt, 0.0, d_theta, theta_inverse, chain_inverse,
                                               d_states)

        def one(i):
            rhs = (jnp.zeros(theta.shape, theta.dtype).at[i].set(1.0), jnp.zeros_like(states))
            return jax.scipy.sparse.linalg.cg(normal, rhs, M=precondition, maxiter=maxiter)[0][0]

        return jax.vmap(one)(columns)

    return (jax.jit(residual), jax.jit(jax.jacfwd(residual)), jax.jit(solve, static_argnames=("maxiter",)),
            jax.jit(inverse_columns, static_argnames=("maxiter",)))


def chain_matrices(w_start: np.ndarray, weights: np.ndarray, links, continuity: float) -> np.ndarray:
    """Per packed pixel, the states' block of J^T J with each prediction taken as the identity, (pixels, W, W)."""
    n = w_start.shape[0]
    ws = w_start.reshape(n, -1).astype(np.float64)
    diag = ws**2 + np.sum(weights.reshape(n, weights.shape[1], -1).astype(np.float64) ** 2, axis=1)
    h = np.zeros((ws.shape[1], n, n))
    h[:, np.arange(n), np.arange(n)] = diag.T
    for w, v, _ in links:
        a = continuity**2 * ws[w] ** 2
        h[:, w, w] += a
        h[:, v, v] += a
        h[:, w, v] -= a
        h[:, v, w] -= a
    return h


def fit_joint(spec: KineticsSpec, links, continuity: float, theta: np.ndarray, states: np.ndarray, observed,
              w_start, targets, weights, drives, *, max_iter: int, deadline: float | None, cg_iterations: int = 40,
              ftol: float = 1e-4, refresh_every: int = 3, progress: Progress | None = None) -> JointResult:
    """Levenberg-Marquardt on the laws and all starting states together (see the module's docstring)."""
    import jax.numpy as jnp

    t0 = time.perf_counter()
    residual_fn, jacobian_fn, solve, _ = joint_functions(spec, tuple(links), float(continuity))
    data = tuple(jnp.asarray(a, jnp.float32) for a in (observed, w_start, targets, weights, drives))
    inside = spec.labels > 0
    chain, chain_diag, outside = _chains(spec, np.asarray(w_start), np.asarray(weights), links, continuity,
                                         states.shape)
    theta = np.asarray(theta, np.float64)
    states = np.asarray(states, np.float32)

    def evaluate(th, st):
        r = np.asarray(residual_fn(jnp.asarray(th, jnp.float32), jnp.asarray(st), *data), np.float64)
        return (float(r @ r) if np.all(np.isfinite(r)) else np.inf), r

    cost, _ = evaluate(theta, states)
    lam, reason, converged, it = 1e-2, "max_iter", False, 0
    jt, exact, since = None, False, refresh_every
    while it < max_iter:
        check_cancel(progress)
        emit(progress, it / max_iter, f"joint iteration {it + 1}/{max_iter}", step=it + 1, cost=cost)
        it += 1
        accepted = False
        for _ in range(8):
            check_cancel(progress)
            if since >= refresh_every:
                jt = np.asarray(jacobian_fn(jnp.asarray(theta, jnp.float32), jnp.asarray(states), *data), np.float64)
                info, jt32, exact, since = jt.T @ jt, jnp.asarray(jt, jnp.float32), True, 0
            d_theta, theta_inverse, chain_inverse = _preconditioner(chain, info, lam, outside)
            step, linear = solve(
                jnp.asarray(theta, jnp.float32), jnp.asarray(states), data, jt32,
                jnp.float32(lam), jnp.asarray(d_theta, jnp.float32), jnp.asarray(theta_inverse, jnp.float32),
                jnp.asarray(chain_inverse, jnp.float32), jnp.asarray(chain_diag, jnp.float32), maxiter=cg_iterations)
            d_theta_step = np.asarray(step[0], np.float64)
            trial_theta = theta + d_theta_step
            trial_states = np.where(inside, np.clip(states + np.asarray(step[1]), C_CLIP, 1 - C_CLIP),
                                    states).astype(np.float32)
            trial, r_trial = evaluate(trial_theta, trial_states)
            if trial < cost:
                linear = np.asarray(linear, np.float64)
                gain = (cost - trial) / max(cost - float(linear @ linear), 1e-30)
                lam = lam / 3 if gain > 0.5 else lam * 2 if gain < 0.25 else lam
                rel = (cost - trial) / cost
                if d_theta_step @ d_theta_step > 0:  # Broyden: what the linear model missed, put on the theta block
                    jt += np.outer(r_trial - linear, d_theta_step / (d_theta_step @ d_theta_step))
                    info, jt32 = jt.T @ jt, jnp.asarray(jt, jnp.float32)
                theta, states, cost, accepted = trial_theta, trial_states, trial, True
                was_exact, exact, since = exact, False, since + 1
                break
            lam *= 4
            if not exact:
                since = refresh_every  # a rejected step on an estimated Jacobian: retry with the exact one
        if not accepted:
            reason, converged = "no_decrease", True
            break
        if rel < ftol:
            if was_exact:
                reason, converged = "ftol", True
                break
            since = refresh_every  # small gain on an estimate: confirm with an exact Jacobian
        if deadline is not None and time.perf_counter() > deadline:
            reason = "time_budget"
            break
    return JointResult(theta=theta, states=states, cost=cost, iterations=it, reason=reason, converged=converged,
                       seconds=time.perf_counter() - t0)


def _preconditioner(chain: np.ndarray, info: np.ndarray, lam: float, outside: np.ndarray):
    """Return the two blocks' inverses: (J_t^T J_t + lam diag) and the per-pixel chains damped by (1 + lam)."""
    d_theta = np.maximum(np.diag(info), 1e-12)
    damped = chain.copy()
    idx = np.arange(chain.shape[1])
    damped[:, idx, idx] *= np.where(outside, 1.0, 1.0 + lam)[:, None]
    return d_theta, np.linalg.inv(info + lam * np.diag(d_theta)), np.linalg.inv(damped)


def marginal_columns(spec: KineticsSpec, links, continuity: float, theta: np.ndarray, states: np.ndarray, observed,
                     w_start, targets, weights, drives, columns, *, cg_iterations: int = 60) -> np.ndarray:
    """Rows ``columns`` of the theta block of (J^T J)^-1 of the joint problem: the states integrated out.

    Multiplied by the reduced chi-square these are the Gauss-Newton covariances of those parameters with every
    parameter, including the uncertainty of the starting states (which a laws-only fit leaves out). The conjugate
    gradients stop at ``cg_iterations``: each costs one Jacobian-vector product and its transpose through every
    window per column (about 1 s for 10 columns on the 96 x 96 benchmark); truncated early they underestimate the
    variances (on a small phantom: 80 iterations gave 77-92 % of the converged variances, 500 converge).
    """
    import jax.numpy as jnp

    _, jacobian_fn, _, inverse_columns = joint_functions(spec, tuple(links), float(continuity))
    data = tuple(jnp.asarray(a, jnp.float32) for a in (observed, w_start, targets, weights, drives))
    th, st = jnp.asarray(theta, jnp.float32), jnp.asarray(states, jnp.float32)
    jt = jacobian_fn(th, st, *data)
    jt64 = np.asarray(jt, np.float64)
    chain, chain_diag, outside = _chains(spec, np.asarray(w_start), np.asarray(weights), links, continuity,
                                         states.shape)
    d_theta, theta_inverse, chain_inverse = _preconditioner(chain, jt64.T @ jt64, 1e-9, outside)
    out = inverse_columns(th, st, data, jt, jnp.asarray(d_theta, jnp.float32),
                          jnp.asarray(theta_inverse, jnp.float32), jnp.asarray(chain_inverse, jnp.float32),
                          jnp.asarray(chain_diag, jnp.float32), jnp.asarray(np.asarray(columns, int)),
                          maxiter=cg_iterations)
    return np.asarray(out, np.float64)


def _chains(spec, w_start, weights, links, continuity, shape):
    """Per-pixel chain matrices (identity outside the particles), their diagonals as (W, H, W'), the outside mask."""
    chain = chain_matrices(w_start, weights, links, continuity)
    chain_diag = np.diagonal(chain, axis1=1, axis2=2).T.reshape(shape)
    outside = ~(spec.labels > 0).reshape(-1)
    chain[outside] = np.eye(chain.shape[1])
    return chain, chain_diag, outside
