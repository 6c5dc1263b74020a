"""Preprocessing shared by training and inference: neighbour frames, impulse pre-filters."""

from __future__ import annotations

import numpy as np

from ..noise import robust_sd, subsample


def neighbour_indices(t: int, n: int, half: int) -> list[int]:
    """List frames t-half..t+half without t; off the ends, the mirror t-d of a missing t+d (never t).

    Parameters
    ----------
    t : int
        The target frame.
    n : int
        Frames in the sequence.
    half : int
        Neighbours on each side.

    Returns
    -------
    list of int
        The 2 x half neighbour frames in time order.
    """
    out = []
    for d in [*range(-half, 0), *range(1, half + 1)]:
        i = t + d
        out.append(i if 0 <= i < n else t - d)
    return out


def fill_impulses_from_neighbours(norm: np.ndarray, context: np.ndarray, half: int, threshold: float = 3.0,
                                  known: np.ndarray | None = None) -> np.ndarray:
    """Return the target frames as the donut may see them: impulses replaced by the mean of the two nearest frames.

    A pixel is replaced when it differs from that temporal mean (of the impulse-filtered ``context``) by more
    than ``threshold`` robust SDs. The decision and the fill use only the pixel itself and other frames, never
    its spatial neighbours, so the blind spot stays exact (a spatial median here would leak the hidden pixel).
    ``known`` marks impulses known exactly (:func:`exact_impulse_pixels`, also a per-pixel decision): replaced too.

    Parameters
    ----------
    norm : ndarray, shape (B, S, C, Y, X)
        Normalised data.
    context : ndarray, same shape
        The impulse-filtered data (:func:`remove_impulses`).
    half : int
        Neighbours on each side.
    threshold : float
        Robust SDs beyond which a pixel is replaced.
    known : ndarray of bool, optional
        Exactly known impulses.

    Returns
    -------
    ndarray, float32
        The frames with impulses replaced.
    """
    n_s = norm.shape[1]
    near = np.empty_like(norm)
    for s in range(n_s):
        idx = neighbour_indices(s, n_s, half)
        near[:, s] = 0.5 * (context[:, idx[half - 1]] + context[:, idx[half]])
    resid = norm - near
    scale = max(robust_sd(subsample(resid)), 1.4826e-6)
    outlier = np.abs(resid) > threshold * scale
    if known is not None:
        outlier |= known
    return np.where(outlier, near, norm).astype(np.float32)


def remove_impulses(norm: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Replace impulse outliers of (B, S, C, Y, X) data by their per-frame 3x3 median (float32 copy).

    ``known`` marks impulses known exactly (fixed values), replaced whether or not they stand out.

    Parameters
    ----------
    norm : ndarray, shape (B, S, C, Y, X)
        Normalised data.
    known : ndarray of bool, optional
        Exactly known impulses.

    Returns
    -------
    ndarray, float32
        The data with outliers replaced by their 3x3 median.
    """
    from scipy import ndimage

    med = ndimage.median_filter(norm, size=(1, 1, 1, 3, 3), mode="reflect")
    resid = norm - med
    outlier = np.abs(resid) > 3 * max(robust_sd(resid), 1.4826e-6)
    if known is not None:
        outlier |= known
    return np.where(outlier, med, norm).astype(np.float32)
