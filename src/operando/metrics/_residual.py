"""Checks of a denoised result that need no clean data: the residual should be the noise, and only the noise.

The residual ``r = noisy - denoised`` is compared with the noise as :func:`operando.noise.measure_noise_correlation`
measures it on the noisy data (its autocovariance ``C_n``, hence its power spectrum ``P_n``). The yardstick is
the **Wiener filter** built from the data's own spectrum ``P_y`` and that noise spectrum: at every frequency it
removes the share ``P_n / P_y`` of the data, so its residual has the spectrum ``P_n^2 / P_y`` -- never more
than the noise (it removes no signal beyond what the noise hides) and, where the noise dominates the data
(``P_n >= P_y / 2``), at least half of it. A denoiser is held to that standard, frequency by frequency
(power spectra by Welch's method on Hann-windowed tiles, smoothed over 3 x 3 frequency bins):

* **kept noise** ``sum max(P_n^2 / P_y - S_r, 0) / sum P_n``: noise power the output kept beyond what the
  Wiener filter keeps, as a fraction of the noise power. A blind-spot network on correlated noise
  reproduces the noise's predictable (low- and mid-frequency) part from the neighbours, so its residual lacks
  it exactly where the noise dominates; an under-smoothing filter keeps the noise everywhere.
* **removed signal** ``sum max(S_r - P_n, 0) / sum P_n``: residual power beyond the noise's at the same
  frequency. The noise alone cannot put it there, so it is image content taken out with the noise (edges and
  texture of an over-smoothing filter), again as a fraction of the noise power.
* **correlation kept**: the residual's neighbour correlation (along X and along Y) over the Wiener
  residual's, where the latter is >= 0.1 (the noise is correlated enough for a denoiser to copy it). A
  denoiser that copies the correlated part of the noise from the neighbours leaves a residual much whiter
  than the noise, and much whiter than the Wiener filter's (which keeps the noise where the image dominates,
  correlation included); a pass needs at least half of the Wiener residual's correlation.

Both spectral figures are in units of the noise power, so a limit reads as "costs more than that fraction of
the noise variance in mean squared error": a check fails when a denoiser's loss against the Wiener yardstick
is material (:data:`MAX_KEPT_NOISE`, :data:`MAX_REMOVED_SIGNAL`), not when it differs by chance (the
estimate's spread on a 256 x 256 image is a few hundredths). What is measured can be no better than the
noise measurement: where it mistakes fine image texture for noise, the noise spectrum is too high and kept
noise reads high; where it misses noise (Poisson noise measured on the quiet pixels only, scan-line offsets
correlated beyond the measured lags), even the true residual reads as removed signal (docs/benchmarks.md,
"Residual check, recalibrated").

Also reported, not judged: the variance ratio (the Wiener filter's own is :attr:`ResidualCheck.wiener_variance_ratio`),
the autocorrelations and the residual's correlation with the denoised image's detail (any smoothing filter
correlates the two through the noise alone, so it does not separate removed edges from removed noise).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._progress import Progress, emit, sub_progress
from .._stack import Stack, as_stack
from ..noise import noise_autocorrelation

#: Largest noise power (fraction of the noise's) an output may keep beyond the Wiener filter's.
MAX_KEPT_NOISE = 0.25
#: Largest residual power beyond the noise's (fraction of the noise power): signal removed.
MAX_REMOVED_SIGNAL = 0.25
#: Smallest share of the Wiener residual's neighbour correlation the residual must keep.
MIN_CORRELATION_KEPT = 0.5
#: Wiener-residual neighbour correlation from which the copy test applies (``operando.noise``'s white limit).
CORRELATED_FROM = 0.1
#: Images at most this many are used for the spectra (evenly spread through a stack).
MAX_IMAGES = 16


@dataclass(frozen=True)
class ResidualCheck:
    """The residual's statistics against the noise's and against the Wiener yardstick, and the verdict.

    Attributes
    ----------
    noise_sigma : float
        Noise SD measured on the noisy data.
    residual_sigma : float
        SD of ``noisy - denoised``.
    variance_ratio : float
        ``residual_sigma**2 / noise_sigma**2`` (reported; an honest denoiser lies between
        ``wiener_variance_ratio`` and about 1).
    noise_acf_x, noise_acf_y : tuple of float
        The noise's autocorrelation at lags 0..3 (measured on the noisy data).
    residual_acf_x, residual_acf_y : tuple of float
        The residual's autocorrelation at lags 0..3.
    acf_mismatch : float
        Largest difference between the two at lags 1..3 (reported).
    structure_corr : float
        Correlation of the residual with the denoised image's detail (reported).
    wiener_variance_ratio : float
        The variance ratio the Wiener filter with the measured noise spectrum would leave.
    kept_noise : float
        Noise power kept beyond the Wiener filter's, fraction of the noise power; a pass needs
        <= :data:`MAX_KEPT_NOISE`.
    removed_signal : float
        Residual power beyond the noise's, fraction of the noise power; a pass needs <= :data:`MAX_REMOVED_SIGNAL`.
    correlation_kept : float or None
        Residual neighbour correlation over the Wiener residual's, the smaller of X and Y among the directions
        where the Wiener residual's is >= :data:`CORRELATED_FROM` (None when neither is: white noise); a pass
        needs >= :data:`MIN_CORRELATION_KEPT`.
    passed : bool
        All checks hold.
    problems : tuple of str
        One line per failed check, saying what it means.
    """

    noise_sigma: float
    residual_sigma: float
    variance_ratio: float
    noise_acf_x: tuple[float, ...]
    noise_acf_y: tuple[float, ...]
    residual_acf_x: tuple[float, ...]
    residual_acf_y: tuple[float, ...]
    acf_mismatch: float
    structure_corr: float
    wiener_variance_ratio: float
    kept_noise: float
    removed_signal: float
    correlation_kept: float | None
    passed: bool
    problems: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """Return the check as a JSON-ready dict."""
        return asdict(self)


def _images(data: Stack | np.ndarray, axes: str | None) -> np.ndarray:
    """All images of a stack as (N, Y, X) float64."""
    stack = as_stack(data, axes=axes)
    order = [a for a in stack.axes if a not in "YX"] + ["Y", "X"]
    arr = stack.transpose("".join(order)).to_numpy().astype(np.float64)
    return arr.reshape(-1, *arr.shape[-2:])


def _acf(images: np.ndarray, lags: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Autocorrelation along X and Y at lags 0..lags (:func:`operando.noise.noise_autocorrelation`, pooled)."""
    measured = noise_autocorrelation(images, max_lag=lags, axes_only=True)
    if not measured.variance > 0:  # a constant residual: nothing correlates
        return (1.0,) + (0.0,) * lags, (1.0,) + (0.0,) * lags
    return measured.acf_x, measured.acf_y


