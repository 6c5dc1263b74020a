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


def _peak_offset(c_minus: float, c0: float, c_plus: float) -> float:
    """Sub-pixel offset of a peak from three samples (parabola through them)."""
    denom = c_minus - 2 * c0 + c_plus
    return 0.0 if denom >= 0 else float(np.clip(0.5 * (c_minus - c_plus) / denom, -0.5, 0.5))


def _correlation_peak(a: np.ndarray, b: np.ndarray, max_shift: int) -> tuple[float, float]:
    """Return the correlation peak within +-max_shift pixels, refined to sub-pixel by parabolas."""
    product = np.fft.fft2(a) * np.conj(np.fft.fft2(b))
    # cross-power whitened by |F|^0.5: full whitening (classic phase correlation) lets noise and weak
    # high-frequency structure pick the peak in noisy STXM images; none blurs it (measured on the phantom)
    corr = np.fft.ifft2(product / (np.sqrt(np.abs(product)) + 1e-12)).real
    ny, nx = corr.shape
    dy = np.fft.fftfreq(ny, 1 / ny)
    dx = np.fft.fftfreq(nx, 1 / nx)
    window = (np.abs(dy)[:, None] <= max_shift) & (np.abs(dx)[None, :] <= max_shift)
    iy, ix = np.unravel_index(np.argmax(np.where(window, corr, -np.inf)), corr.shape)
    fy = _peak_offset(corr[(iy - 1) % ny, ix], corr[iy, ix], corr[(iy + 1) % ny, ix])
    fx = _peak_offset(corr[iy, (ix - 1) % nx], corr[iy, ix], corr[iy, (ix + 1) % nx])
    return float(dy[iy] + fy), float(dx[ix] + fx)


def estimate_shift(
    reference: np.ndarray,
    moving: np.ndarray,
    *,
    weight: Literal["gradient", "intensity"] = "gradient",
    max_shift_px: float | None = None,
    passes: int = 2,
) -> tuple[float, float]:
    """Estimate the (dy, dx) shift that registers ``moving`` onto ``reference``.

    Parameters
    ----------
    reference, moving : ndarray, shape (Y, X)
        Images (NaN allowed: filled with the median before correlating).
    weight : {"gradient", "intensity"}
        Correlate gradient magnitudes (edges: robust to the absorption contrast changing or inverting across
        the edge) or the images themselves.
    max_shift_px : float, optional
        Largest shift searched (default a quarter of the smaller side): a field of similar particles correlates
        with itself at the particle spacing, and only a bounded search tells drift from that.
    passes : int
        Refinements: after each pass ``moving`` is shifted by the estimate and the rest is measured again.

    Returns
    -------
    (float, float)
        Shift in pixels to apply to ``moving`` (``scipy.ndimage.shift`` convention).
    """
    if reference.shape != moving.shape:
        raise InputError(f"cannot register images of shapes {reference.shape} and {moving.shape}")
    limit = int(max_shift_px if max_shift_px is not None else min(reference.shape) // 4)
    a = _prepare(reference, weight)
    total = np.zeros(2)
    current = np.asarray(moving, dtype=float)
    for i in range(max(passes, 1)):
        step = np.asarray(_correlation_peak(a, _prepare(current, weight), limit if i == 0 else 2))
        total += step
        if np.all(np.abs(step) < 0.02) or i == passes - 1:
            break
        current = shift_image(moving, tuple(total), resample="linear")
    return float(total[0]), float(total[1])


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


def _shifts(series: np.ndarray, ref_e: int, weight: str, max_shift: float | None) -> np.ndarray:
    """Joint energy x time shifts: energies onto the reference energy per frame, then frames onto frame 0."""
    n_t, n_e = series.shape[:2]
    shifts = np.zeros((n_t, n_e, 2))
    for t in range(n_t):
        for e in range(n_e):
            if e != ref_e:
                shifts[t, e] = estimate_shift(series[t, ref_e], series[t, e], weight=weight, max_shift_px=max_shift)
    for t in range(1, n_t):
        frame = estimate_shift(series[0, ref_e], series[t, ref_e], weight=weight, max_shift_px=max_shift)
        shifts[t] += np.asarray(frame)[None, :]
    return shifts


def align_stack(
    stack: Stack | np.ndarray,
    *,
    axes: str | None = None,
    reference_energy: int = 0,
    weight: Literal["gradient", "intensity"] = "gradient",
    resample: Resample = "spline",
    max_shift_px: float | None = None,
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
    max_shift_px : float, optional
        Largest shift searched (see :func:`estimate_shift`).
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
        shifts = _shifts(series, reference_energy, weight, max_shift_px)
    shifts = np.asarray(shifts, dtype=float).reshape(series.shape[0], series.shape[1], 2)
    out = np.empty_like(series)
    for t in range(series.shape[0]):
        for e in range(series.shape[1]):
            out[t, e] = series[t, e] if not shifts[t, e].any() else shift_image(series[t, e], tuple(shifts[t, e]),
                                                                              resample=resample)
    residual = 0.0 if given else _residual(out, reference_energy, weight)
    for t, e in np.ndindex(*shifts.shape[:2]):
        logger.info("align: frame %d energy %d shift dy %.2f dx %.2f px", t, e, *shifts[t, e])
    result = Stack(out if stack.axes == "TEYX" else out[0], axes=stack.axes, metadata=stack.metadata)
    return Alignment(result, shifts, residual, (0, reference_energy))


def _residual(out: np.ndarray, ref_e: int, weight: str) -> float:
    """RMS of the shifts measured again between every aligned image and the reference, inside the common area."""
    common = np.all(np.isfinite(out), axis=(0, 1))
    rows, cols = np.where(common.any(axis=1))[0], np.where(common.any(axis=0))[0]
    if rows.size < 8 or cols.size < 8:
        return float("nan")
    crop = out[:, :, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    ref = crop[0, ref_e]
    found = [estimate_shift(ref, crop[t, e], weight=weight, max_shift_px=3)
             for t, e in np.ndindex(*crop.shape[:2]) if (t, e) != (0, ref_e)]
    return float(np.sqrt(np.mean(np.square(found)))) if found else 0.0
