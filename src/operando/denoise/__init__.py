"""Denoisers: self-supervised networks (video, Noise2Void family) and calibrated classical baselines.

``import operando.denoise`` is light; torch is imported when a network is trained or applied. The methods are
rows of one registry (``_methods.METHOD_TABLE``; its docstring says how to add one); ``NEURAL``,
``BASELINES`` and ``METHODS`` are derived from it.
"""

from ._api import denoise
from ._auto import AutoChoice, choose_method
from ._baselines import denoise_baseline
from ._config import TrainConfig, TrainedDenoiser, make_config
from ._diagnose import Diagnosis, diagnose
from ._joint import joint_bm3d, joint_tv
from ._masked_data import denoise_masked, fill_invalid
from ._measured import impulse_pixels, keep_measured_pixels
from ._methods import BASELINES, METHODS, NEURAL, check_method, method_entry, method_names


def __getattr__(name: str):
    if name == "train_denoiser":
        from ._training import train_denoiser

        return train_denoiser
    if name in ("predict", "denoise_with_params"):
        from . import _inference

        return getattr(_inference, name)
    if name in ("denoise_pixel_shuffle", "train_pixel_shuffle", "apply_pixel_shuffle"):
        from . import _pixel_shuffle

        return getattr(_pixel_shuffle, name)
    if name == "denoise_bm3d":
        from ._bm3d import denoise_bm3d

        return denoise_bm3d
    if name in ("save_model", "load_model", "model_files", "check_model_path"):
        from . import _model_io

        return getattr(_model_io, name)
    raise AttributeError(name)


__all__ = [
    "joint_bm3d", "joint_tv",
    "BASELINES", "METHODS", "NEURAL", "AutoChoice", "Diagnosis", "TrainConfig", "TrainedDenoiser", "choose_method",
    "denoise", "denoise_baseline", "denoise_bm3d", "denoise_with_params", "denoise_pixel_shuffle", "diagnose",
    "impulse_pixels", "keep_measured_pixels", "load_model", "model_files", "check_model_path", "predict",
    "save_model", "train_denoiser", "make_config", "method_entry",
    "apply_pixel_shuffle", "train_pixel_shuffle", "check_method", "method_names", "denoise_masked", "fill_invalid",
]
