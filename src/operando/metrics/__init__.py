"""Quality and physical-fidelity metrics.

PSNR, SSIM, bias, conditional bias, mass drift, variability and noise kept.
"""

from ._evaluate import Evaluation, default_data_range, evaluate
from ._fidelity import ConditionalBias, conditional_bias, local_variability, mass_drift, mean_bias, noise_fit
from ._quality import psnr, psnr_frames, ssim, ssim_frames

__all__ = [
    "ConditionalBias",
    "Evaluation",
    "conditional_bias",
    "default_data_range",
    "evaluate",
    "local_variability",
    "mass_drift",
    "mean_bias",
    "noise_fit",
    "psnr",
    "psnr_frames",
    "ssim",
    "ssim_frames",
]
