"""Give a denoised colour video back the local colours of the measured frames (colour guided filter).

A blind-spot denoiser predicts each pixel from its neighbours only, so at a thin stage ring its output is pulled
towards the neighbouring stage's colour. The guided filter of He, Sun & Tang (2010, 2013) with the denoised frame
as the (colour) guide and the measured frame as the input keeps the guide's edges but takes its local colour from
an affine fit to the measured pixels, whose noise has zero mean.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .._errors import InputError
from .._progress import Progress, emit


def _box(image: np.ndarray, size: int) -> np.ndarray:
    return ndi.uniform_filter(image, size=size, mode="reflect")


def _guided_frame(guide: np.ndarray, measured: np.ndarray, size: int, eps: float) -> np.ndarray:
    """Colour guided filter of one frame: ``guide`` and ``measured`` are (Y, X, 3) float64."""
    mean_g = np.stack([_box(guide[..., c], size) for c in range(3)], -1)
    cov = np.empty(guide.shape[:2] + (3, 3))
    for i in range(3):
        for j in range(i, 3):
            cov[..., i, j] = cov[..., j, i] = _box(guide[..., i] * guide[..., j], size) - mean_g[..., i] * mean_g[
                ..., j]
    cov += eps * np.eye(3)
    out = np.empty_like(measured)
    for c in range(measured.shape[-1]):
        mean_p = _box(measured[..., c], size)
        cross = np.stack([_box(guide[..., k] * measured[..., c], size) for k in range(3)], -1) - mean_g * mean_p[
            ..., None]
        slope = np.linalg.solve(cov, cross[..., None])[..., 0]
        offset = mean_p - (slope * mean_g).sum(-1)
        mean_slope = np.stack([_box(slope[..., k], size) for k in range(3)], -1)
        out[..., c] = (mean_slope * guide).sum(-1) + _box(offset, size)
    return out


def estimate_noise_variance(denoised: np.ndarray, measured: np.ndarray) -> float:
    """Estimate the variance of the measurement noise from the residual of a denoiser.

    Parameters
    ----------
    denoised, measured : ndarray, shape (..., 3)
        Denoised and measured colour frames on the same scale.

    Returns
    -------
    float
        ``median(r**2) / 0.4549`` of the residual ``r = measured - denoised`` over all pixels and channels (the
        median of a squared standard normal is 0.4549, so this is the Gaussian variance, robust to the few
        pixels where the denoiser is biased). Above 2 million values, an evenly strided subsample is used.
    """
    a, b = np.asarray(measured).reshape(-1), np.asarray(denoised).reshape(-1)
    step = max(1, a.size // 2_000_000)
    residual = a[::step].astype(np.float64) - b[::step].astype(np.float64)
    return float(np.median(residual**2) / 0.4549)


def restore_colour(
    denoised: np.ndarray,
    measured: np.ndarray,
    *,
    radius_px: int = 1,
    eps: float | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Restore the measured local colours under a denoised colour video's edges (colour guided filter).

    For every window ``w`` of ``(2 r + 1)**2`` pixels of a frame, the measured channel ``p`` is fitted as an
    affine function of the denoised RGB guide ``I``: ``a_w = (Sigma_w + eps 1)^-1 cov_w(I, p)``, ``b_w = mean_w(p)
    - a_w . mean_w(I)``; the output is ``q = mean(a) . I + mean(b)`` (coefficients averaged over the windows
    covering the pixel). Each window's fitted values have the mean of the measured pixels, so the colour of a
    region is the measured one (noise averaged out) rather than the guide's colour pulled towards its neighbours.

    Parameters
    ----------
    denoised : ndarray, shape (T, Y, X, 3) or (Y, X, 3)
        The denoiser's output (the guide), float on the scale of ``measured``.
    measured : ndarray, same shape
        The measured (noisy) frames.
    radius_px : int
        Window radius ``r`` in pixels (1: 3 x 3 windows).
    eps : float, optional
        Ridge term of the fit. Default: half the variance of a window mean of the noise, ``sigma**2 / (2 (2 r +
        1)**2)``, with ``sigma**2`` from :func:`estimate_noise_variance`.
    progress : callable, optional
        Called with a :class:`operando.ProgressEvent` before each frame; raise :class:`operando.Cancelled` in it
        to stop.

    Returns
    -------
    ndarray of float32, the input's shape
        The restored frames.
    """
    guide, data = np.asarray(denoised), np.asarray(measured)
    if guide.shape != data.shape or guide.ndim not in (3, 4) or guide.shape[-1] != 3:
        raise InputError(f"restore_colour needs denoised and measured frames of one shape (T, Y, X, 3) or (Y, X, 3), "
                         f"got {guide.shape} and {data.shape}; pass the RGB video and its denoised copy")
    if radius_px < 1:
        raise InputError(f"radius_px must be >= 1, got {radius_px}; use 1 (3 x 3 windows) or more")
    size = 2 * int(radius_px) + 1
    if eps is None:
        eps = estimate_noise_variance(guide, data) / (2 * size**2)
    if not eps > 0:
        raise InputError(f"eps must be > 0, got {eps}; leave it out to derive it from the noise")
    frames = (guide[None], data[None]) if guide.ndim == 3 else (guide, data)
    restored = []
    for t, (g, m) in enumerate(zip(*frames, strict=True)):
        emit(progress, t / len(frames[0]), f"frame {t + 1}/{len(frames[0])}")
        restored.append(_guided_frame(g.astype(np.float64), m.astype(np.float64), size, float(eps)))
    out = np.stack(restored).astype(np.float32)
    return out[0] if guide.ndim == 3 else out
