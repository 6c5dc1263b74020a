"""Noise models and the measurement of how real noise is correlated.

Models (all seeded): Gaussian, Poisson, impulse, mixed, scan-line, fixed-pattern, PSF-correlated, scintillator.
The ONE autocorrelation of a residual or noise image: ``noise_autocorrelation`` (correlation length and area).
Robust statistics: ``robust_sd`` (1.4826 x MAD), ``temporal_noise_sd`` (from second differences in time) and
``subsample``.
"""

from ._autocorrelation import Autocorrelation, noise_autocorrelation
from ._correlation import NoiseCorrelation, measure_noise_correlation, psd_from_autocovariance
from ._models import (
    add_correlated_noise,
    add_fixed_pattern_noise,
    add_gaussian_noise,
    add_impulse_noise,
    add_mixed_noise,
    add_poisson_noise,
    add_scanline_noise,
    add_scintillator_noise,
    correlated_noise_kernel,
)
from ._robust import robust_sd, subsample, temporal_noise_sd
from ._spec import NOISE_HELP, NoiseModel, corrupt, parse_noise

__all__ = [
    "Autocorrelation",
    "NOISE_HELP",
    "NoiseCorrelation",
    "NoiseModel",
    "add_correlated_noise",
    "add_fixed_pattern_noise",
    "add_gaussian_noise",
    "add_impulse_noise",
    "add_mixed_noise",
    "add_poisson_noise",
    "add_scanline_noise",
    "add_scintillator_noise",
    "correlated_noise_kernel",
    "corrupt",
    "measure_noise_correlation",
    "noise_autocorrelation",
    "parse_noise",
    "psd_from_autocovariance",
    "robust_sd",
    "temporal_noise_sd",
    "subsample",
]
