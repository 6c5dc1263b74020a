"""Drift registration, attenuation A = -ln T and differential attenuation Delta A with propagated noise."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._progress import Progress, emit, sub_progress
from .._stack import Stack
from ._normalize import Box, Transmission, region_mask

logger = logging.getLogger(__name__)


def estimate_drift(
    images: np.ndarray, *, region: Box | None = None, reference: int = 0, upsample: int = 20,
    progress: Progress | None = None,
) -> np.ndarray:
    """Estimate each frame's sub-pixel shift relative to a reference frame (phase correlation of edge maps).

    The frames are smoothed (Gaussian, 1 px), turned into gradient-magnitude maps (Sobel) and registered by
    cross-correlation (scikit-image, ``upsample``-fold sub-pixel refinement): the layer boundaries hold still
    while lithiation changes the levels between them, which misleads a correlation of the raw frames.

    Parameters
    ----------
    images : ndarray, shape (T, Y, X)
        Attenuation (or transmission) frames; NaN are replaced by the region's median.
    region : (y0, y1, x0, x1), optional
        A stable feature region (cell housing, current-collector edges); default the whole frame.
    reference : int
        Frame the others are registered to.
    upsample : int
        Sub-pixel precision is ``1 / upsample`` pixel.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports (one per frame); raise :class:`operando.Cancelled` in it
        to stop.

    Returns
    -------
    ndarray, shape (T, 2)
        ``(dy, dx)`` to apply to each frame (``shift_frames``) to align it with the reference.
    """
    from skimage.registration import phase_cross_correlation

    frames = np.asarray(images, np.float64)
    if region is not None:
        mask = region_mask([region], frames.shape[1:])
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        frames = frames[:, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    fill = float(np.nanmedian(frames))
    frames = np.where(np.isfinite(frames), frames, fill)
    # edges (smoothed gradient magnitude) move with the sample; the levels between them change with lithiation
    edges = [np.hypot(ndimage.sobel(g, 0), ndimage.sobel(g, 1)) for g in
             (ndimage.gaussian_filter(f, 1.0) for f in frames)]
    shifts = np.zeros((len(frames), 2))
    for t, frame in enumerate(edges):
        emit(progress, t / len(edges), f"drift, frame {t + 1}/{len(edges)}")
        if t != reference:
            shifts[t] = phase_cross_correlation(edges[reference], frame, upsample_factor=upsample,
                                                normalization=None)[0]
    return shifts


def shift_frames(images: np.ndarray, shifts: np.ndarray, *, variance: bool = False) -> np.ndarray:
    """Shift each frame by ``(dy, dx)`` with bilinear interpolation (NaN where the frame moved out of view).

    Parameters
    ----------
    images : ndarray, shape (T, Y, X)
        Frames (or their variances).
    shifts : ndarray, shape (T, 2)
        From :func:`estimate_drift`.
    variance : bool
        The frames are variances of independent pixel noise: shift them and multiply by the sum of squared
        interpolation weights, ``((1-fy)^2 + fy^2)((1-fx)^2 + fx^2)``, so that they stay the variance of the
        interpolated values.

    Returns
    -------
    ndarray, shape (T, Y, X)
        Shifted frames, float32.
    """
    out = np.empty(np.shape(images), np.float32)
    for t, (frame, shift) in enumerate(zip(images, shifts, strict=True)):
        moved = ndimage.shift(np.asarray(frame, np.float64), shift, order=1, mode="constant", cval=np.nan)
        if variance:
            fy, fx = np.abs(shift) % 1.0
            moved = moved * ((1 - fy) ** 2 + fy**2) * ((1 - fx) ** 2 + fx**2)
        out[t] = moved
    return out


@dataclass(frozen=True)
class DeltaA:
    """Differential attenuation with its propagated sd and the frames it is relative to.

    Attributes
    ----------
    stack : Stack
        ``TYX`` float32 Delta A = A(t) - A_ref, NaN where masked (T <= 0, division by ~0, out of view).
    sd : ndarray, shape (T, Y, X), float32
        Propagated sd of Delta A (NaN where masked).
    var_a : ndarray, shape (T, Y, X), float32
        Variance of each frame's own A(t) (the sample's counting noise), used for changes between frames.
    bad : ndarray of bool, shape (T, Y, X)
        Masked voxels.
    reference : tuple of int
        Frames averaged into A_ref.
    info : dict
        Counts of masked pixels per frame and how the sd was obtained.
    reference_image : ndarray, shape (Y, X), float32
        A_ref itself, on the registered grid (NaN where masked).
    """

    stack: Stack
    sd: np.ndarray
    var_a: np.ndarray
    bad: np.ndarray
    reference: tuple[int, ...]
    info: dict[str, Any] = field(default_factory=dict)
    reference_image: np.ndarray | None = None


def attenuation(transmission: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``A = -ln T`` (NaN where ``T <= 0`` or not finite) and the mask of those pixels.

    Parameters
    ----------
    transmission : ndarray
        Transmission, any shape.

    Returns
    -------
    A : ndarray, float32
        Attenuation, NaN where undefined (masked, never clamped).
    bad : ndarray of bool
        Where ``T`` is not positive or not finite.
    """
    t = np.asarray(transmission, np.float64)
    bad = ~(t > 0) | ~np.isfinite(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(bad, np.nan, -np.log(np.where(bad, 1.0, t)))
    return a.astype(np.float32), bad


def reference_frames(reference: int | tuple[int, int], n_frames: int) -> tuple[int, ...]:
    """Return the frames of a reference: one frame ``N``, or a range ``(start, stop)`` (stop exclusive).

    Parameters
    ----------
    reference : int or (int, int)
        Frame index, or start and stop of a range to average.
    n_frames : int
        Frames in the series.

    Returns
    -------
    tuple of int
        The frame indices.
    """
    frames = (reference,) if isinstance(reference, (int, np.integer)) else tuple(range(*reference))
    if not frames or min(frames) < 0 or max(frames) >= n_frames:
        raise InputError(f"reference {reference!r} is outside the series of {n_frames} frames; give a frame "
                         f"0..{n_frames - 1} or a range start:stop within it")
    return tuple(int(f) for f in frames)


def estimate_variance(attenuation_frames: np.ndarray) -> np.ndarray:
    """Estimate each pixel's frame-to-frame variance of A from second temporal differences (no counts known).

    ``var = (1.4826 MAD_t(A[t+1] - 2 A[t] + A[t-1]))^2 / 6`` per pixel: the second difference removes linear
    trends (slow lithiation), the MAD ignores jumps. Used when only T is given
    (:func:`operando.noise.temporal_noise_sd` per pixel).

    Parameters
    ----------
    attenuation_frames : ndarray, shape (T, Y, X)
        Attenuation, T >= 3.

    Returns
    -------
    ndarray, shape (Y, X), float32
        Variance per pixel (the same for every frame).
    """
    from ..noise import temporal_noise_sd

    return (temporal_noise_sd(attenuation_frames, per_pixel=True) ** 2).astype(np.float32)


def differential_attenuation(
    transmission: Transmission | Stack,
    *,
    reference: int | tuple[int, int] = 0,
    drift_region: Box | None = None,
    register: bool = False,
    progress: Progress | None = None,
) -> DeltaA:
    """Return ``Delta A(t) = A(t) - A_ref`` with ``A = -ln T``, its propagated sd, and the masked voxels.

    With counts (a :class:`Transmission`), ``var A(t) = var(I_t - D) / (I_t - D)^2`` (Poisson plus read noise,
    the open beam cancels in Delta A) and, for a reference averaged over the frames ``R`` (``n`` of them),
    ``var Delta A(t) = var A(t) (1 - 2 [t in R] / n) + sum_{k in R} var A(k) / n^2``. With a transmission stack
    alone, ``var A`` is estimated per pixel from second temporal differences (:func:`estimate_variance`).

    Parameters
    ----------
    transmission : Transmission or Stack
        From :func:`normalize`, or a ``TYX`` transmission stack.
    reference : int or (int, int)
        Reference frame, or the range ``(start, stop)`` averaged.
    drift_region : (y0, y1, x0, x1), optional
        Stable region used for registration.
    register : bool
        Register the frames to the first reference frame (sub-pixel, bilinear) before differencing; the noise
        variance is carried through the interpolation.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports (the registration's, one per frame); raise
        :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    DeltaA
        Delta A, sd, per-frame variance of A, mask and reference frames.
    """
    if isinstance(transmission, Transmission):
        stack, var_a, sd_from = transmission.stack, transmission.var_sample, "propagated from counts"
    else:
        stack, var_a, sd_from = transmission, None, "estimated from second temporal differences"
    if stack.axes != "TYX":
        raise InputError(f"differential attenuation needs a TYX series, got axes {stack.axes!r}")
    a, bad = attenuation(stack.to_numpy())
    ref = reference_frames(reference, len(a))
    shifts = np.zeros((len(a), 2))
    if register:
        shifts = estimate_drift(a, region=drift_region, reference=ref[0], progress=sub_progress(progress, 0.0, 0.9))
        emit(progress, 0.9, "shifting the frames")
        a = shift_frames(a, shifts)
        if var_a is not None:
            var_a = shift_frames(var_a, shifts, variance=True)
    if var_a is None:
        var_a = np.broadcast_to(estimate_variance(a), a.shape)
    bad = bad | ~np.isfinite(a)
    a_ref = np.mean(a[list(ref)], axis=0)
    n = len(ref)
    var_ref = np.sum(var_a[list(ref)], axis=0) / n**2
    in_ref = np.isin(np.arange(len(a)), ref)[:, None, None]
    var_delta = var_a * (1 - 2 * in_ref / n) + var_ref
    delta = (a - a_ref).astype(np.float32)
    bad = bad | ~np.isfinite(delta)
    delta[bad] = np.nan
    sd = np.sqrt(np.clip(var_delta, 0, None)).astype(np.float32)
    sd[bad] = np.nan
    info = {"reference_frames": list(ref), "sd_from": sd_from, "registered": register,
            "drift_px": shifts.tolist(), "masked_per_frame": [int(b.sum()) for b in bad]}
    meta = stack.metadata.replace(original_dtype="float32",
                                  extra={**stack.metadata.extra, "quantity": "delta_attenuation",
                                         "delta_a": info})
    return DeltaA(Stack(delta, axes="TYX", metadata=meta), sd, np.asarray(var_a, np.float32), bad, ref, info,
                  np.asarray(a_ref, np.float32))
