"""Registration across energies and time: gradient-weighted sub-pixel phase correlation, shifts applied once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .._errors import InputError
from .._stack import Stack, as_stack

logger = logging.getLogger(__name__)

Resample = Literal["spline", "linear", "integer", "fourier"]


def _prepare(image: np.ndarray, weight: str) -> np.ndarray:
    """Fill NaN, take the gradient magnitude (robust to the contrast change across an edge) and window it."""
    from scipy import ndimage

    img = np.asarray(image, dtype=float)
    finite = np.isfinite(img)
    img = np.where(finite, img, np.nanmedian(img) if finite.any() else 0.0)
    if weight == "gradient":
        img = ndimage.gaussian_filter(img, 2.0)  # noisy STXM: edges over the counting noise
        img = np.hypot(ndimage.sobel(img, 0), ndimage.sobel(img, 1))
    img = img - img.mean()
    window = np.outer(np.hanning(img.shape[0]), np.hanning(img.shape[1]))
    return img * window


def estimate_shift(
    reference: np.ndarray,
    moving: np.ndarray,
    *,
    weight: Literal["gradient", "intensity"] = "gradient",
    upsample: int = 20,
) -> tuple[float, float]:
    """Estimate the (dy, dx) shift that registers ``moving`` onto ``reference``.

    Parameters
    ----------
    reference, moving : ndarray, shape (Y, X)
        Images (NaN allowed: filled with the median before correlating).
    weight : {"gradient", "intensity"}
        Correlate gradient magnitudes (edges: robust to the absorption contrast changing or inverting across
        the edge) or the images themselves.
    upsample : int
        Sub-pixel precision 1/upsample (phase correlation with an upsampled DFT peak).

    Returns
    -------
    (float, float)
        Shift in pixels to apply to ``moving`` (``scipy.ndimage.shift`` convention).
    """
    from skimage.registration import phase_cross_correlation

    if reference.shape != moving.shape:
        raise InputError(f"cannot register images of shapes {reference.shape} and {moving.shape}")
    shift, _, _ = phase_cross_correlation(_prepare(reference, weight), _prepare(moving, weight),
                                          upsample_factor=upsample, normalization="phase")
    return float(shift[0]), float(shift[1])


def shift_image(image: np.ndarray, shift: tuple[float, float], *, resample: Resample = "spline") -> np.ndarray:
    """Shift one image by (dy, dx) pixels; pixels that come from outside the field are NaN.

    Parameters
    ----------
    image : ndarray, shape (Y, X)
        The image.
    shift : (float, float)
        Shift in pixels.
    resample : {"spline", "linear", "integer", "fourier"}
        Cubic spline, bilinear, whole pixels only (no interpolation: no ringing at particle edges), or a
        Fourier phase ramp (exact for band-limited images, rings at sharp edges).

    Returns
    -------
    ndarray
        Float64 shifted image.
    """
    from scipy import ndimage

    img = np.asarray(image, dtype=float)
    dy, dx = shift
    if resample == "integer":
        dy, dx = round(dy), round(dx)
    nan = ~np.isfinite(img)
    filled = np.where(nan, np.nanmean(img) if (~nan).any() else 0.0, img)
    if resample == "fourier":
        out = np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(filled), (dy, dx))).real
    else:
        order = {"spline": 3, "linear": 1, "integer": 0}[resample]
        out = ndimage.shift(filled, (dy, dx), order=order, mode="nearest")
    outside = ndimage.shift(nan.astype(float), (dy, dx), order=0, mode="constant", cval=1.0) > 0
    if resample != "integer":  # a partly outside pixel is outside
        ys, xs = np.indices(img.shape)
        outside |= (ys - dy < -1e-9) | (ys - dy > img.shape[0] - 1 + 1e-9)
        outside |= (xs - dx < -1e-9) | (xs - dx > img.shape[1] - 1 + 1e-9)
    return np.where(outside, np.nan, out)


@dataclass(frozen=True)
class Alignment:
    """Result of :func:`align_stack`.

    Attributes
    ----------
    stack : Stack
        The aligned data (float64, NaN where a shifted image has no data).
    shifts : ndarray, shape (T, E, 2)
        Applied (dy, dx) shift of every image, pixels.
    residual_px : float
        RMS shift still measured between the aligned images and the reference (registration precision).
    reference : tuple of int
        (frame, energy) of the reference image.
    """

    stack: Stack
    shifts: np.ndarray
    residual_px: float
    reference: tuple[int, int]


def _shifts(series: np.ndarray, ref_e: int, weight: str, upsample: int) -> np.ndarray:
    """Joint energy x time shifts: energies onto the reference energy per frame, then frames onto frame 0."""
    n_t, n_e = series.shape[:2]
    shifts = np.zeros((n_t, n_e, 2))
    for t in range(n_t):
        for e in range(n_e):
            if e != ref_e:
                shifts[t, e] = estimate_shift(series[t, ref_e], series[t, e], weight=weight, upsample=upsample)
    for t in range(1, n_t):
        frame = estimate_shift(series[0, ref_e], series[t, ref_e], weight=weight, upsample=upsample)
        shifts[t] += np.asarray(frame)[None, :]
    return shifts


def align_stack(
    stack: Stack | np.ndarray,
    *,
    axes: str | None = None,
    reference_energy: int = 0,
    weight: Literal["gradient", "intensity"] = "gradient",
    resample: Resample = "spline",
    upsample: int = 20,
    shifts: np.ndarray | None = None,
) -> Alignment:
    """Register every image of an ``EYX`` or ``TEYX`` stack onto one reference image.

    Parameters
    ----------
    stack : Stack or ndarray
        Images (optical density or counts), axes ``EYX`` or ``TEYX``.
    axes : str, optional
        Axes of a plain array.
    reference_energy : int
        Energy index of the reference image (in frame 0).
    weight : {"gradient", "intensity"}
        What is correlated (see :func:`estimate_shift`).
    resample : {"spline", "linear", "integer", "fourier"}
        How shifts are applied (see :func:`shift_image`); ``integer`` avoids ringing at particle edges.
    upsample : int
        Sub-pixel precision of the shift estimate.
    shifts : ndarray, shape (T, E, 2), optional
        Apply these shifts instead of estimating them (e.g. the variance map of an already aligned stack).

    Returns
    -------
    Alignment
        Aligned stack, shifts (logged at INFO), residual misalignment.
    """
    stack = as_stack(stack, axes=axes)
    if stack.axes not in ("EYX", "TEYX"):
        raise InputError(f"align_stack needs axes EYX or TEYX, got {stack.axes!r}")
    data = stack.to_numpy().astype(np.float64)
    series = data if stack.axes == "TEYX" else data[None]
    if not 0 <= reference_energy < series.shape[1]:
        raise InputError(f"reference_energy {reference_energy} outside 0..{series.shape[1] - 1}")
    given = shifts is not None
    if shifts is None:
        shifts = _shifts(series, reference_energy, weight, upsample)
    shifts = np.asarray(shifts, dtype=float).reshape(series.shape[0], series.shape[1], 2)
    out = np.empty_like(series)
    for t in range(series.shape[0]):
        for e in range(series.shape[1]):
            out[t, e] = series[t, e] if not shifts[t, e].any() else shift_image(series[t, e], tuple(shifts[t, e]),
                                                                              resample=resample)
    residual = 0.0 if given else _residual(out, reference_energy, weight, upsample)
    for t, e in np.ndindex(*shifts.shape[:2]):
        logger.info("align: frame %d energy %d shift dy %.2f dx %.2f px", t, e, *shifts[t, e])
    result = Stack(out if stack.axes == "TEYX" else out[0], axes=stack.axes, metadata=stack.metadata)
    return Alignment(result, shifts, residual, (0, reference_energy))


def _residual(out: np.ndarray, ref_e: int, weight: str, upsample: int) -> float:
    """RMS of the shifts measured again between every aligned image and the reference, inside the common area."""
    common = np.all(np.isfinite(out), axis=(0, 1))
    rows, cols = np.where(common.any(axis=1))[0], np.where(common.any(axis=0))[0]
    if rows.size < 8 or cols.size < 8:
        return float("nan")
    crop = out[:, :, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    ref = crop[0, ref_e]
    found = [estimate_shift(ref, crop[t, e], weight=weight, upsample=upsample)
             for t, e in np.ndindex(*crop.shape[:2]) if (t, e) != (0, ref_e)]
    return float(np.sqrt(np.mean(np.square(found)))) if found else 0.0
