"""Measure how the noise of a stack is correlated in space and time, from the noisy data alone.

The estimate must not depend on the image: a plain high-pass residual ``y - G * y`` makes white noise look
anti-correlated (the filter itself correlates neighbouring residuals) and hides real correlation. Here the
first denoising pass is a linear smoother whose effect on the noise is known exactly, so it is undone:

* the residual ``r = y - G * y`` of a Gaussian first pass has, where the image is locally smooth, the
  autocovariance ``C_r = (k * k~) * C_n`` with ``k = delta - g`` (the residual filter);
* ``C_r`` is measured over the pixels where the residual shows no image structure (its local energy is
  within the noise's), and ``C_n`` (lags up to ``max_lag``, symmetric) is the least-squares solution;
* the pass is iterated: the second pass re-selects the smooth pixels with the noise level measured by the
  first (an edge then stands out against the true noise, not against a guess).

For videos the noise is measured on differences of neighbouring frames after motion compensation
(``skimage.registration.phase_cross_correlation``): the scene cancels, the noise of two frames remains. The
temporal correlation follows from the variance of those differences, ``var(y_t - y_t+1) = 2 sigma^2 (1 - rho_t)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._stack import Stack, as_stack

#: Neighbour correlation below which a pixel-wise blind spot is safe (noise counts as white).
WHITE_THRESHOLD = 0.1


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
        True when neighbouring pixels' noise is independent enough for a pixel-wise blind spot.
    source : str
        ``"frame differences"`` or ``"single image"``.
    """

    sigma: float
    acf_y: tuple[float, ...]
    acf_x: tuple[float, ...]
    acf_2d: np.ndarray = field(repr=False)
    temporal_corr: float | None
    correlation_length_px: int
    blind_spot_ok: bool
    source: str

    @property
    def neighbour_corr(self) -> float:
        """The larger of the lag-1 correlations along Y and X."""
        return max(self.acf_y[1], self.acf_x[1])

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

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary (lags, length, verdict, a PSD summary)."""
        psd = self.psd((64, 64)) / (64 * 64 * max(self.sigma**2, 1e-30))
        f = np.fft.fftfreq(64)
        radius = np.hypot(f[:, None], f[None, :])
        return {
            "sigma": self.sigma, "acf_y": [round(v, 4) for v in self.acf_y],
            "acf_x": [round(v, 4) for v in self.acf_x], "temporal_corr": self.temporal_corr,
            "correlation_length_px": self.correlation_length_px, "blind_spot_ok": self.blind_spot_ok,
            "source": self.source,
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


def _residual_kernel(smooth_sigma: float, radius: int) -> np.ndarray:
    """Return the filter delta - g of the first pass, (2 radius + 1)^2, as scipy's gaussian_filter applies it."""
    delta = np.zeros((2 * radius + 1, 2 * radius + 1))
    delta[radius, radius] = 1.0
    return delta - ndimage.gaussian_filter(delta, smooth_sigma, mode="constant", truncate=radius / smooth_sigma)


