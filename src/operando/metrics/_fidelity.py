"""Physical-fidelity metrics: bias, conditional bias, mass drift and local spatiotemporal variability."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._stack import Stack, as_stack
from ._quality import as_frames


def mean_bias(clean, test, *, axes: str | None = None) -> float:
    """Return the mean of ``test - clean`` over the whole stack.

    Parameters
    ----------
    clean, test : Stack or ndarray
        Reference and estimate, same shape.
    axes : str, optional
        Axes of plain arrays.

    Returns
    -------
    float
        The mean error, in the data's units.
    """
    a, b = as_frames(clean, axes=axes), as_frames(test, axes=axes)
    if a.shape != b.shape:
        raise InputError(f"shapes differ: clean {a.shape} vs test {b.shape}")
    return float(np.mean(b - a))


@dataclass(frozen=True)
class ConditionalBias:
    """E[test - clean | clean] in bins of the clean value."""

    centers: np.ndarray
    bias: np.ndarray
    counts: np.ndarray

    def max_abs(self, min_count: int = 1) -> float:
        """Largest |bias| over bins holding at least ``min_count`` pixels."""
        keep = self.counts >= min_count
        return float(np.max(np.abs(self.bias[keep]))) if keep.any() else float("nan")


def conditional_bias(
    clean, test, *, bins: int = 20, value_range: tuple[float, float] | None = None, axes: str | None = None
) -> ConditionalBias:
    """Return E[test - clean | clean] in equal bins of the clean value.

    Parameters
    ----------
    clean, test : Stack or ndarray
        Reference and estimate, same shape.
    bins : int
        Number of equal-width bins of the clean value.
    value_range : (float, float), optional
        Range of the bins (default: the clean data's min and max).
    axes : str, optional
        Axes of plain arrays.

    Returns
    -------
    ConditionalBias
        Bin centres, the mean error in each bin (NaN where a bin is empty) and the pixel counts.
    """
    a, b = as_frames(clean, axes=axes).ravel(), as_frames(test, axes=axes).ravel()
    if a.shape != b.shape:
        raise InputError(f"shapes differ: clean {a.shape} vs test {b.shape}")
    lo, hi = value_range if value_range is not None else (float(a.min()), float(a.max()))
    edges = np.linspace(lo, hi, bins + 1)
    idx = np.clip(np.digitize(a, edges) - 1, 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    sums = np.bincount(idx, weights=b - a, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        bias = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return ConditionalBias(centers=0.5 * (edges[:-1] + edges[1:]), bias=bias, counts=counts)


def noise_fit(clean, noisy, test, *, frames=None, axes: str | None = None) -> float:
    """Return how much of the measurement noise a denoised stack kept.

    The slope of (test - clean) on (noisy - clean), by least squares over all pixels of the frames selected by
    ``frames``. 0 means the output is uncorrelated with the noise at each pixel; 1 means the noise passed
    through untouched. A self-supervised denoiser that fits a fraction k of its targets' noise adds about
    k x (noise variance) to its MSE: compare the training frames with frames held out of the loss.

    Parameters
    ----------
    clean, noisy, test : Stack or ndarray
        Truth, the noisy input and the denoised output, same shape.
    frames : int, slice, index array or boolean mask, optional
        Frames to use along the frame axis (default all).
    axes : str, optional
        Axes of plain arrays.

    Returns
    -------
    float
        The slope k.
    """
    a, y, b = (as_frames(x, axes=axes) for x in (clean, noisy, test))
    if not (a.shape == y.shape == b.shape):
        raise InputError(f"shapes differ: clean {a.shape}, noisy {y.shape}, test {b.shape}")
    if frames is not None:
        a, y, b = a[frames], y[frames], b[frames]
    n = y - a
    power = float(np.sum(n * n))
    if power == 0:
        raise InputError("the noisy stack equals the clean one: there is no noise to regress on")
    return float(np.sum((b - a) * n) / power)


def mass_drift(video: Stack | np.ndarray, *, axes: str | None = None) -> np.ndarray:
    """Return the relative change of each frame's mean from the first frame's, (m_t - m_0) / |m_0|.

    Parameters
    ----------
    video : Stack or ndarray
        A video (``T`` axis).
    axes : str, optional
        Axes of a plain array.

    Returns
    -------
    ndarray, shape (T,)
        The relative drift of each frame (0 for the first).
    """
    frames = as_frames(video, axes=axes)
    means = frames.reshape(frames.shape[0], -1).mean(axis=1)
    scale = abs(means[0]) if means[0] != 0 else 1.0
    return (means - means[0]) / scale


def local_std(frames: np.ndarray, *, window: int = 3) -> np.ndarray:
    """Return the local standard deviation in a ``window`` box around every voxel.

    s = sqrt(mean(v^2) - mean(v)^2) over the box (population std, reflect boundaries); the box spans every axis,
    so a (T, Y, X) array gives the spatiotemporal std that :func:`local_variability` averages.

    Parameters
    ----------
    frames : ndarray
        The data, e.g. shape (T, Y, X); must be finite.
    window : int
        Side of the box along every axis.

    Returns
    -------
    ndarray
        The local std, same shape as ``frames``.
    """
    mean = ndimage.uniform_filter(frames, size=window, mode="reflect")
    mean_sq = ndimage.uniform_filter(frames**2, size=window, mode="reflect")
    return np.sqrt(np.clip(mean_sq - mean**2, 0, None))


def local_variability(
    video: Stack | np.ndarray, *, axes: str | None = None, mask: np.ndarray | None = None, window: int = 3
) -> float:
    """Return the local spatiotemporal variability: the std in a window^3 (t, y, x) box, averaged.

    s(t, y, x) = sqrt(mean(v^2) - mean(v)^2) over the box (population std, reflect boundaries), averaged over
    ``mask`` and over frames.

    Parameters
    ----------
    video : Stack or ndarray
        A video (``T`` axis).
    axes : str, optional
        Axes of a plain array.
    mask : ndarray of bool, optional
        (Y, X) or (T, Y, X) pixels to average over (default everywhere).
    window : int
        Side of the box in frames and pixels.

    Returns
    -------
    float
        The mean local standard deviation, in the data's units.
    """
    stack = as_stack(video, axes=axes if axes is not None or isinstance(video, Stack) else "TYX")
    if "T" not in stack.axes:
        raise InputError(f"variability needs a time axis T, got axes={stack.axes!r}")
    frames = as_frames(stack)
    if frames.ndim != 3:
        raise InputError(f"variability needs single-channel T, Y, X data, got frames of shape {frames.shape}")
    std = local_std(frames, window=window)
    if mask is None:
        return float(std.mean())
    mask = np.broadcast_to(np.asarray(mask, bool), std.shape)
    if not mask.any():
        raise InputError("the variability mask selects no pixels")
    return float(std[mask].mean())
