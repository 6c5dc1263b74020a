"""Noise models: Gaussian, Poisson, impulse, mixed, scan-line and fixed-pattern, all seeded."""

from ._models import (
    add_fixed_pattern_noise,
    add_gaussian_noise,
    add_impulse_noise,
    add_mixed_noise,
    add_poisson_noise,
    add_scanline_noise,
)
from ._spec import NOISE_HELP, NoiseModel, corrupt, parse_noise

__all__ = [
    "NOISE_HELP",
    "NoiseModel",
    "add_fixed_pattern_noise",
    "add_gaussian_noise",
    "add_impulse_noise",
    "add_mixed_noise",
    "add_poisson_noise",
    "add_scanline_noise",
    "corrupt",
    "parse_noise",
]
