"""Denoisers: self-supervised networks (video, Noise2Void family) and calibrated classical baselines.

``import operando.denoise`` is light; torch is imported when a network is trained or applied.
"""

from ._api import BASELINES, METHODS, NEURAL, denoise, denoise_baseline
from ._diagnose import Diagnosis, diagnose
from ._measured import impulse_pixels, keep_measured_pixels


def __getattr__(name: str):
    if name in ("train_denoiser", "TrainConfig", "TrainedDenoiser"):
        from . import _training

        return getattr(_training, name)
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
