"""Public Cahn-Hilliard(-reaction) simulator: validated arguments in, a Stack video out."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np

from .._errors import InputError
from .._stack import Metadata, Stack

logger = logging.getLogger(__name__)


def simulate_cahn_hilliard(
    *,
    size: int = 128,
    n_frames: int = 100,
    t_end: float = 0.2,
    dx: float = 0.01,
    kappa: float = 0.002,
    dt: float = 2e-5,
    mean: float = 0.5,
    ic_noise: float = 0.01,
    omega: float = 3.0,
    mu_h: Callable | None = None,
    mobility: Callable | None = None,
    current: float | None = None,
    reaction_rate: float = 1.0,
    stabilization: float | None = None,
    initial: np.ndarray | None = None,
    rng: int | np.random.Generator | None = None,
) -> Stack:
    """Simulate 2-D periodic Cahn-Hilliard dynamics with variable mobility.

    dc/dt = div(M(c) grad mu) [+ R(c, mu)],  mu = mu_h(c) - kappa lap c, solved with the stabilised
    semi-implicit Fourier-spectral scheme of Zhu, Chen, Shen & Tikare (PRE 60, 3564, 1999) in JAX.

    Parameters
    ----------
    size : int
        Grid points per side (the grid is ``size x size``, periodic).
    n_frames : int
        Frames saved, evenly spaced on [0, t_end]; the first is the initial condition.
    t_end : float
        Simulated (dimensionless) time of the last frame.
    dx : float
        Grid spacing (dimensionless length).
    kappa : float
        Gradient-energy coefficient.
    dt : float
        Largest time step; it is shortened so a whole number of steps fits each frame interval.
    mean, ic_noise : float
        Initial condition ``clip(mean + ic_noise * N(0, 1), 0, 1)`` (ignored when ``initial`` is given).
    omega : float
        Regular-solution interaction parameter of the default mu_h (phase separation needs omega > 2).
    mu_h, mobility : callable, optional
        ``jax.numpy`` functions of c. Defaults: ``ln(c/(1-c)) + omega (1 - 2c)`` and ``c (1 - c)``.
    current : float, optional
        If given, add a Butler-Volmer insertion reaction held at this mean rate (Cahn-Hilliard-reaction,
        constant current). Mass then grows at ``current`` per unit time.
    reaction_rate : float
        Rate prefactor of the reaction.
    stabilization : float, optional
        Stabilisation constant A (default: the largest mobility on c in [0, 1]).
    initial : ndarray, shape (size, size), optional
        Initial concentration field.
    rng : int or numpy.random.Generator, optional
        Seed for the initial noise; when None one is drawn. The seed used is recorded in
        ``metadata.extra["simulation"]["seed"]`` (None when ``initial`` is given).

    Returns
    -------
    Stack
        Float32 video with axes ``"TYX"``, shape (n_frames, size, size); ``metadata.frame_times`` holds
        the times and ``metadata.extra["simulation"]`` the settings.
    """
    if size < 8:
        raise InputError(f"size must be >= 8 grid points, got {size}")
    if n_frames < 2:
        raise InputError(f"n_frames must be >= 2, got {n_frames}")
    if t_end <= 0 or dt <= 0 or dx <= 0 or kappa <= 0:
        raise InputError(f"t_end, dt, dx and kappa must be positive (got {t_end}, {dt}, {dx}, {kappa})")
    import jax
    import jax.numpy as jnp

    from ._spectral import (
        SpectralGrid,
        butler_volmer_constant_current,
        integrate_frames,
        lattice_gas_mobility,
        make_step,
        regular_solution_mu,
    )

    seed = None
    if initial is None:
        seed = int(rng) if isinstance(rng, int | np.integer) else int(np.random.default_rng(rng).integers(2**63))
        gen = np.random.default_rng(seed)
        initial = np.clip(mean + ic_noise * gen.standard_normal((size, size)), 0.0, 1.0)
    initial = np.asarray(initial, dtype=np.float32)
    if initial.shape != (size, size):
        raise InputError(f"initial must have shape ({size}, {size}), got {initial.shape}")
    mu_fn = mu_h or (lambda c: regular_solution_mu(c, omega))
    mob_fn = mobility or lattice_gas_mobility
    if stabilization is None:
        stabilization = float(np.max(np.asarray(mob_fn(jnp.linspace(0.0, 1.0, 201)))))
    interval = t_end / (n_frames - 1)
    steps_per_frame = max(1, math.ceil(interval / dt - 1e-9))
    step_dt = interval / steps_per_frame
    reaction = None
    if current is not None:
        reaction = butler_volmer_constant_current(current, rate=reaction_rate)
    step = make_step(
        SpectralGrid(size, dx), mu_h=mu_fn, mobility=mob_fn, kappa=kappa, dt=step_dt,
        stabilization=stabilization, reaction=reaction,
    )
    run = jax.jit(lambda c0: integrate_frames(step, c0, n_frames=n_frames, steps_per_frame=steps_per_frame))
    logger.info("simulating %d frames of %dx%d, %d steps per frame", n_frames, size, size, steps_per_frame)
    frames = np.asarray(run(jnp.asarray(initial)), dtype=np.float32)
    if not np.isfinite(frames).all():
        raise InputError(f"the simulation became unstable at dt={step_dt:g}; use a smaller dt")
    times = tuple(float(i * interval) for i in range(n_frames))
    settings = {
        "size": size, "n_frames": n_frames, "t_end": t_end, "dx": dx, "kappa": kappa, "dt": step_dt,
        "steps_per_frame": steps_per_frame, "mean": mean, "ic_noise": ic_noise, "omega": omega,
        "current": current, "stabilization": stabilization, "seed": seed,
        "mu_h": "regular_solution" if mu_h is None else getattr(mu_h, "__name__", "custom"),
        "mobility": "c(1-c)" if mobility is None else getattr(mobility, "__name__", "custom"),
    }
    meta = Metadata(pixel_size=dx, pixel_unit="1", frame_times=times, original_dtype="float32",
                    extra={"simulation": settings})
    return Stack(frames, axes="TYX", metadata=meta)


def free_energy(c: np.ndarray, *, dx: float = 0.01, kappa: float = 0.002, omega: float = 3.0) -> float:
    """Return the regular-solution Ginzburg-Landau free energy of a periodic 2-D field (k_BT units).

    G = sum over pixels of [c ln c + (1-c) ln(1-c) + omega c (1-c) + kappa/2 |grad c|^2] dx^2, with
    forward periodic differences.

    Parameters
    ----------
    c : ndarray, shape (n, n)
        Concentration field in [0, 1] (clipped away from 0 and 1 for the logarithms).
    dx : float
        Grid spacing.
    kappa : float
        Gradient-energy coefficient.
    omega : float
        Regular-solution interaction parameter.

    Returns
    -------
    float
        The free energy G.
    """
    c = np.clip(np.asarray(c, dtype=np.float64), 1e-12, 1 - 1e-12)
    f = c * np.log(c) + (1 - c) * np.log(1 - c) + omega * c * (1 - c)
    gx = (np.roll(c, -1, axis=-1) - c) / dx
    gy = (np.roll(c, -1, axis=-2) - c) / dx
    return float(np.sum(f + 0.5 * kappa * (gx**2 + gy**2)) * dx * dx)
