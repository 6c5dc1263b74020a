"""The ONE robust noise SD (1.4826 x MAD) and a cheap strided subsample, shared by every package.

Used by the denoise diagnosis, the impulse filters and the measurement blend, and by any pipeline that needs a
spread unmoved by outliers.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import median_abs_deviation


def robust_sd(values: np.ndarray) -> float:
    """Return the normal-scaled median absolute deviation: the SD of Gaussian values, unmoved by outliers.

    ``scipy.stats.median_abs_deviation(scale="normal")`` over all values (1.4826 x the MAD).

    Parameters
    ----------
    values : ndarray
        Any shape (flattened).

    Returns
    -------
    float
        The robust standard deviation.
    """
    return float(median_abs_deviation(values, axis=None, scale="normal"))


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
