"""The ONE robust noise SD (1.4826 x MAD) and a cheap strided subsample, shared by every package.

Used by the denoise diagnosis, the impulse filters and the measurement blend, and by any pipeline that needs a
spread unmoved by outliers.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import median_abs_deviation

from .._errors import InputError

#: 1 / Phi^-1(3/4): the MAD of Gaussian values times this is their SD (scipy's ``scale="normal"``).
NORMAL_MAD = 1.482602218505602


def robust_sd(values: np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Return the normal-scaled median absolute deviation: the SD of Gaussian values, unmoved by outliers.

    ``scipy.stats.median_abs_deviation(scale="normal")`` (1.4826 x the MAD) over all values, or along ``axis``
    ignoring NaN (a pixel NaN everywhere along it gets NaN).

    Parameters
    ----------
    values : ndarray
        Any shape.
    axis : int, optional
        Take the MAD along this axis (NaN-aware) instead of over all values.

    Returns
    -------
    float or ndarray
        The robust standard deviation (an array with ``axis`` removed when ``axis`` is given).
    """
    if axis is None:
        return float(median_abs_deviation(values, axis=None, scale="normal"))
    import warnings

    a = np.asarray(values, np.float64)
    with warnings.catch_warnings():  # an all-NaN slice has no spread: NaN
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        centre = np.nanmedian(a, axis=axis, keepdims=True)
        return NORMAL_MAD * np.nanmedian(np.abs(a - centre), axis=axis)


def temporal_noise_sd(frames: np.ndarray, *, per_pixel: bool = False, mask: np.ndarray | None = None
                      ) -> float | np.ndarray:
    """Noise SD of a series from its second differences in time, robust_sd(y[t+1] - 2 y[t] + y[t-1]) / sqrt(6).

    The second difference removes a signal that changes linearly in time (slow lithiation, drift); the MAD
    ignores the few pixels where something jumps (a moving front). For white noise of SD s the second
    difference has SD s sqrt(6).

    Parameters
    ----------
    frames : ndarray, shape (T, ...)
        The series, T >= 3 (NaN ignored).
    per_pixel : bool
        One SD per pixel (along time) instead of one for all pixels.
    mask : ndarray of bool, shape (...), optional
        Pixels to pool (``per_pixel=False`` only).

    Returns
    -------
    float or ndarray, shape (...)
        The noise SD.
    """
    a = np.asarray(frames, np.float64)
    if a.shape[0] < 3:
        raise InputError(f"measuring the noise from the data needs >= 3 frames, got {a.shape[0]}")
    second = a[2:] - 2 * a[1:-1] + a[:-2]
    if per_pixel:
        return robust_sd(second, axis=0) / np.sqrt(6.0)
    values = second[:, mask] if mask is not None else second.reshape(-1)
    values = values[np.isfinite(values)]
    if values.size < 100:
        raise InputError(f"too few finite values ({values.size}) to measure the noise; give its SD")
    return robust_sd(values) / float(np.sqrt(6.0))


def subsample(a: np.ndarray, n: int = 1_000_000) -> np.ndarray:
    """Return about ``n`` evenly strided values of ``a`` (flattened): enough for a median, cheap on big stacks.

    Parameters
    ----------
    a : ndarray
        Any shape.
    n : int
        About how many values to keep.

    Returns
    -------
    ndarray, 1-D
        A strided view of the flattened values.
    """
    flat = a.reshape(-1)
    return flat[:: max(1, flat.size // n)]
