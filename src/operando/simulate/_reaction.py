"""Reaction-driven phase field on bounded particles: Allen-Cahn-reaction (ACR) and Cahn-Hilliard-reaction (CHR).

The depth-averaged Li fraction c(x, t) of each particle (a connected set of pixels with one label) evolves by

    mu  = mu_h(c) - kappa lap c + B (c - <c>_p)                 (kT; lap with no flux across the particle's edge)
    R   = k(x) j0(c) [exp(-alpha eta) - exp((1 - alpha) eta)],   eta = mu - mu_e,p(t)
    ACR: dc/dt = R                CHR: dc/dt = R + div(M(c) grad mu)

Lengths are in pixels, energies in kT, time in the unit the rates are given in. Galvanostatic: mu_e,p(t) makes
particle p's mean R equal its current I_p(t) (closed form for alpha = 1/2, Newton otherwise), so each
particle's mean composition changes by exactly I_p dt per step. Potentiostatic: mu_e(t) is given. Explicit
Euler sub-steps; everything is pure JAX, so the inversion differentiates through it (``jax.jacfwd``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .._errors import InputError

C_EPS = 1e-4
#: Directions of the 4-neighbour stencil: (axis, shift).
_DIRECTIONS = ((0, 1), (0, -1), (1, 1), (1, -1))


@dataclass(frozen=True, eq=False)
class ParticleGrid:
    """The particles of a field: labels (0 outside) and, per direction, whether the neighbour is in the same one.

    Attributes
    ----------
    labels : ndarray of int, shape (Y, X)
        0 outside the particles, 1..P inside.
    links : ndarray of float32, shape (4, Y, X)
        1 where the neighbour in direction d (rows +1, rows -1, columns +1, columns -1) has the same nonzero
        label: the faces through which flux may pass (no flux across the particle's edge or the field's).
    counts : ndarray of float, shape (P,)
        Pixels per particle.
    """

    labels: np.ndarray
    links: np.ndarray = field(repr=False)
    counts: np.ndarray

    @property
    def n_particles(self) -> int:
        """Number of particles P."""
        return int(self.counts.size)

    @property
    def mask(self) -> np.ndarray:
        """Pixels inside any particle."""
        return self.labels > 0


def particle_grid(labels: np.ndarray) -> ParticleGrid:
    """Describe the particles of a label image (0 outside, 1..P inside; each label one connected particle).

    Parameters
    ----------
    labels : ndarray of int, shape (Y, X)
        0 outside the particles, 1..P inside.

    Returns
    -------
    ParticleGrid
        The labels, the links through which flux may pass, and the pixel counts.

    Raises
    ------
    InputError
        If there is no particle or the labels are not 1..P.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype.kind not in "iu":
        raise InputError(f"particle labels must be a 2-D integer image, got {labels.dtype} of shape {labels.shape}")
    present = np.unique(labels[labels > 0])
    if present.size == 0:
        raise InputError("no particle: the label image is 0 everywhere")
    if not np.array_equal(present, np.arange(1, present.size + 1)):
        raise InputError(f"particle labels must be 1..P without gaps, got {present.tolist()[:10]}")
    padded = np.pad(labels, 1)
    links = np.zeros((4, *labels.shape), np.float32)
    for d, (axis, shift) in enumerate(_DIRECTIONS):
        neighbour = np.roll(padded, -shift, axis=axis)[1:-1, 1:-1]
        links[d] = (neighbour == labels) & (labels > 0)
    counts = np.bincount(labels.ravel(), minlength=present.size + 1)[1:].astype(float)
    return ParticleGrid(labels=labels.astype(np.int32), links=links, counts=counts)


@dataclass(frozen=True)
class ReactionLaws:
    """The constitutive laws of one run, as JAX functions of c and arrays (a pytree of callables and values).

    Attributes
    ----------
    mu_h : callable
        Homogeneous chemical potential mu_h(c), kT.
    j0 : callable
        Exchange current j0(c) > 0 (rate units, before k).
    kappa : float
        Gradient-energy coefficient, kT px^2.
    log_k : array, shape (Y, X)
        ln k(x) on the particle pixels (anything outside).
    mobility : callable or None
        M(c) for CHR (None: ACR).
    elastic : float
        Mean-field coherency-strain coefficient B, kT (0: none).
    alpha : float
        Transfer coefficient.
    """

    mu_h: Callable
    j0: Callable
    kappa: float
    log_k: object
    mobility: Callable | None = None
    elastic: float = 0.0
    alpha: float = 0.5


