"""Seeded noise models for microscopy data. Arrays in, noisy float arrays out; the last two axes are Y, X."""

from __future__ import annotations

import numpy as np

from .._errors import InputError

RNG = int | np.random.Generator | np.random.SeedSequence | None


def _as_float(clean: np.ndarray) -> np.ndarray:
    arr = np.asarray(clean)
    if arr.ndim < 2:
        raise InputError(f"noise models need an image (>= 2 dimensions), got shape {arr.shape}")
    return arr.astype(np.float32) if arr.dtype != np.float64 else arr


def add_gaussian_noise(clean: np.ndarray, *, sigma: float, rng: RNG = None) -> np.ndarray:
    """Return ``clean + sigma * N(0, 1)`` (not clipped, so bias metrics stay honest).

    Parameters
    ----------
    clean : ndarray, shape (..., Y, X)
        Clean images.
    sigma : float
        Noise SD, in the data's units.
    rng : int or Generator, optional
        Seed.

    Returns
    -------
    ndarray
        Noisy float copy, same shape (float64 input stays float64, anything else becomes float32).
    """
    if sigma < 0:
        raise InputError(f"gaussian sigma must be >= 0, got {sigma}")
    x = _as_float(clean)
    gen = np.random.default_rng(rng)
    return (x + sigma * gen.standard_normal(x.shape)).astype(x.dtype)


def add_poisson_noise(clean: np.ndarray, *, peak: float, rng: RNG = None) -> np.ndarray:
    """Return shot noise ``Poisson(peak * clean) / peak``: variance equals mean / peak.

    Parameters
    ----------
    clean : ndarray, shape (..., Y, X)
        Expected signal (non-negative), in units where ``peak`` counts correspond to 1.0.
    peak : float
        Counts at signal 1.
    rng : int or Generator, optional
        Seed.

    Returns
    -------
    ndarray
        Noisy float copy, same shape (float64 input stays float64, anything else becomes float32).
    """
    if peak <= 0:
        raise InputError(f"poisson peak counts must be > 0, got {peak}")
    x = _as_float(clean)
    if np.min(x) < 0:
        raise InputError(f"poisson noise needs a non-negative signal, min is {float(np.min(x)):.3g}; shift it first")
    gen = np.random.default_rng(rng)
    return (gen.poisson(x.astype(np.float64) * peak) / peak).astype(x.dtype)


def add_impulse_noise(
    clean: np.ndarray, *, fraction: float, low: float | None = None, high: float | None = None, rng: RNG = None
) -> np.ndarray:
    """Set a ``fraction`` of pixels to ``low`` or ``high`` (half each: salt and pepper).

    Parameters
    ----------
    clean : ndarray, shape (..., Y, X)
        Clean images.
    fraction : float
        Share of pixels hit, in [0, 1].
    low, high : float, optional
        Values of pepper and salt (default: the minimum and maximum of ``clean``).
    rng : int or Generator, optional
        Seed.

    Returns
    -------
    ndarray
        Noisy float copy, same shape (float64 input stays float64, anything else becomes float32).
    """
    if not 0 <= fraction <= 1:
        raise InputError(f"impulse fraction must be in [0, 1], got {fraction}")
    x = _as_float(clean).copy()
    lo = float(np.min(x)) if low is None else low
    hi = float(np.max(x)) if high is None else high
    gen = np.random.default_rng(rng)
    u = gen.random(x.shape)
    x[u < fraction / 2] = lo
    x[(u >= fraction / 2) & (u < fraction)] = hi
    return x


def add_mixed_noise(
    clean: np.ndarray, *, peak: float, sigma: float, impulse: float = 0.0, rng: RNG = None
) -> np.ndarray:
    """Add Poisson-Gaussian noise ``Poisson(peak x)/peak + sigma N(0,1)``, then optional impulse noise.

    Parameters
    ----------
    clean : ndarray, shape (..., Y, X)
        Expected signal (non-negative).
    peak : float
        Counts at signal 1.
    sigma : float
        SD of the Gaussian part.
    impulse : float
        Share of pixels set to the signal's minimum or maximum.
    rng : int or Generator, optional
        Seed.

    Returns
    -------
    ndarray
        Noisy float copy, same shape (float64 input stays float64, anything else becomes float32).
    """
    gen = np.random.default_rng(rng)
    y = add_gaussian_noise(add_poisson_noise(clean, peak=peak, rng=gen), sigma=sigma, rng=gen)
    if impulse > 0:
        y = add_impulse_noise(y, fraction=impulse, low=float(np.min(clean)), high=float(np.max(clean)), rng=gen)
    return y


