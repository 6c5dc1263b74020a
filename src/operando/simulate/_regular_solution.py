"""The regular-solution Cahn-Hilliard video with a composition-dependent diffusivity: the physics truth."""

from __future__ import annotations

import numpy as np

from .._stack import Stack
from ._cahn_hilliard import simulate_cahn_hilliard

#: Interaction parameter of the truth's regular solution: mu_h = ln(c / (1 - c)) + OMEGA (1 - 2c).
OMEGA = 3.0


def simulate_regular_solution(*, size: int = 128, n_frames: int = 50, t_end: float = 0.2, d_slope: float = 0.5,
                              dt: float = 1e-5, rng: int | np.random.Generator | None = 0) -> Stack:
    """Simulate the truth video of the physics benchmark and the demo.

    mu_h = ln(c/(1-c)) + 3 (1 - 2c) and ln D = d_slope (2c - 1), so the mobility is M = D c (1 - c). With
    ``d_slope`` != 0 the truth differs from every starting guess of the inversion (a_1 = -2, ln D = 0).
    ``operando.inverse.regular_solution_truth(3.0, d_slope)`` describes the same laws.

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
    dt : float
        Largest time step of the simulation: keep it finer than an inversion's step (no inverse crime).
    rng : int or Generator, optional
        Seed of the initial noise (recorded in ``metadata.extra["simulation"]["seed"]``).

    Returns
    -------
    Stack
        Float32 video, axes ``"TYX"``, shape (n_frames, size, size), as :func:`simulate_cahn_hilliard` returns.
    """
    import jax.numpy as jnp

    def mobility(c):
        c = jnp.clip(c, 0.0, 1.0)
        return jnp.exp(d_slope * (2 * c - 1)) * c * (1 - c)

    return simulate_cahn_hilliard(size=size, n_frames=n_frames, t_end=t_end, dt=dt, omega=OMEGA, mobility=mobility,
                                  rng=rng)
