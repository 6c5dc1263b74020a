"""The ONE autocorrelation of a residual or noise image over lags, NaN-aware, and what follows from it.

Every package that asks "how correlated is this residual (noisy - denoised, a background patch, a difference of
two independent estimates)?" measures it here: the residual check (:mod:`operando.metrics`), the scan-line
diagnosis (:mod:`operando.xray`), the noise diagnosis (:mod:`operando.denoise`) and the split estimate's error
correlation area. (:func:`operando.noise.measure_noise_correlation` answers another question, the noise of
*noisy data* with the image still in it, on its flat patches; both report the same attributes and the same
correlation length.)

The estimator is the standard sample autocorrelation, pooled over the images and computed directly (no FFT,
no wrap-around): each image's mean over its valid pixels is removed, then

    acf(dy, dx) = [sum of r(p) r(p + (dy, dx)) over valid pairs / number of valid pairs] / variance

with ``variance`` the mean of ``r**2`` over all valid pixels, so ``acf(0, 0) = 1``. A pixel is valid where it
is finite and inside ``mask``; a lag with fewer than :data:`MIN_PAIRS` valid pairs, or data of zero variance,
reads NaN. The same normalisation gives the lag(s) between consecutive images (``temporal=True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._errors import InputError
from .._progress import Progress, emit

#: Autocorrelation from which two pixels' noise counts as correlated (the correlation length's threshold).
CORRELATED_FROM = 0.1
#: Fewest valid pixel pairs a lag needs for its autocorrelation (fewer: NaN).
MIN_PAIRS = 3


def correlation_length(acf_2d: np.ndarray, threshold: float = CORRELATED_FROM) -> int:
    """Largest lag (Chebyshev distance, pixels) at which a centred 2-D autocorrelation is still >= ``threshold``.

    Parameters
    ----------
    acf_2d : ndarray, shape (2L + 1, 2L + 1)
        Autocorrelation with lag (0, 0) in the middle (NaN lags count as below the threshold).
    threshold : float
        Correlation that still counts.

    Returns
    -------
    int
        0 for white noise (only lag 0 reaches the threshold); at most L.
    """
    lag = acf_2d.shape[0] // 2
    dist = np.maximum(*np.abs(np.mgrid[-lag : lag + 1, -lag : lag + 1]))
    with np.errstate(invalid="ignore"):
        strong = dist[np.nan_to_num(acf_2d, nan=-np.inf) >= threshold]
    return int(strong.max()) if strong.size else 0


@dataclass(frozen=True)
class Autocorrelation:
    """A residual's autocorrelation over lags, as :func:`noise_autocorrelation` measures it.

    Attributes
    ----------
    acf_2d : ndarray, shape (2 max_lag + 1, 2 max_lag + 1)
        Autocorrelation at lag (dy, dx) in row ``max_lag + dy``, column ``max_lag + dx`` (lag (0, 0) in the
        middle, symmetric). NaN where not measured: too few pairs, zero variance, or off the axes when only
        the axes were asked for.
    variance : float
        Pooled variance of the mean-removed valid pixels (the lag-0 autocovariance), in the data's units squared.
    n_pixels : int
        Valid pixels used.
    acf_t : tuple of float or None
        Autocorrelation between images ``t`` and ``t + k`` for k = 0..max_lag (shorter for fewer images), when
        ``temporal=True``; None otherwise.
    axes_only : bool
        Only the lags along X and Y were measured.
    """

    acf_2d: np.ndarray = field(repr=False)
    variance: float
    n_pixels: int
    acf_t: tuple[float, ...] | None = None
    axes_only: bool = False

    @property
    def max_lag(self) -> int:
        """Largest lag measured along each axis."""
        return self.acf_2d.shape[0] // 2

    @property
    def acf_x(self) -> tuple[float, ...]:
        """Autocorrelation at lags 0..max_lag along X (within rows)."""
        c = self.max_lag
        return tuple(float(v) for v in self.acf_2d[c, c:])

    @property
    def acf_y(self) -> tuple[float, ...]:
        """Autocorrelation at lags 0..max_lag along Y (within columns)."""
        c = self.max_lag
        return tuple(float(v) for v in self.acf_2d[c:, c])

    @property
    def neighbour_corr(self) -> float:
        """The larger of the lag-1 correlations along Y and X (NaN when neither was measured)."""
        pair = [v for v in (self.acf_x[1:2] + self.acf_y[1:2]) if np.isfinite(v)]
        return max(pair) if pair else float("nan")

    def _plane(self) -> np.ndarray:
        if self.axes_only:
            raise InputError("only the lags along X and Y were measured; call noise_autocorrelation with "
                             "axes_only=False for the correlation area or length")
        return self.acf_2d

    def correlation_length(self, threshold: float = CORRELATED_FROM) -> int:
        """Largest lag (Chebyshev, pixels) whose autocorrelation is >= ``threshold`` (0: white noise)."""
        return correlation_length(self._plane(), threshold)

    def correlation_area(self, radius: int | None = None) -> float:
        """Correlation area, pixels: the autocorrelation summed over the lags within ``radius`` (Chebyshev).

        For noise of this autocorrelation, the variance of a mean over ``n`` pixels (a region much larger than the
        correlation) is ``variance * area / n``: 1 for white noise, about ``(1 + 2 rho)^2`` for a lag-1
        correlation ``rho`` in both directions.

        Parameters
        ----------
        radius : int, optional
            Largest lag summed (default, and at most, ``max_lag``). Unmeasured (NaN) lags count 0.

        Returns
        -------
        float
            The sum (not floored; a residual anti-correlated by its filter can read below 1).
        """
        plane = self._plane()
        r = self.max_lag if radius is None else int(radius)
        if not 0 <= r <= self.max_lag:
            raise InputError(f"radius {radius} is out of range; use 0..{self.max_lag} (the lags measured)")
        c = self.max_lag
        return float(np.nansum(plane[c - r : c + r + 1, c - r : c + r + 1]))

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary: variance, lags along X, Y (and T), length and area where measured."""
        def clean(values):
            return [round(v, 6) if np.isfinite(v) else None for v in values]

        out: dict[str, object] = {"variance": self.variance, "n_pixels": self.n_pixels,
                                  "acf_x": clean(self.acf_x), "acf_y": clean(self.acf_y),
                                  "acf_t": None if self.acf_t is None else clean(self.acf_t)}
        if not self.axes_only:
            out["correlation_length_px"] = self.correlation_length()
            out["correlation_area_px"] = self.correlation_area()
        return out


