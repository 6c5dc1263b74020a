"""Differentiable multiple-shooting forward model: windows of a video integrated from observed frames (JAX)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..simulate import SpectralGrid, integrate_frames, make_step
from ._basis import mobility_curve, mu_h_curve


@dataclass(frozen=True)
class ModelSpec:
    """Static description of the inverse problem (what is fitted and how the PDE is integrated)."""

    n_mu: int
    n_d: int
    fit_kappa: bool
    kappa: float
    dx: float
    size: int
    horizon: int
    steps_per_frame: int
    dt: float
    stabilization: float

    @property
    def n_params(self) -> int:
        """Number of fitted parameters."""
        return self.n_mu + self.n_d + int(self.fit_kappa)

    def split(self, theta):
        """Split theta into (a_1..a_n_mu, b_0..b_{n_d - 1}, kappa)."""
        a = theta[: self.n_mu]
        b = theta[self.n_mu: self.n_mu + self.n_d]
        kappa = jnp.exp(theta[-1]) if self.fit_kappa else self.kappa
        return a, b, kappa

    def penalty_weights(self) -> np.ndarray:
        """Smoothness weights n(n+1) of each Legendre coefficient (0 for log kappa)."""
        w_mu = [n * (n + 1) for n in range(1, self.n_mu + 1)]
        w_d = [m * (m + 1) for m in range(self.n_d)]
        return np.asarray(w_mu + w_d + ([0] if self.fit_kappa else []), float)


def predict_window(spec: ModelSpec, theta: jax.Array, c0: jax.Array) -> jax.Array:
    """Integrate from the observed frame ``c0`` and return the next ``horizon`` frames, shape (H, n, n)."""
    a, b, kappa = spec.split(theta)
    step = make_step(
        SpectralGrid(spec.size, spec.dx),
        mu_h=lambda c: mu_h_curve(c, a, jnp),
        mobility=lambda c: mobility_curve(c, b, jnp),
        kappa=kappa, dt=spec.dt, stabilization=spec.stabilization,
    )
    frames = integrate_frames(step, c0, n_frames=spec.horizon + 1, steps_per_frame=spec.steps_per_frame)
    return frames[1:]


@functools.lru_cache(maxsize=16)
def make_residual_functions(spec: ModelSpec):
    """Return jitted ``residual(theta, ics, targets, weights)`` and its forward-mode Jacobian.

    The residual stacks (prediction - observation) * sqrt(weight) over windows, horizons and pixels,
    divided by the square root of the number of weighted pixels (so its square sum is a mean squared error).
    Cached per ``spec`` so repeated fits (bootstrap, several videos) compile once.
    """

    def residual(theta, ics, targets, weights):
        preds = jax.vmap(lambda c0: predict_window(spec, theta, c0))(ics)
        n_eff = jnp.sum(weights) * targets[0].size
        r = (preds - targets) * jnp.sqrt(weights)[:, None, None, None]
        return r.reshape(-1) / jnp.sqrt(n_eff)

    return jax.jit(residual), jax.jit(jax.jacfwd(residual))


@functools.lru_cache(maxsize=16)
def make_state_update(spec: ModelSpec, cg_iterations: int = 5):
    """Return jitted ``update(theta, states, observed, targets)``: one Gauss-Newton step on each window's start.

    Errors-in-variables: the observed starting frame carries errors of its own, so each window's starting
    state u is fitted too, minimising ||u - observed||^2 + ||predict(theta, u) - targets||^2 (the starting
    frame and each target frame weighted alike, per pixel). The normal equations (I + J^T J) du = rhs have
    one unknown per pixel; they are solved matrix-free by conjugate gradients with the Jacobian-vector
    product of the window (``jax.linearize``) and its transpose, window by window to bound memory. The
    identity term keeps the system well conditioned: 5 iterations gave the same fit as 10 at two thirds of the
    cost (128^2 benchmark video). A window whose new state gives a non-finite prediction keeps its old state.
    """

    def update(theta, states, observed, targets):
        def one(args):
            u, d, target = args
            pred, forward = jax.linearize(lambda c0: predict_window(spec, theta, c0), u)
            transpose = jax.linear_transpose(forward, u)
            rhs = (d - u) - transpose(pred - target)[0]
            step, _ = jax.scipy.sparse.linalg.cg(lambda x: x + transpose(forward(x))[0], rhs, maxiter=cg_iterations)
            new = jnp.clip(u + step, 1e-3, 1 - 1e-3)
            # a state the solver cannot integrate (a step too large for very noisy data) keeps the old one
            ok = jnp.all(jnp.isfinite(new)) & jnp.all(jnp.isfinite(predict_window(spec, theta, new)))
            return jnp.where(ok, new, u)

        return jax.lax.map(one, (states, observed, targets))

    return jax.jit(update)
