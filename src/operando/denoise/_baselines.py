"""Classical denoisers with parameters chosen self-supervised by J-invariant calibration.

A J-invariant version of each filter never looks at the pixel it estimates, so its mean squared error
against the *noisy* data equals the error against the clean data plus the noise variance (Batson & Royer,
Noise2Self, 2019); minimising it over a parameter grid picks the parameters without clean data.

The per-frame filters (non-local means, total variation) are calibrated by scikit-image's
``calibrate_denoiser`` (masked interpolation, exact loss). The space-time Gaussian and median keep their own
exact J-invariant forms (the centre tap removed), one filter call per candidate instead of stride^2 masked
calls: 2x faster than ``calibrate_denoiser`` on a 64 x 64 x 16 video (docs/denoising.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._progress import Progress, emit
from .._stack import Stack, as_stack
from ._layout import from_working, to_working, with_record

logger = logging.getLogger(__name__)

Method = Literal["gaussian", "median", "nlm", "tv"]
CALIBRATED = ("gaussian", "median", "nlm", "tv")  # the methods calibrate_baseline knows (registry: calibrated=True)


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
    """Space-time Gaussian filter of (S, Y, X) data (reflect boundaries); optionally J-invariant.

    Parameters
    ----------
    seq : ndarray, shape (S, Y, X)
        A sequence of frames (S = 1 for a single image).
    sigma_t, sigma_s : float
        Standard deviations along the sequence and in space, in frames and pixels.
    j_invariant : bool
        Remove the centre tap's contribution (the filter never sees the pixel it estimates).

    Returns
    -------
    ndarray, shape (S, Y, X)
        The filtered sequence.
    """
    sig = (sigma_t if seq.shape[0] > 1 else 0.0, sigma_s, sigma_s)
    out = ndimage.gaussian_filter(seq, sig, mode="reflect")
    if j_invariant:
        w0 = _gaussian_weights_center(sig)
        out = (out - w0 * seq) / (1.0 - w0)
    return out


def median_filter_seq(seq: np.ndarray, *, size_t: int, size_s: int, j_invariant: bool = False) -> np.ndarray:
    """Space-time median filter of (S, Y, X) data over a size_t x size_s x size_s box.

    Parameters
    ----------
    seq : ndarray, shape (S, Y, X)
        A sequence of frames (S = 1 for a single image).
    size_t, size_s : int
        Box size along the sequence and in space.
    j_invariant : bool
        Leave the centre pixel out of the footprint.

    Returns
    -------
    ndarray, shape (S, Y, X)
        The filtered sequence.
    """
    st = size_t if seq.shape[0] > 1 else 1
    footprint = np.ones((st, size_s, size_s), bool)
    if j_invariant:
        footprint[st // 2, size_s // 2, size_s // 2] = False
    return ndimage.median_filter(seq, footprint=footprint, mode="reflect")


def nlm_frame(image: np.ndarray, *, h: float, sigma: float) -> np.ndarray:
    """Non-local means of one 2-D frame (scikit-image, fast mode).

    Parameters
    ----------
    image : ndarray, shape (Y, X)
        One frame.
    h : float
        Cut-off distance (filter strength).
    sigma : float
        Noise standard deviation.

    Returns
    -------
    ndarray, shape (Y, X)
        The denoised frame.
    """
    from skimage.restoration import denoise_nl_means

    return denoise_nl_means(image, h=h, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True)


def tv_frame(image: np.ndarray, *, weight: float) -> np.ndarray:
    """Total-variation (Chambolle) denoising of one 2-D frame (scikit-image).

    Parameters
    ----------
    image : ndarray, shape (Y, X)
        One frame.
    weight : float
        Denoising weight (larger: smoother).

    Returns
    -------
    ndarray, shape (Y, X)
        The denoised frame.
    """
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(image, weight=weight)


def estimate_sigma(seq: np.ndarray) -> float:
    """Estimate Gaussian noise sigma from the mean absolute Laplacian-like residual (Immerkaer 1996).

    Parameters
    ----------
    seq : ndarray, shape (..., Y, X)
        Frames (up to 8 evenly spaced ones are used).

    Returns
    -------
    float
        The estimated noise standard deviation.
    """
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
    """Choose a baseline's parameters on (S, Y, X) data by minimising the J-invariant self-supervised loss.

    Parameters
    ----------
    method : {"gaussian", "median", "nlm", "tv"}
        The filter.
    seq : ndarray, shape (S, Y, X)
        A sequence of frames (S = 1 for a single image).

    Returns
    -------
    Calibration
        The chosen parameters and every candidate's self-supervised loss.
    """
    if method == "gaussian":
        ts = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0] if seq.shape[0] > 1 else [0.0]
        grid = [{"sigma_t": t, "sigma_s": s} for t in ts for s in (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)]
        return _calibrate(lambda p: np.mean((gaussian_filter_seq(seq, **p, j_invariant=True) - seq) ** 2), grid)
    if method == "median":
        ts = [1, 3, 5] if seq.shape[0] > 1 else [1]
        grid = [{"size_t": t, "size_s": s} for t in ts for s in (3, 5)]
        return _calibrate(lambda p: np.mean((median_filter_seq(seq, **p, j_invariant=True) - seq) ** 2), grid)
    # per-frame 2-D methods: scikit-image's J-invariant calibration (exact loss) on up to three frames
    picks = seq[np.linspace(0, seq.shape[0] - 1, min(3, seq.shape[0])).astype(int)]
    sigma = max(estimate_sigma(seq), 1e-6)
    if method == "nlm":
        params = {"h": [f * sigma for f in (0.4, 0.6, 0.8, 1.0, 1.2)], "sigma": [sigma]}
        fn: Callable = nlm_frame
    elif method == "tv":
        params = {"weight": [f * sigma for f in (0.25, 0.5, 1.0, 2.0, 4.0)]}
        fn = tv_frame
    else:
        raise InputError(f"unknown baseline {method!r}; choose one of {', '.join(CALIBRATED)}")
    return _calibrate_frames(fn, params, picks)


def _calibrate_frames(fn: Callable, params: dict[str, list[float]], frames: np.ndarray) -> Calibration:
    """Sum ``skimage.restoration.calibrate_denoiser``'s self-supervised losses over frames; pick the least."""
    from skimage.restoration import calibrate_denoiser

    total = None
    for frame in frames:
        _, (tested, losses) = calibrate_denoiser(frame, fn, params, extra_output=True, approximate_loss=False)
        total = np.asarray(losses, float) if total is None else total + np.asarray(losses, float)
    best = tested[int(np.argmin(total))]
    logger.info("calibration picked %s", best)
    return Calibration(best=best, candidates=tuple(tested), losses=tuple(float(v) for v in total / len(frames)))


