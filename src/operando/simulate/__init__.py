"""Cahn-Hilliard(-reaction) forward model, differentiable in JAX.

``simulate_cahn_hilliard`` makes a video; ``SpectralGrid``, ``make_step`` and ``integrate_frames`` are the pure
JAX cores it is built from, public so that the inversion (``operando.inverse``) integrates the same scheme.
"""

from ._cahn_hilliard import free_energy, simulate_cahn_hilliard
from ._spectral import SpectralGrid, integrate_frames, make_step

__all__ = ["SpectralGrid", "free_energy", "integrate_frames", "make_step", "simulate_cahn_hilliard"]
