"""Quality and physical-fidelity metrics.

PSNR, SSIM, bias, conditional bias, mass drift, variability and noise kept.
"""

from ._compare import Comparison, compare_to_reference, paired_statistics, register_reference, resample_to_grid
from ._evaluate import Evaluation, default_data_range, evaluate
from ._fidelity import ConditionalBias, conditional_bias, local_std, local_variability, mass_drift, mean_bias, noise_fit
from ._quality import as_frames, psnr, psnr_frames, ssim, ssim_frames
from ._residual import ResidualCheck, check_residual
from ._segmentation import InstanceScore, StageScore, instance_f1, iou_matrix, match_instances, stage_confusion

__all__ = [
    "as_frames",
    "ConditionalBias",
    "Comparison",
    "Evaluation",
    "ResidualCheck",
    "InstanceScore",
    "StageScore",
    "check_residual",
    "compare_to_reference",
    "conditional_bias",
    "default_data_range",
    "evaluate",
    "instance_f1",
    "iou_matrix",
    "local_std",
    "local_variability",
    "mass_drift",
    "match_instances",
    "mean_bias",
    "noise_fit",
    "paired_statistics",
    "psnr",
    "psnr_frames",
    "register_reference",
    "resample_to_grid",
    "ssim",
    "ssim_frames",
    "stage_confusion",
]