def _lag_views(r: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the two (N, Y', X') views of ``r`` whose pixels are (dy >= 0, any dx) apart."""
    ny, nx = r.shape[-2:]
    a = r[:, : ny - dy, max(0, -dx) : nx - max(0, dx)]
    b = r[:, dy:, max(0, dx) : nx + min(0, dx)]
    return a, b


def _mean_product(a: np.ndarray, b: np.ndarray, va: np.ndarray | None, vb: np.ndarray | None) -> float:
    """Mean of ``a * b`` over the pairs valid in both (None: every pair valid); NaN below MIN_PAIRS pairs."""
    prod = a * b  # invalid pixels hold 0: their products add nothing
    count = prod.size if va is None else int(np.count_nonzero(va & vb))
    return float(prod.sum() / count) if count >= MIN_PAIRS else float("nan")


def _prepare(images: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Mean-removed images with invalid pixels at 0, the validity (None: all valid) and the valid count."""
    x = np.asarray(images, dtype=np.float64)
    shape = x.shape
    x = x.reshape(-1, *shape[-2:])
    valid = np.isfinite(x)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        try:
            m = np.broadcast_to(m, shape)
        except ValueError:
            raise InputError(f"mask of shape {m.shape} does not fit images of shape {shape}; give (Y, X) or "
                             "the images' shape") from None
        valid = valid & m.reshape(x.shape)
    n_valid = int(np.count_nonzero(valid))
    if n_valid == 0:
        raise InputError("no valid pixel (every pixel is NaN, infinite or masked out): no autocorrelation to "
                         "measure")
    every = n_valid == valid.size
    filled = x if every else np.where(valid, x, 0.0)
    counts = valid.sum(axis=(-2, -1), keepdims=True)
    mean = filled.sum(axis=(-2, -1), keepdims=True) / np.maximum(counts, 1)
    r = filled - mean if every else np.where(valid, filled - mean, 0.0)
    return r, None if every else valid, n_valid


def noise_autocorrelation(
    images: np.ndarray,
    *,
    max_lag: int = 5,
    mask: np.ndarray | None = None,
    axes_only: bool = False,
    temporal: bool = False,
    progress: Progress | None = None,
) -> Autocorrelation:
    """Measure the autocorrelation of a residual or noise image (or of a stack of them, pooled) over lags.

    Parameters
    ----------
    images : ndarray, shape (..., Y, X)
        One residual image or several (leading axes flattened; their pairs are pooled). NaN and infinite
        pixels are ignored.
    max_lag : int
        Lags 0..max_lag along X and Y (and the 2-D window of that Chebyshev radius unless ``axes_only``).
    mask : ndarray of bool, shape (Y, X) or the images' shape, optional
        Pixels to use (True), e.g. the particle-free background; default every finite pixel.
    axes_only : bool
        Measure only the lags along X and Y (2 max_lag + 1 products instead of about 2 max_lag^2): enough for
        :attr:`Autocorrelation.acf_x` / ``acf_y``, not for the correlation area or length.
    temporal : bool
        Also measure the correlation between images k apart along the first (flattened) axis, k = 0..max_lag:
        for a (T, Y, X) stack, the temporal autocorrelation.
    progress : callable, optional
        Receives an :class:`operando.ProgressEvent` per row of lags (a big stack takes seconds); raise
        :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    Autocorrelation
        ``acf_2d`` (centred), ``acf_x``, ``acf_y``, ``acf_t``, the variance, and the correlation length and
        area derived from them.

    Notes
    -----
    Direct sums over pixel pairs, pooled over images (module docstring): about ``2 max_lag^2`` passes over
    the data (``2 max_lag`` with ``axes_only``). Each image's own mean is removed first, so a constant offset
    per image (a scan line's, a frame's) does not read as correlation between images.
    """
    if not isinstance(max_lag, int | np.integer) or max_lag < 0:
        raise InputError(f"max_lag must be an integer >= 0, got {max_lag!r}")
    if np.ndim(images) < 2:
        raise InputError(f"need images of shape (..., Y, X), got shape {np.shape(images)}")
    r, valid, n_valid = _prepare(images, mask)
    variance = float((r * r).sum() / n_valid)
    acf = np.full((2 * max_lag + 1, 2 * max_lag + 1), np.nan)
    c = max_lag
    if variance > 0:
        for dy in range(max_lag + 1):
            emit(progress, dy / (max_lag + 1), f"autocorrelation: lags dy = {dy} of {max_lag}")
            for dx in range(-max_lag, max_lag + 1):
                if (dy == 0 and dx < 0) or (axes_only and dy and dx):
                    continue  # the other half-plane is the same by symmetry
                va, vb = _lag_views(valid, dy, dx) if valid is not None else (None, None)
                value = _mean_product(*_lag_views(r, dy, dx), va, vb) / variance
                acf[c + dy, c + dx] = acf[c - dy, c - dx] = value
    acf_t = None
    if temporal:
        values = []
        for k in range(min(max_lag, r.shape[0] - 1) + 1):
            va, vb = (valid[: len(r) - k], valid[k:]) if valid is not None else (None, None)
            values.append(_mean_product(r[: len(r) - k], r[k:], va, vb) / variance if variance > 0 else np.nan)
        acf_t = tuple(float(v) for v in values)
    return Autocorrelation(acf_2d=acf, variance=variance, n_pixels=n_valid, acf_t=acf_t, axes_only=axes_only)
