"""Denoisers: self-supervised networks (video, Noise2Void family) and calibrated classical baselines.

``import operando.denoise`` is light; torch is imported when a network is trained or applied. The methods are
rows of one registry (``_methods.METHOD_TABLE``; its docstring says how to add one); ``NEURAL``,
``BASELINES`` and ``METHODS`` are derived from it.
"""

from ._api import denoise
from ._baselines import denoise_baseline
from ._config import TrainConfig, TrainedDenoiser
from ._diagnose import Diagnosis, diagnose
from ._measured import impulse_pixels, keep_measured_pixels
from ._methods import BASELINES, METHODS, NEURAL


def __getattr__(name: str):
    if name == "train_denoiser":
        from ._training import train_denoiser

        return train_denoiser
    if name == "predict":
        from ._inference import predict

        return predict
    if name in ("save_model", "load_model"):
        from . import _model_io

        return getattr(_model_io, name)
    raise AttributeError(name)


__all__ = [
    "BASELINES", "METHODS", "NEURAL", "Diagnosis", "TrainConfig", "TrainedDenoiser", "denoise", "denoise_baseline",
    "diagnose", "impulse_pixels", "keep_measured_pixels", "load_model", "predict", "save_model", "train_denoiser",
]