def _weighted_acov(resid: np.ndarray, weight: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocovariance of ``resid`` over the weighted pixels, lags up to ``max_lag`` (centred)."""
    h, w = resid.shape
    shape = (h + max_lag + 1, w + max_lag + 1)
    fr = np.fft.rfft2(resid * weight, shape)
    fw = np.fft.rfft2(weight, shape)
    num = np.fft.irfft2(fr * np.conj(fr), shape)
    den = np.fft.irfft2(fw * np.conj(fw), shape)
    idx = np.arange(-max_lag, max_lag + 1)
    num = num[np.ix_(idx % shape[0], idx % shape[1])]
    den = den[np.ix_(idx % shape[0], idx % shape[1])]
    return num / np.maximum(den, 1.0)


def _deconvolve_acov(acov_r: np.ndarray, kernel: np.ndarray, max_lag: int) -> np.ndarray:
    """Least-squares noise autocovariance (lags <= max_lag, symmetric) whose filtered version fits ``acov_r``."""
    kk = _autocorrelate(kernel)  # (4R + 1)^2, centred
    big = acov_r.shape[0] // 2
    kh = kk.shape[0] // 2
    lags = [(dy, dx) for dy in range(0, max_lag + 1) for dx in range(-max_lag, max_lag + 1) if dy > 0 or dx >= 0]
    cols = []
    for dy, dx in lags:
        col = np.zeros_like(acov_r)
        for sy, sx in {(dy, dx), (-dy, -dx)}:
            pad = np.zeros_like(acov_r)
            ys = slice(max(0, big + sy - kh), min(2 * big + 1, big + sy + kh + 1))
            xs = slice(max(0, big + sx - kh), min(2 * big + 1, big + sx + kh + 1))
            ky = slice(ys.start - (big + sy - kh), ys.stop - (big + sy - kh))
            kx = slice(xs.start - (big + sx - kh), xs.stop - (big + sx - kh))
            pad[ys, xs] = kk[ky, kx]
            col += pad
        cols.append(col.ravel())
    coef, *_ = np.linalg.lstsq(np.stack(cols, axis=1), acov_r.ravel(), rcond=None)
    out = np.zeros((2 * max_lag + 1, 2 * max_lag + 1))
    for (dy, dx), c in zip(lags, coef, strict=True):
        out[max_lag + dy, max_lag + dx] = c
        out[max_lag - dy, max_lag - dx] = c
    return out


def _autocorrelate(kernel: np.ndarray) -> np.ndarray:
    """Full 2-D autocorrelation of a small kernel, centred."""
    from scipy.signal import fftconvolve

    return fftconvolve(kernel, kernel[::-1, ::-1], mode="full")


def _smooth_weight(resid: np.ndarray, noise_var: float | None) -> np.ndarray:
    """1 where the residual's local energy is that of noise alone (4 px clear of any structure), else 0."""
    energy = ndimage.gaussian_filter(resid * resid, 2.0)
    reference = noise_var if noise_var is not None else float(np.quantile(energy, 0.25))
    structure = ndimage.binary_dilation(energy >= 2.0 * reference, iterations=4)
    keep = ~structure
    if keep.mean() < 0.1:  # textured everywhere: keep the quietest tenth rather than nothing
        keep = energy <= np.quantile(energy, 0.1)
    return keep.astype(np.float64)


def image_autocovariance(
    image: np.ndarray, *, max_lag: int = 5, smooth_sigma: float | None = None, iterations: int = 2
) -> np.ndarray:
    """Noise autocovariance of one 2-D image (lags up to ``max_lag``, centred), corrected for the first pass.

    Parameters
    ----------
    image : ndarray, shape (Y, X)
        One noisy image.
    max_lag : int
        Largest lag estimated; the noise is assumed uncorrelated beyond it.
    smooth_sigma : float, optional
        Width (pixels) of the Gaussian first pass (default 3, narrower for images under ~160 px).
    iterations : int
        Passes of structure masking (the second uses the noise level the first measured).

    Returns
    -------
    ndarray, shape (2 max_lag + 1, 2 max_lag + 1)
        Autocovariance in the image's units squared, lag (0, 0) in the middle.
    """
    y = np.asarray(image, np.float64)
    if smooth_sigma is None:
        smooth_sigma = float(np.clip(np.floor((min(y.shape) / 4 - max_lag) / 2) / 4, 1.0, 3.0))
    radius = int(np.ceil(4 * smooth_sigma))
    if min(y.shape) < 4 * (max_lag + 2 * radius):
        raise InputError(f"an image of {y.shape} is too small to measure noise correlation up to lag {max_lag}; "
                         f"need >= {4 * (max_lag + 2 * radius)} px per side (or a smaller max_lag)")
    resid = y - ndimage.gaussian_filter(y, smooth_sigma, mode="reflect", truncate=radius / smooth_sigma)
    kernel = _residual_kernel(smooth_sigma, radius)
    crop = (slice(radius, -radius), slice(radius, -radius))  # the border residual differs (reflection)
    resid = resid[crop]
    resid = resid - resid.mean()
    noise_var = None
    acov = np.zeros((2 * max_lag + 1, 2 * max_lag + 1))
    for _ in range(max(1, iterations)):
        weight = _smooth_weight(resid, noise_var)
        acov_r = _weighted_acov(resid, weight, max_lag + 2 * radius)
        acov = _deconvolve_acov(acov_r, kernel, max_lag)
        noise_var = float(acov_r[acov_r.shape[0] // 2, acov_r.shape[1] // 2])  # residual energy of the noise
    return acov


def _frame_differences(frames: np.ndarray, picks: np.ndarray, register: bool) -> list[np.ndarray]:
    """(frame i - frame i + 1) / sqrt 2 for each i in ``picks``, the pair aligned by phase correlation first."""
    out = []
    for i in picks:
        a, b = frames[i], frames[i + 1]
        if register:
            from skimage.registration import phase_cross_correlation

            shift, _, _ = phase_cross_correlation(a, b, normalization=None)
            if np.any(np.abs(shift) >= 0.5):
                b = ndimage.shift(b, shift, order=1, mode="nearest")
        out.append((a - b) / np.sqrt(2.0))
    return out


def _verdict(acf: np.ndarray, sigma: float, temporal: float | None, source: str) -> NoiseCorrelation:
    """Package a normalised 2-D autocorrelation as a :class:`NoiseCorrelation`."""
    lag = acf.shape[0] // 2
    acf_y = tuple(float(v) for v in acf[lag:, lag])
    acf_x = tuple(float(v) for v in acf[lag, lag:])
    dist = np.maximum(*np.abs(np.mgrid[-lag:lag + 1, -lag:lag + 1]))
    strong = dist[acf >= WHITE_THRESHOLD]
    length = int(strong.max()) if strong.size else 0
    return NoiseCorrelation(
        sigma=float(sigma), acf_y=acf_y, acf_x=acf_x, acf_2d=acf, temporal_corr=temporal,
        correlation_length_px=length, blind_spot_ok=length == 0, source=source,
    )


def measure_noise_correlation(
    data: Stack | np.ndarray,
    *,
    axes: str | None = None,
    max_lag: int = 5,
    max_frames: int = 16,
    register: bool = True,
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

    Returns
    -------
    NoiseCorrelation
        Sigma, autocorrelations, correlation length and the blind-spot verdict.

    Notes
    -----
    Single images: the residual of a Gaussian first pass over the smooth pixels, its autocovariance
    deconvolved by the pass's known effect (module docstring). Videos: the same estimate on differences of
    neighbouring frames, where the scene cancels; the temporal correlation is ``1 - var(d) / (2 sigma^2)``
    with ``sigma`` from the frames themselves.
    """
    stack = as_stack(data, axes=axes)
    order = [a for a in stack.axes if a in "TE"][:1]
    rest = [a for a in stack.axes if a not in "YX" and a not in order]
    arr = stack.transpose("".join(rest + order + ["Y", "X"])).to_numpy().astype(np.float64)
    arr = arr.reshape(-1, *arr.shape[-2:]) if order else arr.reshape(-1, *arr.shape[-2:])[:1]
    if not np.isfinite(arr).all():
        arr = np.where(np.isfinite(arr), arr, np.nanmedian(arr))
    if order and arr.shape[0] >= 3:
        if rest:
            n_t = stack.shape[stack.axes.index(order[0])]
            arr = arr[:n_t]
        picks = np.unique(np.linspace(0, arr.shape[0] - 2, min(max_frames, arr.shape[0] - 1)).round().astype(int))
        diffs = _frame_differences(arr, picks, register)
        acov_d = np.mean([image_autocovariance(d, max_lag=max_lag) for d in diffs], axis=0)
        acov_f = np.mean([image_autocovariance(arr[i], max_lag=max_lag) for i in picks[:4]], axis=0)
        var_f = max(acov_f[max_lag, max_lag], 1e-30)
        var_d = max(acov_d[max_lag, max_lag], 1e-30)  # (1 - rho_t) sigma^2, as d was divided by sqrt 2
        temporal = float(np.clip(1.0 - var_d / var_f, -1.0, 1.0))
        return _verdict(acov_d / var_d, np.sqrt(var_f), temporal, "frame differences")
    acov = image_autocovariance(arr[0], max_lag=max_lag)
    var = max(acov[max_lag, max_lag], 1e-30)
    return _verdict(acov / var, np.sqrt(var), None, "single image")
