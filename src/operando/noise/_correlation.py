"""Measure how the noise of a stack is correlated in space and time, from the noisy data alone.

The estimate must not depend on the image. A plain high-pass residual ``y - G * y`` makes white noise look
anti-correlated (the filter itself correlates neighbouring residuals); undoing the filter's known effect fixes
that but not the texture the residual keeps: on a textured scene (a Cahn-Hilliard frame, a portrait) whatever
signal the first pass leaves has a smooth positive autocorrelation and white noise read 0.15-0.21. So single
images are measured only on their flat patches, where "flat" is a test whose law under the noise alone is
known, and the polynomial removed from each patch is undone exactly (:mod:`._flat_patches` has the formulas).
The measurement carries its standard error (jackknife over spatial blocks), and a pixel-wise blind spot is
called unsafe only when the neighbour correlation clears ``WHITE_THRESHOLD`` by ``EVIDENCE_Z`` errors.

For videos the noise is measured on differences of neighbouring frames after motion compensation
(``skimage.registration.phase_cross_correlation``): the scene cancels, the noise of two frames remains. The
temporal correlation follows from the variance of those differences, ``var(y_t - y_t+1) = 2 sigma^2 (1 - rho_t)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._progress import Progress, emit, sub_progress
from .._stack import Stack, as_stack
from ._autocorrelation import CORRELATED_FROM, correlation_length

#: Neighbour correlation below which a pixel-wise blind spot is safe (noise counts as white).
WHITE_THRESHOLD = CORRELATED_FROM
#: Standard errors the measured neighbour correlation must clear WHITE_THRESHOLD by to count as correlated.
EVIDENCE_Z = 2.0


@dataclass(frozen=True)
class NoiseCorrelation:
    """The measured second-order statistics of the noise.

    Attributes
    ----------
    sigma : float
        Noise standard deviation, in the data's units.
    acf_y, acf_x : tuple of float
        Autocorrelation at lags 0..max_lag along Y and along X (lag 0 is 1).
    acf_2d : ndarray, shape (2 max_lag + 1, 2 max_lag + 1)
        The 2-D autocorrelation, lag (0, 0) in the middle.
    temporal_corr : float or None
        Correlation of the noise between neighbouring frames (None for a single image).
    correlation_length_px : int
        Largest lag (Chebyshev distance, pixels) at which the 2-D autocorrelation is still >= 0.1: the radius
        a blind spot must cover. 0 for white noise.
    blind_spot_ok : bool
        True unless the measurement shows, beyond its uncertainty, that neighbouring pixels' noise correlates:
        no lag of the 8-neighbourhood has ``acf - EVIDENCE_Z * se >= WHITE_THRESHOLD``.
    source : str
        ``"frame differences"`` or ``"single image"``.
    acf_se : ndarray or None
        Standard error of :attr:`acf_2d` (jackknife over spatial blocks; for videos, of the pairs' mean).
    """

    sigma: float
    acf_y: tuple[float, ...]
    acf_x: tuple[float, ...]
    acf_2d: np.ndarray = field(repr=False)
    temporal_corr: float | None
    correlation_length_px: int
    blind_spot_ok: bool
    source: str
    acf_se: np.ndarray | None = field(default=None, repr=False)

    @property
    def neighbour_corr(self) -> float:
        """The larger of the lag-1 correlations along Y and X."""
        return max(self.acf_y[1], self.acf_x[1])

    @property
    def neighbour_corr_se(self) -> float:
        """Standard error of :attr:`neighbour_corr` (the larger of the two lags' errors; nan when unknown)."""
        if self.acf_se is None:
            return float("nan")
        c = self.acf_se.shape[0] // 2
        return float(max(self.acf_se[c, c + 1], self.acf_se[c + 1, c]))

    def autocovariance(self) -> np.ndarray:
        """Return the 2-D autocovariance (``sigma**2`` times :attr:`acf_2d`), lag (0, 0) in the middle."""
        return self.sigma**2 * self.acf_2d

    def psd(self, shape: tuple[int, int]) -> np.ndarray:
        """Return the noise power spectrum on an FFT grid of ``shape`` (BM3D's convention: white is sigma^2 Y X).

        Parameters
        ----------
        shape : tuple of int
            (Y, X) of the image the spectrum is for.

        Returns
        -------
        ndarray, shape ``shape``
            Non-negative power per frequency (unshifted FFT order).
        """
        return psd_from_autocovariance(self.autocovariance(), shape)

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary (lags, length, verdict, the neighbour correlation's error, a PSD summary)."""
        psd = self.psd((64, 64)) / (64 * 64 * max(self.sigma**2, 1e-30))
        f = np.fft.fftfreq(64)
        radius = np.hypot(f[:, None], f[None, :])
        se = self.neighbour_corr_se
        return {
            "sigma": self.sigma, "acf_y": [round(v, 4) for v in self.acf_y],
            "acf_x": [round(v, 4) for v in self.acf_x], "temporal_corr": self.temporal_corr,
            "correlation_length_px": self.correlation_length_px, "blind_spot_ok": self.blind_spot_ok,
            "source": self.source, "neighbour_corr_se": round(se, 4) if np.isfinite(se) else None,
            "psd_low_over_high": float(psd[radius < 0.125].mean() / max(psd[radius > 0.375].mean(), 1e-12)),
        }


def psd_from_autocovariance(acov: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Noise power spectrum on an FFT grid from a centred 2-D autocovariance (negative lobes clipped to 0).

    Parameters
    ----------
    acov : ndarray, shape (2L + 1, 2L + 1)
        Autocovariance with lag (0, 0) in the middle.
    shape : tuple of int
        (Y, X) of the FFT grid, each > 2 L.

    Returns
    -------
    ndarray, shape ``shape``
        ``Y X`` times the discrete Fourier transform of the autocovariance (BM3D's ``sigma_psd`` convention).
    """
    half = acov.shape[0] // 2
    if shape[0] <= 2 * half or shape[1] <= 2 * half:
        raise InputError(f"a PSD grid of {shape} is too small for lags up to {half}; use images > {2 * half} px")
    grid = np.zeros(shape)
    for dy in range(-half, half + 1):
        for dx in range(-half, half + 1):
            grid[dy % shape[0], dx % shape[1]] += acov[dy + half, dx + half]
    return np.clip(np.real(np.fft.fft2(grid)), 0.0, None) * shape[0] * shape[1]


def _check_measurable(shape: tuple[int, ...], max_lag: int) -> None:
    """Refuse a max_lag out of range or images too small for the flat-patch measurement."""
    from ._flat_patches import PATCH_PX

    if not 0 <= max_lag < PATCH_PX // 2:
        raise InputError(f"max_lag {max_lag} is out of range; use 0 <= max_lag <= {PATCH_PX // 2 - 1}")
    if min(shape[-2:]) < 3 * PATCH_PX:
        raise InputError(f"an image of {tuple(shape[-2:])} is too small to measure noise correlation; "
                         f"need >= {3 * PATCH_PX} px per side")


def image_autocovariance(
    image: np.ndarray, *, max_lag: int = 5, level: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Noise autocovariance of one 2-D image (lags up to ``max_lag``, centred), measured on its flat patches.

    Parameters
    ----------
    image : ndarray, shape (Y, X)
        One noisy image (or a difference of two frames).
    max_lag : int
        Largest lag estimated (at most ``PATCH_PX // 2 - 1``); the noise is assumed uncorrelated beyond it.
    level : ndarray, shape (Y, X), optional
        The signal level the noise variance may depend on (default: ``image``).

    Returns
    -------
    tuple of ndarray, each (2 max_lag + 1, 2 max_lag + 1)
        The autocovariance in the image's units squared and the standard error of the normalised
        autocorrelation (jackknife over spatial blocks), lag (0, 0) in the middle.
    """
    from ._flat_patches import flat_patch_estimate

    y = np.asarray(image, np.float64)
    _check_measurable(y.shape, max_lag)
    if not np.isfinite(y).all():
        raise InputError("the image holds NaN or infinite values; replace or mask them before measuring the noise")
    if np.ptp(y) == 0:
        raise InputError(f"the image is constant (every pixel {y.flat[0]:g}): there is no noise to measure")
    with np.errstate(all="ignore"), warnings.catch_warnings():  # constant patches: checked below, in one line
        warnings.simplefilter("ignore", RuntimeWarning)
        est = flat_patch_estimate(y, level, max_lag=max_lag)
    centre = est.acov.shape[0] // 2
    if not (np.isfinite(est.acov).all() and est.acov[centre, centre] > 0):
        raise InputError("the noise cannot be measured: the flattest parts of the image are constant (no noise in "
                         "them, e.g. a padded, clipped or saturated region); crop them away first")
    return est.acov, est.acf_se


def _frame_differences(frames: np.ndarray, picks: np.ndarray, register: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """((frame i - frame i + 1) / sqrt 2, their mean) for each i in ``picks``, aligned by phase correlation first."""
    out = []
    for i in picks:
        a, b = frames[i], frames[i + 1]
        if register and np.ptp(a) > 0 and np.ptp(b) > 0:  # a constant frame has nothing to align by
            from skimage.registration import phase_cross_correlation

            shift, _, _ = phase_cross_correlation(a, b, normalization=None)
            if np.any(np.abs(shift) >= 0.5):
                b = ndimage.shift(b, shift, order=1, mode="nearest")
        out.append(((a - b) / np.sqrt(2.0), (a + b) / 2.0))
    return out


def _verdict(acf: np.ndarray, se: np.ndarray, sigma: float, temporal: float | None, source: str) -> NoiseCorrelation:
    """Package a normalised 2-D autocorrelation and its standard error as a :class:`NoiseCorrelation`."""
    lag = acf.shape[0] // 2
    acf_y = tuple(float(v) for v in acf[lag:, lag])
    acf_x = tuple(float(v) for v in acf[lag, lag:])
    dist = np.maximum(*np.abs(np.mgrid[-lag:lag + 1, -lag:lag + 1]))
    length = correlation_length(acf, WHITE_THRESHOLD)
    ring = dist == 1
    lower = acf[ring] - EVIDENCE_Z * np.nan_to_num(se[ring], nan=np.inf)
    return NoiseCorrelation(
        sigma=float(sigma), acf_y=acf_y, acf_x=acf_x, acf_2d=acf, temporal_corr=temporal,
        correlation_length_px=length, blind_spot_ok=bool(not np.any(lower >= WHITE_THRESHOLD)), source=source,
        acf_se=se,
    )


def _measured(fn, items, progress: Progress | None = None, what: str = "") -> list[tuple[np.ndarray, np.ndarray]]:
    """``fn(*item)`` for each item, leaving out images with nothing to measure (constant where flat)."""
    out = []
    items = list(items)
    for i, item in enumerate(items):
        emit(progress, i / max(len(items), 1), f"noise correlation: {what} {i + 1} of {len(items)}")
        try:
            out.append(fn(*item))
        except InputError:
            continue
    return out


def _video_correlation(arr: np.ndarray, max_lag: int, max_frames: int, register: bool,
                       progress: Progress | None) -> NoiseCorrelation:
    """Measure a (T, Y, X) video's noise on differences of neighbouring frames (:func:`measure_noise_correlation`)."""
    picks = np.unique(np.linspace(0, arr.shape[0] - 2, min(max_frames, arr.shape[0] - 1)).round().astype(int))
    measured = _measured(lambda d, m: image_autocovariance(d, max_lag=max_lag, level=m),
                         _frame_differences(arr, picks, register), sub_progress(progress, 0.0, 0.8),
                         "frame pair")
    frames = _measured(lambda f: image_autocovariance(f, max_lag=max_lag), [(arr[i],) for i in picks[:4]],
                       sub_progress(progress, 0.8, 1.0), "frame")
    if not frames:
        frames = _measured(lambda f: image_autocovariance(f, max_lag=max_lag), [(f,) for f in arr],
                           sub_progress(progress, 0.8, 1.0), "frame")
    if not frames:
        raise InputError("the noise cannot be measured on any frame: each is constant or constant where it is "
                         "flattest (a padded, clipped or saturated region); crop such regions away first")
    if not measured:  # neighbouring frames are identical where flat: the noise does not change in time
        acov_f = np.mean([a for a, _ in frames], axis=0)
        var_f = max(acov_f[max_lag, max_lag], 1e-30)
        return _verdict(acov_f / var_f, np.sqrt(np.mean([e**2 for _, e in frames], axis=0) / len(frames)),
                        np.sqrt(var_f), 1.0, "single frames (neighbouring frames identical)")
    acov_d = np.mean([a for a, _ in measured], axis=0)
    se_d = np.sqrt(np.mean([e**2 for _, e in measured], axis=0) / len(measured))  # independent pairs' mean
    acov_f = np.mean([a for a, _ in frames], axis=0)
    var_f = max(acov_f[max_lag, max_lag], 1e-30)
    var_d = max(acov_d[max_lag, max_lag], 1e-30)  # (1 - rho_t) sigma^2, as d was divided by sqrt 2
    temporal = float(np.clip(1.0 - var_d / var_f, -1.0, 1.0))
    return _verdict(acov_d / var_d, se_d, np.sqrt(var_f), temporal, "frame differences")


def measure_noise_correlation(
    data: Stack | np.ndarray,
    *,
    axes: str | None = None,
    max_lag: int = 5,
    max_frames: int = 16,
    register: bool = True,
    progress: Progress | None = None,
) -> NoiseCorrelation:
    """Measure the noise's spatial (and, for videos, temporal) correlation from the noisy data alone.

    Parameters
    ----------
    data : Stack or ndarray
        An image (``YX``) or a stack with ``T`` or ``E`` (a plain array needs ``axes`` unless 2-D). Only the
        first channel is measured.
    axes : str, optional
        Axes of a plain array.
    max_lag : int
        Lags 0..max_lag are reported along Y and X and in the 2-D shape.
    max_frames : int
        Videos: at most this many neighbouring-frame pairs are used (evenly spread).
    register : bool
        Videos: align each pair of frames by phase correlation before differencing (motion compensation).
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports (one per frame pair measured); raise
        :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    NoiseCorrelation
        Sigma, autocorrelations, correlation length and the blind-spot verdict.

    Notes
    -----
    Single images: the lag products of the patches where the image is flat (a texture test of known null law),
    corrected exactly for the polynomial removed from each patch (module docstring). Videos: the same estimate
    on differences of neighbouring frames, where the scene cancels; the temporal correlation is
    ``1 - var(d) / (2 sigma^2)`` with ``sigma`` from the frames themselves.
    """
    stack = as_stack(data, axes=axes)
    order = [a for a in stack.axes if a in "TE"][:1]
    rest = [a for a in stack.axes if a not in "YX" and a not in order]
    arr = stack.transpose("".join(rest + order + ["Y", "X"])).to_numpy().astype(np.float64)
    arr = arr.reshape(-1, *arr.shape[-2:]) if order else arr.reshape(-1, *arr.shape[-2:])[:1]
    _check_measurable(arr.shape, max_lag)
    if not np.isfinite(arr).any():
        raise InputError("every pixel is NaN or infinite: there is no noise to measure")
    if not np.isfinite(arr).all():
        arr = np.where(np.isfinite(arr), arr, np.nanmedian(arr))
    if np.ptp(arr) == 0:
        raise InputError(f"the data is constant (every pixel {arr.flat[0]:g}): there is no noise to measure")
    if order and arr.shape[0] >= 3:
        if rest:
            n_t = stack.shape[stack.axes.index(order[0])]
            arr = arr[:n_t]
        return _video_correlation(arr, max_lag, max_frames, register, progress)
    emit(progress, 0.0, "noise correlation: single image")
    acov, se = image_autocovariance(arr[0], max_lag=max_lag)
    var = max(acov[max_lag, max_lag], 1e-30)
    return _verdict(acov / var, se, np.sqrt(var), None, "single image")