def _shift(a, axis: int, shift: int):
    import jax.numpy as jnp

    return jnp.roll(a, -shift, axis=axis)


def particle_means(values, grid: ParticleGrid):
    """Return the mean of ``values`` over each particle, shape (P,)."""
    import jax

    sums = jax.ops.segment_sum(values.ravel(), grid.labels.ravel(), num_segments=grid.n_particles + 1)[1:]
    return sums / grid.counts


def chemical_potential(c, laws: ReactionLaws, grid: ParticleGrid):
    """Return mu = mu_h(c) - kappa lap c (+ B (c - <c>_p)), with no flux across each particle's edge."""
    lap = sum(grid.links[d] * (_shift(c, axis, s) - c) for d, (axis, s) in enumerate(_DIRECTIONS))
    mu = laws.mu_h(c) - laws.kappa * lap
    if laws.elastic:
        mu = mu + laws.elastic * (c - particle_means(c, grid)[grid.labels - 1])
    return mu


def _electrode_potential(mu, rate, current, laws: ReactionLaws, grid: ParticleGrid):
    """Return mu_e of each particle (P,) such that the particle's mean reaction rate equals its current.

    ``rate`` is k j0 on each pixel. For alpha = 1/2 with u = exp(mu_e / 2) the condition is
    A u - B / u = I, with A = <rate exp(-mu/2)> and B = <rate exp(mu/2)>: u = (I + sqrt(I^2 + 4 A B)) / (2 A).
    Other alpha: Newton on mu_e from the alpha = 1/2 value.
    """
    import jax.numpy as jnp

    shift = particle_means(mu, grid)  # factored out for range: exp of (mu - mean mu) stays moderate
    centred = mu - shift[grid.labels - 1]
    a = particle_means(rate * jnp.exp(-0.5 * centred), grid)
    b = particle_means(rate * jnp.exp(0.5 * centred), grid)
    u = (current + jnp.sqrt(current**2 + 4 * a * b)) / (2 * a)
    mu_e = 2 * jnp.log(u)
    if laws.alpha != 0.5:
        alpha = laws.alpha
        for _ in range(8):
            eta = centred - mu_e[grid.labels - 1]
            f = particle_means(rate * (jnp.exp(-alpha * eta) - jnp.exp((1 - alpha) * eta)), grid) - current
            df = particle_means(rate * (alpha * jnp.exp(-alpha * eta) + (1 - alpha) * jnp.exp((1 - alpha) * eta)),
                                grid)
            mu_e = mu_e - f / df
    return mu_e + shift


def _terms(c, laws: ReactionLaws, grid: ParticleGrid, current=None, mu_e=None):
    """Return dc/dt and its stiffness D >= 0 (minus the diagonal of its Jacobian, leading terms) on every pixel."""
    import jax
    import jax.numpy as jnp

    inside = grid.labels > 0
    c = jnp.where(inside, jnp.clip(c, C_EPS, 1 - C_EPS), 0.5)
    mu = chemical_potential(c, laws, grid)
    rate = jnp.exp(laws.log_k) * laws.j0(c)
    if current is not None:
        mu_e = _electrode_potential(mu, rate, current, laws, grid)
    mu_e = jnp.broadcast_to(jnp.asarray(mu_e, mu.dtype), (grid.n_particles,))
    eta = mu - mu_e[grid.labels - 1]
    alpha = laws.alpha
    forward, backward = jnp.exp(-alpha * eta), jnp.exp((1 - alpha) * eta)
    dc = rate * (forward - backward)
    n_links = jnp.sum(jnp.asarray(grid.links), axis=0)
    slope = jax.jvp(laws.mu_h, (c,), (jnp.ones_like(c),))[1] + laws.kappa * n_links + laws.elastic
    stiffness = rate * (alpha * forward + (1 - alpha) * backward) * jnp.maximum(slope, 0.0)
    if laws.mobility is not None:
        m = laws.mobility(c)
        dc = dc + sum(grid.links[d] * 0.5 * (m + _shift(m, axis, s)) * (_shift(mu, axis, s) - mu)
                      for d, (axis, s) in enumerate(_DIRECTIONS))
        stiffness = stiffness + m * n_links * jnp.maximum(slope, 0.0)
    return jnp.where(inside, dc, 0.0), jnp.where(inside, stiffness, 0.0)