def add_scanline_noise(
    clean: np.ndarray,
    *,
    offset_sigma: float,
    gain_sigma: float = 0.0,
    pixel_sigma: float = 0.0,
    correlation: float = 0.0,
    rng: RNG = None,
) -> np.ndarray:
    """Row-correlated raster noise, as a scanning microscope (STXM) makes.

    Each row of each image gets its own offset ``o ~ N(0, offset_sigma)`` and gain ``1 + g``,
    ``g ~ N(0, gain_sigma)``: ``y = (1 + g) x + o (+ pixel_sigma N(0, 1))``. ``correlation`` in [0, 1) makes
    neighbouring rows' offsets an AR(1) sequence (slow drift of the beam or the stage).

    Parameters
    ----------
    clean : ndarray, shape (..., Y, X)
        Clean images.
    offset_sigma, gain_sigma, pixel_sigma : float
        SD of the row offsets, of the row gains and of the per-pixel white noise.
    correlation : float
        AR(1) coefficient of neighbouring rows' offsets and gains, in [0, 1).
    rng : int or Generator, optional
        Seed.

    Returns
    -------
    ndarray
        Noisy float copy, same shape (float64 input stays float64, anything else becomes float32).
    """
    if offset_sigma < 0 or gain_sigma < 0 or pixel_sigma < 0 or not 0 <= correlation < 1:
        raise InputError("scanline noise needs offset_sigma, gain_sigma, pixel_sigma >= 0 and 0 <= correlation < 1")
    x = _as_float(clean)
    gen = np.random.default_rng(rng)
    rows_shape = (*x.shape[:-1], 1)
    offsets = gen.standard_normal(rows_shape)
    gains = gen.standard_normal(rows_shape)
    if correlation > 0:
        scale = np.sqrt(1 - correlation**2)
        for arr in (offsets, gains):
            for i in range(1, arr.shape[-2]):
                arr[..., i, :] = correlation * arr[..., i - 1, :] + scale * arr[..., i, :]
    y = (1 + gain_sigma * gains) * x + offset_sigma * offsets
    if pixel_sigma > 0:
        y = y + pixel_sigma * gen.standard_normal(x.shape)
    return y.astype(x.dtype)


def add_fixed_pattern_noise(
    clean: np.ndarray, *, sigma: float, gain_sigma: float = 0.0, rng: RNG = None
) -> np.ndarray:
    """Fixed-pattern noise: one offset (and gain) per pixel, the same in every frame.

    Temporal masking cannot remove it; use a flat/dark correction instead.

    Parameters
    ----------
    clean : ndarray, shape (..., Y, X)
        Clean images (all share the pattern).
    sigma : float
        SD of the per-pixel offset.
    gain_sigma : float
        SD of the per-pixel gain around 1.
    rng : int or Generator, optional
        Seed.

    Returns
    -------
    ndarray
        Noisy float copy, same shape (float64 input stays float64, anything else becomes float32).
    """
    if sigma < 0 or gain_sigma < 0:
        raise InputError(f"fixed-pattern sigma and gain_sigma must be >= 0, got {sigma}, {gain_sigma}")
    x = _as_float(clean)
    gen = np.random.default_rng(rng)
    offset = sigma * gen.standard_normal(x.shape[-2:])
    gain = 1 + gain_sigma * gen.standard_normal(x.shape[-2:])
    return (gain * x + offset).astype(x.dtype)


