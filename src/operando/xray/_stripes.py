"""Scan-line (row-correlated) noise: diagnosis and row-offset removal.

STXM is a point raster: flux, timing and stage jitter give each scan line its own gain or offset, so the noise is
correlated along rows (X). The diagnosis measures it on a residual (the particle-free background, or raw minus
denoised); per-line I0 (:func:`operando.xray.optical_density` with ``per_line=True``) and row-offset removal
correct it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from ..noise import noise_autocorrelation


@dataclass(frozen=True)
class StripeDiagnosis:
    """Row-correlation figures of a residual image.

    Attributes
    ----------
    row_profile : ndarray, shape (Y,)
        Mean of every row (NaN for rows without usable pixels).
    row_sd : float
        Standard deviation of the row means.
    white_row_sd : float
        What ``row_sd`` would be for uncorrelated noise of the same pixel variance (sd / sqrt(pixels per row)).
    stripe_fraction : float
        Share of the residual's variance carried by the row means (0: none, 1: pure stripes).
    ridge : float
        Autocorrelation along rows (lags 1-5, mean) minus along columns: > 0 for horizontal stripes
        (:func:`operando.noise.noise_autocorrelation`).
    ky_power_fraction : float
        Share of the non-DC power on the k_x = 0 axis of the 2-D spectrum (white noise: ~1 / X).
    """

    row_profile: np.ndarray
    row_sd: float
    white_row_sd: float
    stripe_fraction: float
    ridge: float
    ky_power_fraction: float

    def to_dict(self) -> dict[str, float]:
        """Return the scalar figures as a dict (for JSON summaries)."""
        return {"row_sd": self.row_sd, "white_row_sd": self.white_row_sd, "stripe_fraction": self.stripe_fraction,
                "ridge": self.ridge, "ky_power_fraction": self.ky_power_fraction,
                "row_excess": self.row_sd / self.white_row_sd if self.white_row_sd > 0 else float("nan")}


def _mean_over_lags(acf: tuple[float, ...]) -> float:
    """Mean autocorrelation over lags 1.. (lags without enough pixel pairs left out; NaN when none has)."""
    values = [v for v in acf[1:] if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def diagnose_stripes(residual: np.ndarray, *, mask: np.ndarray | None = None, lags: int = 5) -> StripeDiagnosis:
    """Measure scan-line noise in a residual image (background OD, or raw minus denoised).

    Parameters
    ----------
    residual : ndarray, shape (Y, X)
        The residual (NaN allowed: ignored).
    mask : ndarray of bool, shape (Y, X), optional
        Pixels to use (e.g. the particle-free background).
    lags : int
        Autocorrelation lags averaged for the ridge.

    Returns
    -------
    StripeDiagnosis
        Row profile, row-mean spread against white noise, stripe share of the variance, ridge, k_y power.
    """
    r = np.asarray(residual, dtype=float)
    if r.ndim != 2:
        raise InputError(f"diagnose_stripes takes one (Y, X) image, got shape {r.shape}")
    use = np.isfinite(r) & (mask if mask is not None else True)
    if use.sum() < 16:
        raise InputError(f"only {int(use.sum())} usable pixels for the stripe diagnosis; need >= 16")
    r = np.where(use, r - np.nanmean(r[use]), np.nan)
    counts = use.sum(axis=1)
    with np.errstate(invalid="ignore"):
        profile = np.where(counts > 0, np.nansum(r, axis=1) / np.maximum(counts, 1), np.nan)
    rows = counts >= 2
    row_sd = float(np.nanstd(profile[rows]))
    pixel_var = float(np.nanvar(r))
    white = float(np.sqrt(pixel_var / np.mean(counts[rows]))) if rows.any() else float("nan")
    filled = np.nan_to_num(r)
    power = np.abs(np.fft.fft2(filled)) ** 2
    power[0, 0] = 0.0
    ky = float(power[1:, 0].sum() / power.sum()) if power.sum() > 0 else float("nan")
    acf = noise_autocorrelation(r, max_lag=lags, axes_only=True)
    ridge = _mean_over_lags(acf.acf_x) - _mean_over_lags(acf.acf_y)
    share = stripe_share(r, use) if pixel_var > 0 else float("nan")
    return StripeDiagnosis(profile, row_sd, white, share, ridge, ky)


def remove_row_offsets(image: np.ndarray, background: np.ndarray, *, min_pixels: int = 8
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Subtract each row's offset, measured as the median of its particle-free pixels (OD should be 0 there).

    Parameters
    ----------
    image : ndarray, shape (Y, X)
        Optical density (NaN allowed).
    background : ndarray of bool, shape (Y, X)
        Particle-free pixels.
    min_pixels : int
        Rows with fewer background pixels take the offset interpolated from the nearest rows that have enough.

    Returns
    -------
    (ndarray, ndarray)
        Corrected image and the offset of every row.
    """
    img = np.asarray(image, dtype=float)
    use = background & np.isfinite(img)
    n = use.sum(axis=1)
    offsets = np.full(img.shape[0], np.nan)
    for y in np.where(n >= min_pixels)[0]:
        offsets[y] = float(np.median(img[y, use[y]]))
    have = np.isfinite(offsets)
    if not have.any():
        raise InputError(f"no row has {min_pixels} particle-free pixels; cannot measure row offsets (give a larger "
                         "field of view or use per-line I0 off)")
    rows = np.arange(img.shape[0])
    offsets = np.interp(rows, rows[have], offsets[have])
    return img - offsets[:, None], offsets


def stripe_share(error: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Share of an error image's energy carried by its row means (the scan-line part of the error).

    Parameters
    ----------
    error : ndarray, shape (Y, X)
        Estimate minus truth (NaN ignored).
    mask : ndarray of bool, optional
        Pixels counted.

    Returns
    -------
    float
        sum_rows n_row mean_row^2 / sum e^2, in [0, 1].
    """
    e = np.asarray(error, dtype=float)
    use = np.isfinite(e) & (mask if mask is not None else True)
    total = float(np.sum(e[use] ** 2))
    if total == 0:
        return 0.0
    n = use.sum(axis=1)
    sums = np.where(use, e, 0).sum(axis=1)
    return float(np.sum(np.where(n > 0, sums**2 / np.maximum(n, 1), 0)) / total)
