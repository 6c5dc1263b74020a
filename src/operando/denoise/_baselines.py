"""Classical denoisers with parameters chosen self-supervised by J-invariant calibration.

A J-invariant version of each filter never looks at the pixel it estimates, so its mean squared error
against the *noisy* data equals the error against the clean data plus the noise variance (Batson & Royer,
Noise2Self, 2019); minimising it over a parameter grid picks the parameters without clean data.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calibration:
    """Parameters chosen by J-invariant calibration and the self-supervised loss of each candidate."""

    best: dict[str, float]
    candidates: tuple[dict[str, float], ...]
    losses: tuple[float, ...]


def _gaussian_weights_center(sigma: Sequence[float]) -> float:
    """Weight the Gaussian filter gives the centre pixel (product of 1-D centre weights)."""
    shape = tuple(2 * int(4 * s + 0.5) + 1 if s > 0 else 1 for s in sigma)
    delta = np.zeros(shape)
    delta[tuple(n // 2 for n in shape)] = 1.0
    return float(ndimage.gaussian_filter(delta, sigma, mode="constant")[tuple(n // 2 for n in shape)])


def gaussian_filter_seq(seq: np.ndarray, *, sigma_t: float, sigma_s: float, j_invariant: bool = False) -> np.ndarray:
    """Space-time Gaussian filter of (S, Y, X) data (reflect boundaries); optionally J-invariant."""
    sig = (sigma_t if seq.shape[0] > 1 else 0.0, sigma_s, sigma_s)
    out = ndimage.gaussian_filter(seq, sig, mode="reflect")
    if j_invariant:
        w0 = _gaussian_weights_center(sig)
        out = (out - w0 * seq) / (1.0 - w0)
    return out


def median_filter_seq(seq: np.ndarray, *, size_t: int, size_s: int, j_invariant: bool = False) -> np.ndarray:
    """Space-time median filter of (S, Y, X) data over a size_t x size_s x size_s box."""
    st = size_t if seq.shape[0] > 1 else 1
    footprint = np.ones((st, size_s, size_s), bool)
    if j_invariant:
        footprint[st // 2, size_s // 2, size_s // 2] = False
    return ndimage.median_filter(seq, footprint=footprint, mode="reflect")


def _frame_j_invariant(fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray, stride: int = 4) -> np.ndarray:
    """J-invariant version of a 2-D denoiser: each pixel of a stride grid is replaced by its neighbours' mean."""
    kernel = np.array([[0.0, 0.25, 0.0], [0.25, 0.0, 0.25], [0.0, 0.25, 0.0]])
    interp = ndimage.convolve(image, kernel, mode="reflect")
    out = np.empty_like(image)
    for dy, dx in itertools.product(range(stride), range(stride)):
        mask = np.zeros(image.shape, bool)
        mask[dy::stride, dx::stride] = True
        masked = np.where(mask, interp, image)
        out[mask] = fn(masked)[mask]
    return out


def nlm_frame(image: np.ndarray, *, h: float, sigma: float) -> np.ndarray:
    """Non-local means of one 2-D frame (scikit-image, fast mode)."""
    from skimage.restoration import denoise_nl_means

    return denoise_nl_means(image, h=h, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True)


def tv_frame(image: np.ndarray, *, weight: float) -> np.ndarray:
    """Total-variation (Chambolle) denoising of one 2-D frame (scikit-image)."""
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(image, weight=weight)


def estimate_sigma(seq: np.ndarray) -> float:
    """Gaussian noise sigma from the wavelet-free MAD of a Laplacian-like residual (Immerkaer 1996), averaged."""
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], float)
    frames = seq.reshape(-1, *seq.shape[-2:])[:: max(1, seq.reshape(-1, *seq.shape[-2:]).shape[0] // 8)]
    vals = [np.sqrt(np.pi / 2) / 6 * np.mean(np.abs(ndimage.convolve(f, k, mode="reflect"))) for f in frames]
    return float(np.median(vals))


def _calibrate(
    loss_of: Callable[[dict[str, float]], float], grid: list[dict[str, float]]
) -> Calibration:
    losses = tuple(float(loss_of(p)) for p in grid)
    best = grid[int(np.argmin(losses))]
    logger.info("calibration picked %s", best)
    return Calibration(best=best, candidates=tuple(grid), losses=losses)


def calibrate_baseline(method: str, seq: np.ndarray) -> Calibration:
    """Choose a baseline's parameters on (S, Y, X) data by minimising the J-invariant self-supervised loss."""
    if method == "gaussian":
        ts = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0] if seq.shape[0] > 1 else [0.0]
        grid = [{"sigma_t": t, "sigma_s": s} for t in ts for s in (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)]
        return _calibrate(lambda p: np.mean((gaussian_filter_seq(seq, **p, j_invariant=True) - seq) ** 2), grid)
    if method == "median":
        ts = [1, 3, 5] if seq.shape[0] > 1 else [1]
        grid = [{"size_t": t, "size_s": s} for t in ts for s in (3, 5)]
        return _calibrate(lambda p: np.mean((median_filter_seq(seq, **p, j_invariant=True) - seq) ** 2), grid)
    # per-frame 2-D methods: calibrate on up to three frames
    picks = seq[np.linspace(0, seq.shape[0] - 1, min(3, seq.shape[0])).astype(int)]
    sigma = max(estimate_sigma(seq), 1e-6)
    if method == "nlm":
        grid = [{"h": f * sigma, "sigma": sigma} for f in (0.4, 0.6, 0.8, 1.0, 1.2)]
        fn: Callable = nlm_frame
    elif method == "tv":
        grid = [{"weight": f * sigma} for f in (0.25, 0.5, 1.0, 2.0, 4.0)]
        fn = tv_frame
    else:
        raise ValueError(method)
    return _calibrate(
        lambda p: np.mean([np.mean((_frame_j_invariant(lambda im: fn(im, **p), f) - f) ** 2) for f in picks]), grid
    )


def apply_baseline(method: str, seq: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """Apply a baseline with fixed parameters to (S, Y, X) data."""
    if method == "gaussian":
        return gaussian_filter_seq(seq, **params)
    if method == "median":
        return median_filter_seq(seq, size_t=int(params["size_t"]), size_s=int(params["size_s"]))
    fn = nlm_frame if method == "nlm" else tv_frame
    return np.stack([fn(f, **params) for f in seq]).astype(seq.dtype)