def apply_baseline(method: str, seq: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """Apply a baseline with fixed parameters to (S, Y, X) data.

    Parameters
    ----------
    method : {"gaussian", "median", "nlm", "tv"}
        The filter.
    seq : ndarray, shape (S, Y, X)
        A sequence of frames (S = 1 for a single image).
    params : dict
        Its parameters (from :func:`calibrate_baseline`).

    Returns
    -------
    ndarray, shape (S, Y, X)
        The filtered sequence.
    """
    if method == "gaussian":
        return gaussian_filter_seq(seq, **params)
    if method == "median":
        return median_filter_seq(seq, size_t=int(params["size_t"]), size_s=int(params["size_s"]))
    fn = nlm_frame if method == "nlm" else tv_frame
    return np.stack([fn(f, **params) for f in seq]).astype(seq.dtype)


def denoise_baseline(
    data: Stack | np.ndarray,
    *,
    method: Method = "gaussian",
    axes: str | None = None,
    progress: Progress | None = None,
) -> Stack | np.ndarray:
    """Denoise with a classical filter whose parameters are chosen self-supervised (J-invariant calibration).

    Parameters
    ----------
    data : Stack or ndarray
        Image, video (``T``) or spectral (``E``) stack; RGB (``C``) channels are calibrated separately.
    method : {"gaussian", "median", "nlm", "tv"}
        Space-time Gaussian, space-time median, per-frame non-local means, per-frame total variation.
    axes : str, optional
        Axes of a plain array (e.g. ``"TYX"``).
    progress : callable, optional
        Receives a :class:`~operando.ProgressEvent` after each channel's calibration and each filtered
        sequence; raising :class:`~operando.Cancelled` from it stops the run there.

    Returns
    -------
    Stack or ndarray
        Same type, shape and dtype as the input. The chosen parameters are in
        ``metadata.extra["denoise"]`` of a returned Stack.
    """
    if method not in CALIBRATED:
        raise InputError(f"unknown baseline {method!r}; choose one of {', '.join(CALIBRATED)}")
    stack = as_stack(data, axes=axes)
    work, layout = to_working(stack)
    out = np.empty_like(work)
    chosen = []
    n_c = work.shape[2]
    n_b = work.shape[0]
    for c in range(n_c):
        calib = calibrate_baseline(method, work[0, :, c])
        chosen.append(calib.best)
        emit(progress, (c + 0.5) / n_c, f"{method}: channel {c + 1}/{n_c} calibrated")
        for b in range(n_b):
            out[b, :, c] = apply_baseline(method, work[b, :, c], calib.best)
            emit(progress, (c + 0.5 + 0.5 * (b + 1) / n_b) / n_c, f"{method}: channel {c + 1}/{n_c}")
    result = with_record(from_working(out, layout, stack), {"method": method, "params": chosen})
    return result if isinstance(data, Stack) else result.data


def run_baseline(stack: Stack, settings) -> Stack:
    """Registry runner of the calibrated baselines: :func:`denoise_baseline` with ``settings.method``.

    Parameters
    ----------
    stack : Stack
        The noisy stack.
    settings : RunSettings
        ``method`` and ``progress`` are used.

    Returns
    -------
    Stack
        The denoised stack.
    """
    return denoise_baseline(stack, method=settings.method, progress=settings.progress)