def correlated_noise_kernel(rho: float, *, radius: int = 8) -> np.ndarray:
    """Gaussian point-spread function that gives white noise a neighbour correlation of ``rho``.

    Parameters
    ----------
    rho : float
        Target correlation of neighbouring pixels' noise along Y and X, in [0, 0.95].
    radius : int
        The kernel is (2 radius + 1)^2 pixels.

    Returns
    -------
    ndarray, shape (2 radius + 1, 2 radius + 1)
        Kernel with unit energy (sum of squares 1), so blurred white noise keeps its variance.
    """
    from scipy import ndimage, optimize

    if not 0 <= rho <= 0.95:
        raise InputError(f"neighbour correlation must be in [0, 0.95], got {rho}")
    delta = np.zeros((2 * radius + 1, 2 * radius + 1))
    delta[radius, radius] = 1.0
    if rho == 0:
        return delta

    def neighbour(width: float) -> float:
        k = ndimage.gaussian_filter(delta, width, mode="constant")
        return float((k[:, :-1] * k[:, 1:]).sum() / (k * k).sum())

    width = optimize.brentq(lambda w: neighbour(w) - rho, 0.05, radius / 2)
    k = ndimage.gaussian_filter(delta, width, mode="constant")
    return k / np.sqrt((k * k).sum())


def _blur_images(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve every image (last two axes) with ``kernel`` (periodic borders, so the noise stays stationary)."""
    from scipy import ndimage

    flat = x.reshape(-1, *x.shape[-2:])
    out = np.stack([ndimage.convolve(img, kernel, mode="wrap") for img in flat])
    return out.reshape(x.shape)


def add_correlated_noise(clean: np.ndarray, *, sigma: float, rho: float = 0.4, rng: RNG = None) -> np.ndarray:
    """Gaussian noise of SD ``sigma`` blurred by a PSF so that neighbouring pixels correlate by ``rho``.

    Parameters
    ----------
    clean : ndarray, shape (..., Y, X)
        Clean images.
    sigma : float
        Noise SD per pixel (the same as white noise of that sigma: the kernel has unit energy).
    rho : float
        Neighbour correlation along Y and X (:func:`correlated_noise_kernel`).
    rng : int or Generator, optional
        Seed.

    Returns
    -------
    ndarray
        ``clean + sigma * (k * N(0, 1))``, every image its own realisation.
    """
    if sigma < 0:
        raise InputError(f"correlated noise sigma must be >= 0, got {sigma}")
    x = _as_float(clean)
    gen = np.random.default_rng(rng)
    noise = _blur_images(gen.standard_normal(x.shape), correlated_noise_kernel(rho))
    return (x + sigma * noise).astype(x.dtype)


def add_scintillator_noise(clean: np.ndarray, *, peak: float, rho: float = 0.4, rng: RNG = None) -> np.ndarray:
    """Poisson counts whose light a scintillator spreads over neighbouring pixels (PSF sized by ``rho``).

    Each pixel's shot noise ``Poisson(peak x) - peak x`` is spread by a light-conserving PSF (sum 1), so the
    noise variance drops by the kernel's energy and neighbouring pixels' noise correlates by ``rho``; the
    expected image ``x`` is kept as the clean one.

    Parameters
    ----------
    clean : ndarray, shape (..., Y, X)
        Expected signal, where ``peak`` counts correspond to 1.0 (non-negative).
    peak : float
        Counts at signal 1.
    rho : float
        Neighbour correlation of the spread noise.
    rng : int or Generator, optional
        Seed.

    Returns
    -------
    ndarray
        The noisy counts divided by ``peak``.
    """
    if peak <= 0:
        raise InputError(f"scintillator peak counts must be > 0, got {peak}")
    x = _as_float(clean)
    if np.min(x) < 0:
        raise InputError(f"scintillator noise needs a non-negative signal, min is {float(np.min(x)):.3g}")
    gen = np.random.default_rng(rng)
    kernel = correlated_noise_kernel(rho)
    kernel = kernel / kernel.sum()
    shot = gen.poisson(x.astype(np.float64) * peak) - x.astype(np.float64) * peak
    return (x + _blur_images(shot, kernel) / peak).astype(x.dtype)
