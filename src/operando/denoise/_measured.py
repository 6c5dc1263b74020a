"""Put the measurement back: blend a blind-spot prediction with each pixel's own value where it is no impulse."""

from __future__ import annotations

import numpy as np

from ..noise import robust_sd, subsample


def exact_impulse_pixels(noisy: np.ndarray) -> np.ndarray | None:
    """Pixels that hold impulses rather than measurements, when those are known exactly; else None.

    Salt-and-pepper, dead and saturated pixels sit at fixed values. Counted as impulses: the data's minimum
    or maximum when it holds > 0.1 % of the pixels and > 5x as many as the next value in (a spike at the end
    of the histogram, which zero counts of low-count Poisson data are not), and, in continuous data (most
    values unique), any value that repeats in > 0.1 % of the pixels (impulses inside the noise's range).
    Clipped data counts as impulses at the clip values too.
    """
    flat = np.asarray(noisy).ravel()
    share = 1e-3 * flat.size
    values, counts = np.unique(flat, return_counts=True)
    common = values[counts > share]
    if values.size >= flat.size // 2:  # continuous data: repeated values are impulses
        return np.isin(noisy, common) if common.size else None
    ends = [i for i, j in ((0, 1), (-1, -2)) if values.size > 1 and counts[i] > share and counts[i] > 5 * counts[j]]
    return np.isin(noisy, values[ends]) if ends else None


def impulse_pixels(noisy: np.ndarray, pred: np.ndarray, *, threshold: float = 4.0) -> tuple[np.ndarray, bool]:
    """Find where ``noisy`` holds an impulse rather than a measurement, and whether that is known exactly.

    When impulses sit at fixed values (:func:`exact_impulse_pixels`), those pixels are the impulses (exact).
    Otherwise a pixel counts as an impulse when its residual from the prediction exceeds ``threshold`` robust
    SDs (which also flags the prediction's own largest errors: there the prediction is kept, the safe side).

    Parameters
    ----------
    noisy : ndarray
        The measured data.
    pred : ndarray, same shape
        A prediction that never saw each pixel's own value (blind spot or temporal masking).
    threshold : float
        Residuals beyond this many robust SDs are impulses (when they are not known exactly).

    Returns
    -------
    impulses : ndarray of bool
        True where a pixel holds an impulse.
    exact : bool
        Whether the impulses were known exactly (fixed values).
    """
    exact = exact_impulse_pixels(noisy)
    if exact is not None:
        return exact, True
    resid = noisy - pred
    return np.abs(resid) > threshold * max(robust_sd(subsample(resid)), 1e-12), False


def keep_measured_pixels(noisy: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, float]:
    """Blend the measurement back into a blind-spot prediction wherever it is not an impulse.

    ``pred`` (S, C, Y, X) must not depend on ``noisy`` at the same pixel (temporal masking and the blind spot
    guarantee it). At pixels that are not impulses (:func:`impulse_pixels`), with r = noisy - pred, the
    least-squares blend is pred + w r with w = 1 - sigma^2 / E[r^2], where the noise variance sigma^2 is
    estimated from frame-to-frame differences of those pixels (both sigma^2 and E[r^2] robustly). With pure
    impulse noise (sigma ~ 0) the good pixels are kept as measured (w ~ 1); with strong Gaussian noise w ~ 0
    and the prediction is unchanged.

    Parameters
    ----------
    noisy : ndarray, shape (S, C, Y, X)
        The measured data.
    pred : ndarray, same shape
        The blind-spot prediction.

    Returns
    -------
    result : ndarray, float32
        The blended prediction.
    weight : float
        The weight w given to the measurement.
    """
    noisy = np.asarray(noisy, np.float32)
    pred = np.asarray(pred, np.float32)
    impulses, _ = impulse_pixels(noisy, pred)
    good = ~impulses
    if noisy.shape[0] < 2 or not good.any():
        return pred, 0.0
    diff = (noisy[1:] - noisy[:-1])[good[1:] & good[:-1]]
    sigma2 = robust_sd(subsample(diff)) ** 2 / 2 if diff.size else np.inf
    resid = noisy - pred
    mean_sq = robust_sd(subsample(resid[good])) ** 2  # robust like sigma2: Poisson mixtures have heavy tails
    weight = float(np.clip(1.0 - sigma2 / mean_sq, 0.0, 1.0)) if mean_sq > 0 else 0.0
    return np.where(good, pred + weight * resid, pred).astype(np.float32), weight
