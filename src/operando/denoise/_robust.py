"""Robust noise statistics shared by the diagnosis, the impulse filters and the measurement blend."""

from __future__ import annotations

import numpy as np


def robust_sd(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation: the SD of Gaussian values, unmoved by outliers."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def subsample(a: np.ndarray, n: int = 1_000_000) -> np.ndarray:
    """About ``n`` evenly strided values of ``a`` (flattened): enough for a median, cheap on big stacks."""
    flat = a.reshape(-1)
    return flat[:: max(1, flat.size // n)]
