"""Gamma spots (bright outliers): a temporal rule for series, NeuNorm's spatial rule for single images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._progress import Progress, emit
from ..noise import robust_sd


@dataclass(frozen=True)
class SpotResult:
    """Images with gamma spots replaced, where they were, and how many per frame.

    Attributes
    ----------
    data : ndarray, shape (T, Y, X), float64
        The images with every flagged pixel replaced by its reference (local or neighbour-frame median).
    mask : ndarray of bool, shape (T, Y, X)
        The replaced pixels.
    counts : tuple of int
        Replaced pixels per frame.
    rule : str
        ``"temporal"`` or ``"spatial"``, with its parameters.
    """

    data: np.ndarray
    mask: np.ndarray
    counts: tuple[int, ...]
    rule: str


def _finite_sd(values: np.ndarray) -> float:
    """Return the robust sd (:func:`operando.noise.robust_sd`) of the finite values (0 when there are none)."""
    values = values[np.isfinite(values)]
    return robust_sd(values) if values.size else 0.0


def _as_frames(images: np.ndarray) -> np.ndarray:
    """(Y, X) or (T, Y, X) as float64 (T, Y, X)."""
    arr = np.asarray(images, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(f"gamma-spot removal needs (Y, X) or (T, Y, X) images, got shape {arr.shape}")
    return arr


def _poisson_z(values: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, float]:
    """Residuals scaled by sqrt(ref / median(ref)) and their robust sd."""
    scale = np.sqrt(np.clip(ref, 0, None) / max(float(np.median(ref)), 1e-12)) + 1e-12
    z = (values - ref) / scale
    return z, _finite_sd(z)


def _flagged(img: np.ndarray, median: np.ndarray, footprint: np.ndarray, k: float, rule: str) -> np.ndarray:
    """One pass of the spatial rule: the pixels flagged against their neighbour median."""
    if rule == "neunorm":
        kernel = footprint / footprint.sum()
        mean = ndimage.convolve(img, kernel, mode="nearest")
        sd = np.sqrt(np.clip(ndimage.convolve(img * img, kernel, mode="nearest") - mean * mean, 0, None))
        return img > median + k * sd
    z, s = _poisson_z(img, median)
    return (z > k * s) if s > 0 else np.zeros(img.shape, bool)


def _update_median(img: np.ndarray, median: np.ndarray, changed: np.ndarray, footprint: np.ndarray) -> None:
    """Recompute, in place, the neighbour median where a changed pixel is in the window (as ``median_filter``).

    Only pixels within the window's reach of a changed one can move, so a later pass costs what its spots cost,
    not a whole-image median filter. Same value as ``ndimage.median_filter(img, footprint=footprint,
    mode="nearest")``: the element of rank ``n // 2`` of the ``n`` neighbours, edges repeated.
    """
    size = footprint.shape[0]
    ys, xs = np.nonzero(ndimage.binary_dilation(changed, structure=np.ones((size, size), bool)))
    offsets = np.argwhere(footprint) - size // 2
    values = np.empty((len(offsets), ys.size))
    for i, (dy, dx) in enumerate(offsets):
        values[i] = img[np.clip(ys + dy, 0, img.shape[0] - 1), np.clip(xs + dx, 0, img.shape[1] - 1)]
    rank = len(offsets) // 2
    median[ys, xs] = np.partition(values, rank, axis=0)[rank]


def _clean_image(img: np.ndarray, footprint: np.ndarray, k: float, rule: str, saturation: float | None,
                 max_passes: int) -> np.ndarray:
    """Replace, in place, the saturated and flagged pixels of one image by their neighbour median; the mask."""
    median = ndimage.median_filter(img, footprint=footprint, mode="nearest")
    mask = np.zeros(img.shape, bool)
    if saturation is not None:
        sat = img >= saturation
        if sat.any():
            img[sat] = median[sat]
            mask |= sat
            _update_median(img, median, sat, footprint)
    for _ in range(1 if rule == "neunorm" else max_passes):
        bad = _flagged(img, median, footprint, k, rule)
        if not bad.any():
            break
        img[bad] = median[bad]
        mask |= bad
        _update_median(img, median, bad, footprint)
    return mask


def remove_spots_spatial(
    images: np.ndarray, *, k: float = 5.0, size: int = 3, saturation: float | None = None,
    rule: Literal["robust", "neunorm"] = "robust", max_passes: int = 4, progress: Progress | None = None,
) -> SpotResult:
    """Replace bright outliers in each image by the median of their neighbours.

    ``rule="neunorm"`` is NeuNorm 2.x's rule: a pixel is a spot when ``I > median_N + k * sd_N``, with the
    median and sd of its ``size x size`` neighbours (centre excluded), one pass. A neighbouring spot inflates
    ``sd_N``, so clusters and the halos that scintillator light spreads around a gamma hit survive it.
    ``rule="robust"`` (default) keeps the neighbour median but takes the sd from the whole image: a pixel is a
    spot when ``I - median_N > k * s * sqrt(median_N / m)`` (Poisson-shaped noise, ``s`` = 1.4826 x MAD of the
    scaled residuals, ``m`` the image median), repeated until no pixel is flagged (at most ``max_passes``) so
    that halos go once their core is replaced. Pixels at or above ``saturation`` are flagged by both rules.

    Parameters
    ----------
    images : ndarray, shape (Y, X) or (T, Y, X)
        Counts or transmission.
    k : float
        Threshold in standard deviations (NeuNorm's default 5).
    size : int
        Odd neighbourhood size.
    saturation : float, optional
        Values at or above this are saturated pixels and replaced as well.
    rule : {"robust", "neunorm"}
        Which sd sets the threshold (see above).
    max_passes : int
        Passes of the robust rule.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports (one per image); raise :class:`operando.Cancelled` in it
        to stop.

    Returns
    -------
    SpotResult
        Cleaned float64 images, the mask and the per-image counts.
    """
    if size < 3 or size % 2 == 0:
        raise InputError(f"spot neighbourhood size must be an odd integer >= 3, got {size}")
    if rule not in ("robust", "neunorm"):
        raise InputError(f"unknown spot rule {rule!r}; choose 'robust' or 'neunorm'")
    frames = _as_frames(images)
    footprint = np.ones((size, size), bool)
    footprint[size // 2, size // 2] = False
    out, mask = frames.copy(), np.zeros(frames.shape, bool)
    for i in range(len(frames)):
        emit(progress, i / len(frames), f"gamma spots, image {i + 1}/{len(frames)}")
        mask[i] = _clean_image(out[i], footprint, k, rule, saturation, max_passes)
    counts = tuple(int(m.sum()) for m in mask)
    return SpotResult(out, mask, counts, f"spatial ({rule}): {size}x{size} neighbour median + {k:g} sd")


def remove_spots_temporal(images: np.ndarray, *, k: float = 5.0, half_window: int = 2,
                          progress: Progress | None = None) -> SpotResult:
    """Replace bright outliers in a series by the median of the same pixel in neighbouring frames.

    The reference of frame ``t`` is the per-pixel median of the ``2 * half_window`` nearest other frames
    (shifted inwards at the ends of the series). Gamma spots are uncorrelated in time while the sample
    changes slowly, so a spot stands out against its neighbour frames even on an edge, where a spatial rule
    fails. A pixel is a spot when ``I - ref > k * s * sqrt(max(ref, 0) / m)``: the noise is taken as
    Poisson-shaped (sd proportional to sqrt of the signal), with the constant ``s`` fitted robustly
    (1.4826 x MAD of ``(I - ref) / sqrt(ref / m)`` over the frame), ``m`` the frame's median.

    Parameters
    ----------
    images : ndarray, shape (T, Y, X)
        A series of counts (or transmission) with ``T >= 2 * half_window + 1``.
    k : float
        Threshold in robust standard deviations.
    half_window : int
        Neighbour frames on each side.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports (one per frame); raise :class:`operando.Cancelled` in it
        to stop.

    Returns
    -------
    SpotResult
        Cleaned float64 series, mask and per-frame counts.
    """
    frames = _as_frames(images)
    n = frames.shape[0]
    if half_window < 1 or n < 2 * half_window + 1:
        raise InputError(f"the temporal spot rule needs >= {2 * half_window + 1} frames, got {n}; "
                         "use remove_spots_spatial for short series and single images")
    out, mask = frames.copy(), np.zeros(frames.shape, bool)
    for t in range(n):
        emit(progress, t / n, f"gamma spots, frame {t + 1}/{n}")
        lo = min(max(t - half_window, 0), n - 2 * half_window - 1)
        others = [i for i in range(lo, lo + 2 * half_window + 1) if i != t]
        ref = np.median(frames[others], axis=0)
        z, s = _poisson_z(frames[t], ref)
        bad = z > k * s if s > 0 else frames[t] > ref
        out[t][bad] = ref[bad]
        mask[t] = bad
    counts = tuple(int(m.sum()) for m in mask)
    return SpotResult(out, mask, counts, f"temporal: median of {2 * half_window} neighbour frames + {k:g} sd")
