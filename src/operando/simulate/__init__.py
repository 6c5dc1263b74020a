"""Cahn-Hilliard(-reaction) forward model, differentiable in JAX."""

from ._cahn_hilliard import free_energy, simulate_cahn_hilliard

__all__ = ["free_energy", "simulate_cahn_hilliard"]
