"""Put the measurement back: blend a blind-spot prediction with each pixel's own value where it is no impulse."""

from __future__ import annotations

import numpy as np

from ._robust import robust_sd, subsample


def impulse_pixels(noisy: np.ndarray, pred: np.ndarray, *, threshold: float = 4.0) -> tuple[np.ndarray, bool]:
    """Where ``noisy`` holds an impulse rather than a measurement, and whether that is known exactly.

    Salt-and-pepper, dead and saturated pixels sit exactly at the data's minimum or maximum; when either value
    holds more than 0.1 % of the pixels, those pixels are the impulses (exact). Otherwise a pixel counts as an
    impulse when its residual from the prediction exceeds ``threshold`` robust SDs (which also flags the
    prediction's own largest errors: there the prediction is kept, the safe side).
    """
    lo, hi = float(noisy.min()), float(noisy.max())
    at_lo, at_hi = noisy == lo, noisy == hi
    share = 1e-3 * noisy.size
    n_lo, n_hi = int(at_lo.sum()), int(at_hi.sum())
    if n_lo > share or n_hi > share:
        return (at_lo & (n_lo > share)) | (at_hi & (n_hi > share)), True
    resid = noisy - pred
    return np.abs(resid) > threshold * max(robust_sd(subsample(resid)), 1e-12), False


def keep_measured_pixels(noisy: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, float]:
    """Blend the measurement back into a blind-spot prediction wherever it is not an impulse.

    ``pred`` (S, C, Y, X) must not depend on ``noisy`` at the same pixel (temporal masking and the blind spot
    guarantee it). At pixels that are not impulses (:func:`impulse_pixels`), with r = noisy - pred, the
    least-squares blend is pred + w r with w = 1 - sigma^2 / E[r^2], where the noise variance sigma^2 is
    estimated from frame-to-frame differences of those pixels (E[r^2] robustly, unless the impulses are known
    exactly). With pure impulse noise (sigma ~ 0) the good pixels are kept as measured (w ~ 1); with strong
    Gaussian noise w ~ 0 and the prediction is unchanged. Returns (result, w).
    """
    noisy = np.asarray(noisy, np.float32)
    pred = np.asarray(pred, np.float32)
    impulses, exact = impulse_pixels(noisy, pred)
    good = ~impulses
    if noisy.shape[0] < 2 or not good.any():
        return pred, 0.0
    diff = (noisy[1:] - noisy[:-1])[good[1:] & good[:-1]]
    sigma2 = robust_sd(subsample(diff)) ** 2 / 2 if diff.size else np.inf
    resid = noisy - pred
    mean_sq = float(np.mean(resid[good] ** 2)) if exact else robust_sd(subsample(resid[good])) ** 2
    weight = float(np.clip(1.0 - sigma2 / mean_sq, 0.0, 1.0)) if mean_sq > 0 else 0.0
    return np.where(good, pred + weight * resid, pred).astype(np.float32), weight
