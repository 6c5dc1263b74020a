"""Cahn-Hilliard(-reaction) forward model, differentiable in JAX.

``simulate_cahn_hilliard`` makes a video; ``SpectralGrid``, ``make_step`` and ``integrate_frames`` are the pure
JAX cores it is built from, public so that the inversion (``operando.inverse``) integrates the same scheme.
"""

from ._cahn_hilliard import free_energy, simulate_cahn_hilliard
from ._kinetics_phantom import KineticsPhantom, KineticsPhantomConfig, simulate_kinetics
from ._reaction import ParticleGrid, ReactionLaws, integrate_particles, particle_grid, rate_of_change
from ._regular_solution import simulate_regular_solution
from ._spectral import SpectralGrid, integrate_frames, make_step

__all__ = [
    "KineticsPhantom", "KineticsPhantomConfig", "ParticleGrid", "ReactionLaws", "SpectralGrid", "free_energy",
    "integrate_frames", "integrate_particles", "make_step", "particle_grid", "rate_of_change",
    "simulate_cahn_hilliard", "simulate_kinetics", "simulate_regular_solution",
]
