"""Denoisers: self-supervised networks (video, Noise2Void family) and calibrated classical baselines."""

from ._api import BASELINES, METHODS, NEURAL, denoise, denoise_baseline

__all__ = ["BASELINES", "METHODS", "NEURAL", "denoise", "denoise_baseline"]
