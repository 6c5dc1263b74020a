"""Periodic Fourier-spectral Cahn-Hilliard(-reaction) stepping in JAX (pure cores, no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

ScalarField = Callable[[jax.Array], jax.Array]
Reaction = Callable[[jax.Array, jax.Array], jax.Array]

C_EPS = 1e-6


def regular_solution_mu(c: jax.Array, omega: float = 3.0) -> jax.Array:
    """Regular-solution homogeneous chemical potential ln(c/(1-c)) + omega (1 - 2c), in k_BT."""
    c = jnp.clip(c, C_EPS, 1.0 - C_EPS)
    return jnp.log(c / (1.0 - c)) + omega * (1.0 - 2.0 * c)


def lattice_gas_mobility(c: jax.Array) -> jax.Array:
    """Mobility M(c) = c (1 - c), i.e. a constant diffusivity D = 1 in M = D c (1 - c)."""
    c = jnp.clip(c, 0.0, 1.0)
    return c * (1.0 - c)


@dataclass(frozen=True)
class SpectralGrid:
    """Wavenumbers of a periodic n x n grid with spacing dx, for rfft2 layouts."""

    n: int
    dx: float

    def wavenumbers(self) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Return (kx, ky, k2) broadcastable to the rfft2 shape (n, n // 2 + 1); Nyquist zeroed in kx, ky."""
        ky = 2 * np.pi * np.fft.fftfreq(self.n, d=self.dx)
        kx = 2 * np.pi * np.fft.rfftfreq(self.n, d=self.dx)
        k2 = ky[:, None] ** 2 + kx[None, :] ** 2
        if self.n % 2 == 0:  # odd derivatives of the Nyquist mode are not real: drop them
            ky = ky.copy()
            kx = kx.copy()
            ky[self.n // 2] = 0.0
            kx[-1] = 0.0
        dtype = jnp.float32
        return jnp.asarray(kx[None, :], dtype), jnp.asarray(ky[:, None], dtype), jnp.asarray(k2, dtype)


def chemical_potential(c_hat: jax.Array, c: jax.Array, k2: jax.Array, mu_h: ScalarField, kappa: float) -> jax.Array:
    """Return mu = mu_h(c) - kappa lap c, in real space."""
    n = c.shape[-1]
    lap_c = jnp.fft.irfft2(-k2 * c_hat, s=(c.shape[-2], n))
    return mu_h(c) - kappa * lap_c


def make_step(
    grid: SpectralGrid,
    *,
    mu_h: ScalarField,
    mobility: ScalarField,
    kappa: float,
    dt: float,
    stabilization: float,
    reaction: Reaction | None = None,
) -> Callable[[jax.Array], jax.Array]:
    """Return one stabilised semi-implicit step ``c_hat -> c_hat`` (Zhu, Chen, Shen, Tikare, PRE 60, 3564, 1999).

    c_hat_{n+1} = c_hat_n + dt F[div(M grad mu) + R] / (1 + A dt kappa |k|^4). The state is kept in Fourier
    space so the k = 0 mode (the mass) is never touched by round-off when there is no reaction.

    Parameters
    ----------
    grid : SpectralGrid
        The periodic grid (points per side and spacing).
    mu_h : callable
        Homogeneous chemical potential mu_h(c) in k_BT, a ``jax.numpy`` function.
    mobility : callable
        Mobility M(c), a ``jax.numpy`` function.
    kappa : float
        Gradient-energy coefficient.
    dt : float
        Time step.
    stabilization : float
        Stabilisation constant A (at least the largest mobility for unconditional stability in practice).
    reaction : callable, optional
        Insertion rate R(c, mu) added to the right-hand side (Cahn-Hilliard-reaction).

    Returns
    -------
    callable
        A pure function ``step(c_hat) -> c_hat`` on the rfft2 layout, shape (n, n // 2 + 1).
    """
    kx, ky, k2 = grid.wavenumbers()
    denom = 1.0 + stabilization * dt * kappa * k2**2
    shape = (grid.n, grid.n)

    def step(c_hat: jax.Array) -> jax.Array:
        c = jnp.fft.irfft2(c_hat, s=shape)
        mu = chemical_potential(c_hat, c, k2, mu_h, kappa)
        mu_hat = jnp.fft.rfft2(mu)
        grad_x = jnp.fft.irfft2(1j * kx * mu_hat, s=shape)
        grad_y = jnp.fft.irfft2(1j * ky * mu_hat, s=shape)
        m = mobility(c)
        rhs_hat = 1j * kx * jnp.fft.rfft2(m * grad_x) + 1j * ky * jnp.fft.rfft2(m * grad_y)
        if reaction is not None:
            rhs_hat = rhs_hat + jnp.fft.rfft2(reaction(c, mu))
        return c_hat + dt * rhs_hat / denom

    return step


def integrate_frames(
    step: Callable[[jax.Array], jax.Array], c0: jax.Array, *, n_frames: int, steps_per_frame: int
) -> jax.Array:
    """Run ``step`` from ``c0`` and return ``n_frames`` frames (the first is ``c0``).

    Parameters
    ----------
    step : callable
        One time step ``c_hat -> c_hat`` (from :func:`make_step`).
    c0 : jax.Array, shape (n, n)
        Initial concentration field.
    n_frames : int
        Frames returned, ``c0`` included.
    steps_per_frame : int
        Time steps between two frames.

    Returns
    -------
    jax.Array, shape (n_frames, n, n)
        The frames in real space.
    """
    shape = c0.shape

    def frame(c_hat: jax.Array, _: None) -> tuple[jax.Array, jax.Array]:
        c_hat = lax.fori_loop(0, steps_per_frame, lambda _, x: step(x), c_hat)
        return c_hat, jnp.fft.irfft2(c_hat, s=shape)

    c_hat0 = jnp.fft.rfft2(c0)
    _, frames = lax.scan(frame, c_hat0, length=n_frames - 1)
    return jnp.concatenate([c0[None], frames], axis=0)


def butler_volmer_constant_current(
    current: float, *, rate: float = 1.0, exchange: ScalarField | None = None
) -> Reaction:
    """Return a Butler-Volmer insertion rate R(c, mu) held at a constant mean ``current`` (alpha = 1/2).

    R = k j0(c) [exp(-(mu - V)/2) - exp((mu - V)/2)], with the reservoir potential V solved in closed form
    each step so that mean(R) = current (positive current fills the particle). j0 defaults to sqrt(c(1-c)).
    """
    j0_fn = exchange or (lambda c: jnp.sqrt(jnp.clip(c * (1.0 - c), 0.0, None)))

    def reaction(c: jax.Array, mu: jax.Array) -> jax.Array:
        j0 = rate * j0_fn(c)
        a = jnp.mean(j0 * jnp.exp(-mu / 2))
        b = jnp.mean(j0 * jnp.exp(mu / 2))
        u = (current + jnp.sqrt(current**2 + 4 * a * b)) / (2 * a)  # u = exp(V / 2)
        return j0 * (jnp.exp(-mu / 2) * u - jnp.exp(mu / 2) / u)

    return reaction