def rate_of_change(c, laws: ReactionLaws, grid: ParticleGrid, current=None, mu_e=None):
    """Return dc/dt on every pixel (0 outside the particles).

    Parameters
    ----------
    c : array, shape (Y, X)
        Li fraction.
    laws : ReactionLaws
        mu_h, j0, kappa, ln k (and M for CHR).
    grid : ParticleGrid
        The particles.
    current : array, shape (P,), optional
        Each particle's current (galvanostatic control).
    mu_e : float or array of shape (P,), optional
        The electrode's chemical potential, kT (potentiostatic control).

    Returns
    -------
    jax.Array, shape (Y, X)
        dc/dt.
    """
    return _terms(c, laws, grid, current, mu_e)[0]


#: ROS2's gamma (Verwer et al. 1999): second order for any approximation of the Jacobian (a W-method).
ROS2_GAMMA = 1.0 + 1.0 / np.sqrt(2.0)


def integrate_particles(c0, laws: ReactionLaws, grid: ParticleGrid, *, drive, steps_per_frame: int, dt: float,
                        galvanostatic: bool = True, scheme: str = "ros2"):
    """Integrate from ``c0`` and return the frames after each interval, shape (F, Y, X).

    ``scheme="ros2"`` (default) is the two-stage Rosenbrock W-method ROS2 (Verwer, Spee, Blom & Hundsdorfer
    1999) with the Jacobian replaced by its leading diagonal -D: with W = 1 + gamma dt D,
    ``k1 = f(c) / W``, ``k2 = (f(c + dt k1) - 2 k1) / W``, ``c += dt (3 k1 + k2) / 2``, second order in dt
    for any such W and stable where mu_h'(c) is large (near c = 0 and 1). ``scheme="euler"``:
    ``c += dt f / (1 + dt D)``, first order. Galvanostatic stages get per particle the constant that makes
    their mean exactly I_p (k1) and -I_p (k2), so each particle's mean changes by dt I_p per step (mass
    consistent to round-off).

    Parameters
    ----------
    c0 : array, shape (Y, X)
        Starting state (values outside the particles are kept as they are).
    laws, grid
        The model.
    drive : array, shape (F, P) or (F,)
        Per interval: each particle's current (galvanostatic) or the electrode's mu_e (potentiostatic).
    steps_per_frame : int
        Steps per interval.
    dt : float
        Step length (interval / steps_per_frame).
    galvanostatic : bool
        Whether ``drive`` holds currents (else electrode potentials).
    scheme : {"ros2", "euler"}
        Time stepping.

    Returns
    -------
    jax.Array, shape (F, Y, X)
        The state after each interval (float32 unless JAX runs in 64-bit).
    """
    import jax
    import jax.numpy as jnp

    inside = jnp.asarray(grid.labels > 0)
    index = jnp.asarray(np.maximum(grid.labels, 1) - 1)
    gamma = ROS2_GAMMA if scheme == "ros2" else 1.0

    def terms(c, value):
        if galvanostatic:
            return _terms(c, laws, grid, current=value)
        return _terms(c, laws, grid, mu_e=value)

    def held(k, target):
        return k + (target - particle_means(k, grid))[index] if galvanostatic else k

    def step(c, value):
        f, stiff = terms(c, value)
        w = 1.0 + gamma * dt * stiff
        k1 = held(f / w, value)
        if scheme != "ros2":
            return c + jnp.where(inside, dt * k1, 0.0)
        f2, _ = terms(c + dt * k1, value)
        k2 = held((f2 - 2.0 * k1) / w, -value if galvanostatic else 0.0)
        return c + jnp.where(inside, dt * (1.5 * k1 + 0.5 * k2), 0.0)

    def frame(c, value):
        c = jax.lax.fori_loop(0, steps_per_frame, lambda _, x: step(x, value), c)
        return c, c

    _, frames = jax.lax.scan(frame, jnp.asarray(c0), jnp.asarray(drive))
    return frames


def stable_step(laws_scale: float, kappa: float, c_min: float = 0.02) -> float:
    """Return a safe explicit step for rates up to ``laws_scale`` (max k j0 cosh(eta/2)) and gradient energy kappa.

    The stiffest mode of ACR relaxes at rate ~ k j0 (mu_h'(c) + 8 kappa); explicit Euler needs dt below 2 / rate.
    Half of that is returned.
    """
    stiffness = laws_scale * (1.0 / (c_min * (1 - c_min)) + 8.0 * kappa)
    return 1.0 / stiffness