def _structure_corr(resid: np.ndarray, denoised: np.ndarray) -> float:
    """Correlation of the residual with the denoised images' detail (image minus its 2 px Gaussian blur)."""
    detail = denoised - ndimage.gaussian_filter(denoised, (0, 2, 2), mode="reflect")
    a = resid - resid.mean()
    b = detail - detail.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


def _tile_size(shape: tuple[int, int], max_lag: int) -> int:
    """Welch tile side: 64 px, or the largest power of two that fits twice (at least 2 max_lag + 2)."""
    side = 64
    while side > 2 * max_lag + 2 and 2 * side > min(shape):
        side //= 2
    return max(side, 2 * max_lag + 2)


def welch_psd(images: np.ndarray, tile: int) -> np.ndarray:
    """Power spectrum of (N, Y, X) images by Welch's method, Hann tiles overlapping by half, 3 x 3 smoothed.

    Parameters
    ----------
    images : ndarray, shape (N, Y, X)
        Images (each tile's mean is removed).
    tile : int
        Tile side, pixels (<= Y and X).

    Returns
    -------
    ndarray, shape (tile, tile)
        Power per frequency (unshifted FFT order), normalised so that white noise of variance ``s^2`` reads
        ``s^2`` at every frequency.
    """
    w1 = np.hanning(tile + 2)[1:-1]
    window = np.outer(w1, w1)
    step = max(tile // 2, 1)
    acc = np.zeros((tile, tile))
    count = 0
    for img in images:
        for i in range(0, img.shape[0] - tile + 1, step):
            for j in range(0, img.shape[1] - tile + 1, step):
                patch = img[i:i + tile, j:j + tile]
                acc += np.abs(np.fft.fft2((patch - patch.mean()) * window)) ** 2
                count += 1
    psd = acc / (max(count, 1) * (window * window).sum())
    return ndimage.uniform_filter(psd, 3, mode="wrap")


def _spectral(y: np.ndarray, resid: np.ndarray, noise) -> tuple[float, float, float, tuple[float, float]]:
    """Wiener variance ratio, kept noise, removed signal, and the Wiener residual's lag-1 correlation (x, y)."""
    from ..noise import psd_from_autocovariance

    picks = np.unique(np.linspace(0, y.shape[0] - 1, min(MAX_IMAGES, y.shape[0])).round().astype(int))
    max_lag = noise.acf_2d.shape[0] // 2
    tile = _tile_size(y.shape[-2:], max_lag)
    p_n = psd_from_autocovariance(noise.autocovariance(), (tile, tile)) / tile**2
    p_y = np.maximum(welch_psd(y[picks], tile), p_n)
    s_r = welch_psd(resid[picks], tile)
    total = max(float(p_n.sum()), 1e-30)
    wiener = p_n * p_n / np.maximum(p_y, 1e-30)
    kept = float(np.maximum(wiener - s_r, 0.0).sum() / total)
    removed = float(np.maximum(s_r - p_n, 0.0).sum() / total)
    acov = np.real(np.fft.ifft2(wiener))
    lag1 = (float(acov[0, 1] / acov[0, 0]), float(acov[1, 0] / acov[0, 0])) if acov[0, 0] > 0 else (0.0, 0.0)
    return float(wiener.sum() / total), kept, removed, lag1


def _correlation_kept(r_x: tuple[float, ...], r_y: tuple[float, ...], wiener_lag1: tuple[float, float]):
    """Smallest residual/Wiener-residual lag-1 correlation ratio over the correlated directions (None if none)."""
    ratios = [r[1] / w for r, w in zip((r_x, r_y), wiener_lag1, strict=True) if w >= CORRELATED_FROM]
    return float(min(ratios)) if ratios else None


def _problems(ratio: float, kept: float, removed: float, corr_kept: float | None) -> list[str]:
    """One line per failed check."""
    problems = []
    if corr_kept is not None and corr_kept < MIN_CORRELATION_KEPT:
        problems.append(f"the residual keeps {corr_kept:.2f} of the neighbour correlation a Wiener filter's would "
                        f"(< {MIN_CORRELATION_KEPT}): correlated noise was copied into the output")
    if kept > MAX_KEPT_NOISE:
        problems.append(f"the output kept {kept:.2f} of the noise power more than a Wiener filter would "
                        f"(residual variance {ratio:.2f}x the noise's): noise was kept, not removed")
    if removed > MAX_REMOVED_SIGNAL:
        problems.append(f"the residual holds {removed:.2f} of the noise power more than the noise at the same "
                        f"frequencies: signal (edges, texture) was removed with the noise")
    return problems


def check_residual(
    noisy: Stack | np.ndarray,
    denoised: Stack | np.ndarray,
    *,
    axes: str | None = None,
    noise=None,
    lags: int = 3,
    progress: Progress | None = None,
) -> ResidualCheck:
    """Check, without clean data, that ``noisy - denoised`` looks like the noise and holds no image structure.

    Parameters
    ----------
    noisy, denoised : Stack or ndarray
        The input and the denoiser's output, same shape (a plain array needs ``axes`` unless 2-D).
    axes : str, optional
        Axes of plain arrays.
    noise : NoiseCorrelation, optional
        The noise as measured on ``noisy`` (:func:`operando.noise.measure_noise_correlation`); measured here
        when not given.
    lags : int
        Autocorrelation lags reported (1..lags).
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports (the noise measurement, then the spectra); raise
        :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    ResidualCheck
        Statistics, verdict and the problems found (see the module docstring for the yardstick).
    """
    y = _images(noisy, axes)
    d = _images(denoised, axes)
    if y.shape != d.shape:
        raise InputError(f"noisy {y.shape} and denoised {d.shape} differ in shape; pass the denoiser's own output")
    if noise is None:
        from ..noise import measure_noise_correlation

        noise = measure_noise_correlation(noisy, axes=axes, progress=sub_progress(progress, 0.0, 0.7, "residual "))
    emit(progress, 0.7, "residual check: spectra")
    resid = y - d
    r_sigma = float(resid.std())
    ratio = r_sigma**2 / max(noise.sigma**2, 1e-30)
    r_x, r_y = _acf(resid, lags)
    n_x, n_y = tuple(noise.acf_x[:lags + 1]), tuple(noise.acf_y[:lags + 1])
    mismatch = float(max(max(abs(a - b) for a, b in zip(r_x[1:], n_x[1:], strict=False)),
                         max(abs(a - b) for a, b in zip(r_y[1:], n_y[1:], strict=False))))
    wiener_ratio, kept, removed, wiener_lag1 = _spectral(y, resid, noise)
    corr_kept = _correlation_kept(r_x, r_y, wiener_lag1)
    problems = _problems(ratio, kept, removed, corr_kept)
    return ResidualCheck(
        noise_sigma=float(noise.sigma), residual_sigma=r_sigma, variance_ratio=float(ratio), noise_acf_x=n_x,
        noise_acf_y=n_y, residual_acf_x=r_x, residual_acf_y=r_y, acf_mismatch=mismatch,
        structure_corr=_structure_corr(resid, d), wiener_variance_ratio=wiener_ratio, kept_noise=kept,
        removed_signal=removed, correlation_kept=corr_kept,
        passed=not problems, problems=tuple(problems),
    )
