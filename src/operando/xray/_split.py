"""Error variance of denoised optical density, for any denoiser: binomial thinning of the counts (split).

The counts are thinned into independent Poisson parts; each part's OD is denoised, and the cross-residuals
against the other parts' raw OD measure the denoised error without clean data. The optical-density function
and the denoiser are passed in, so the estimator knows neither the pipeline's I0 settings nor its denoisers.
A blind-spot denoiser's error can also be read from its own residual (:func:`residual_error_variance`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from .._progress import Progress, emit, sub_progress
from .._stack import Metadata, Stack
from ._align import align_stack

#: ``optical_density(counts) -> (od, variance)``: both ``(T, E, Y, X)`` float arrays of a ``TEYX`` counts Stack.
ODFunction = Callable[[Stack], tuple[np.ndarray, np.ndarray]]
#: ``denoiser(od, seed, progress) -> denoised od``: ``(T, E, Y, X)`` float arrays; ``seed`` an int.
Denoiser = Callable[[np.ndarray, int, "Progress | None"], np.ndarray]


def _local_mean(a: np.ndarray, sigma_px: float = 4.0) -> np.ndarray:
    """Gaussian local mean (sd ``sigma_px``) over the last two axes, Y and X, with NaN counted as 0."""
    from scipy import ndimage

    return ndimage.gaussian_filter(np.nan_to_num(a), (0,) * (a.ndim - 2) + (sigma_px, sigma_px))


def residual_error_variance(noisy: np.ndarray, denoised: np.ndarray, noise_variance: np.ndarray, *,
                            sigma_px: float = 4.0, floor: float = 0.02) -> np.ndarray:
    """Local error variance of a blind-spot denoiser's output, from its residual (no clean data needed).

    For a denoiser whose output at a pixel does not see that pixel's noise (Noise2Void family, temporal
    masking), E[(y - f)^2] = var(noise) + E[(f - s)^2], so the error variance is the local mean of
    (y - f)^2 - var(noise), here a Gaussian-weighted mean of width ``sigma_px``, floored at ``floor`` times the
    noise variance.

    Parameters
    ----------
    noisy, denoised, noise_variance : ndarray, shape (..., Y, X)
        Data, denoiser output and the data's noise variance (e.g. Poisson through OD).
    sigma_px : float
        Width of the local average, pixels.
    floor : float
        Smallest error variance, as a fraction of the noise variance.

    Returns
    -------
    ndarray
        Error variance of ``denoised``, same shape.
    """
    local = _local_mean((noisy - denoised) ** 2 - noise_variance, sigma_px)
    return np.maximum(local, floor * np.nan_to_num(noise_variance, nan=np.nanmedian(noise_variance)))


def _correlation_area(noise: np.ndarray, *, radius: int = 8) -> float:
    """Correlation area (pixels, at least 1) of noise images: their pooled autocorrelation summed within ``radius``."""
    from ..noise import noise_autocorrelation

    try:
        area = noise_autocorrelation(noise, max_lag=radius).correlation_area(radius)
    except InputError:  # no valid pixel
        return 1.0
    return max(area, 1.0) if np.isfinite(area) else 1.0


@dataclass
class SplitDenoised:
    """What :func:`split_denoise` returns.

    Attributes
    ----------
    od : ndarray, shape (T, E, Y, X)
        Denoised OD, the mean of all parts' outputs over the re-splits.
    variance : ndarray, shape (T, E, Y, X)
        Its error variance.
    correlation_area_px : float
        Correlation area of the denoised error (widens intervals of means over many pixels): the autocorrelation
        of the difference of two parts' outputs (:func:`operando.noise.noise_autocorrelation`), summed over lags
        up to 8 px, at least 1.
    parts, rests : ndarray, shape (R, K, T, E, Y, X)
        For each of the R re-splits, each part's denoised OD and the raw OD of the other parts' counts (for
        :func:`split_covariance`).
    seed : int
        The seed of the thinnings (part ``k`` of re-split ``r`` was denoised with ``seed + r * K + k``).
    """

    od: np.ndarray
    variance: np.ndarray
    correlation_area_px: float
    parts: np.ndarray
    rests: np.ndarray
    seed: int = 0


def split_denoise(counts: Stack, *, optical_density: ODFunction, denoiser: Denoiser, parts: int = 2,
                  repeats: int = 2, rng: int | np.random.Generator | np.random.SeedSequence | None = 0,
                  progress: Progress | None = None) -> SplitDenoised:
    """Denoise OD with an error estimate valid for any denoiser, by binomial thinning of the counts.

    The counts y are split into K independent Poisson parts (multinomial thinning, ``parts``); each part's OD is
    denoised (f_k) and the split's output is their mean. Since f_k's error is independent of the noise of the OD
    of the other parts' counts (OD_-k), E[(f_k - OD_-k)^2] = MSE_k + var(OD_-k); with
    E[(f_j - f_k)^2] = MSE_j + MSE_k - 2 cov_jk, the mean's error variance is
    mean_k MSE_k - sum_{j<k} E[(f_j - f_k)^2] / K^2, each expectation a local (Gaussian, 4 px) mean.

    The split is repeated ``repeats`` times with independent thinnings of the same counts; the output is the mean
    of the R splits' outputs and the variance the mean of their variances. The R outputs share the data's noise,
    so the true error variance of their mean lies between that mean variance divided by R and it: the estimate
    is conservative, and much less noisy than one split's (its noise, from the other parts' counts, is partly
    independent between re-splits). Measured on phantom seeds 0-2 with tv (5 noise draws each): the share of
    pixels within 1.96 sd was 0.877-0.966 with one split and 0.894-0.975 with two.

    Parameters
    ----------
    counts : Stack
        ``TEYX`` whole-number counts.
    optical_density : callable
        ``optical_density(counts) -> (od, variance)`` of a ``TEYX`` counts Stack (the pipeline's I0 settings).
    denoiser : callable
        ``denoiser(od, seed, progress) -> denoised od``, ``(T, E, Y, X)`` arrays.
    parts : int
        Independent Poisson parts K the counts are thinned into (>= 2).
    repeats : int
        Independent thinnings R of the same counts (>= 1).
    rng : int, Generator, SeedSequence or None
        Seed of the thinnings: an int ``s`` thins with ``default_rng(s)`` first, then ``default_rng([s, r])``;
        anything else draws such an int first.
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    SplitDenoised
        Denoised OD (T, E, Y, X), its error variance, the correlation area (pixels) of the denoised error (from
        the difference of two parts' outputs), and the parts.
    """
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        seed = int(rng)
    else:
        seed = int(np.random.default_rng(rng).integers(2**31))
    y = np.maximum(np.nan_to_num(counts.to_numpy().astype(np.float64), nan=0.0), 0).astype(np.int64)
    splits = []
    for r in range(repeats):
        gen = np.random.default_rng(seed if r == 0 else [seed, r])  # the first split as with one
        sub = sub_progress(progress, r / repeats, (r + 1) / repeats, f"split {r + 1}/{repeats}: ")
        splits.append(_one_split(y, counts.metadata, parts, gen, seed + r * parts, optical_density, denoiser, sub))
    dens, rests, var, areas = (np.stack([s[i] for s in splits]) for i in range(4))
    emit(progress, 1.0, "split done")
    return SplitDenoised(dens.mean(axis=(0, 1)), var.mean(axis=0), float(areas.mean()), dens, rests, seed)


def _one_split(y: np.ndarray, metadata: Metadata, k_parts: int, rng: np.random.Generator, seed: int,
               optical_density: ODFunction, denoiser: Denoiser, progress: Progress | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One thinning of the counts y into K parts: parts' denoised OD, rests' OD, the mean's variance, its area."""
    parts = np.moveaxis(rng.multinomial(y, [1 / k_parts] * k_parts), -1, 0).astype(np.float64)
    part_od = [optical_density(Stack(parts[k], "TEYX", metadata)) for k in range(k_parts)]
    dens, rests, mses = [], [], []
    for k in range(k_parts):
        # with two parts the rest of one is the other (y - part_0 == part_1 exactly): its OD is not computed again
        od_rest, rest_var = part_od[1 - k] if k_parts == 2 else optical_density(Stack(y - parts[k], "TEYX", metadata))
        den = denoiser(part_od[k][0], seed + k, sub_progress(progress, k / k_parts, (k + 1) / k_parts,
                                                              f"part {k + 1}/{k_parts}: "))
        dens.append(den)
        rests.append(od_rest)
        mses.append(_local_mean((den - od_rest) ** 2 - rest_var))
    pairs = sum(_local_mean((dens[j] - dens[k]) ** 2) for j in range(k_parts) for k in range(j + 1, k_parts))
    var = np.mean(mses, axis=0) - pairs / k_parts**2
    floor = 0.01 * np.nanmedian(mses) if np.isfinite(np.nanmedian(mses)) else 1e-8
    return (np.stack(dens), np.stack(rests), np.maximum(var, max(floor, 1e-12)),
            _correlation_area(dens[0] - dens[1]))


def split_covariance(split: SplitDenoised, variance: np.ndarray, *, shifts: np.ndarray | None,
                     resample: str = "spline", sigma_px: float = 8.0) -> np.ndarray:
    """Covariance of the denoised OD errors between energies, on the aligned grid (split estimator).

    A denoiser's errors at two energies are correlated (the same edges are smoothed in both), and the Li
    fraction, a ratio, cancels much of the common part: independent errors overstate sd(x). The cross moment
    follows the split argument of :func:`split_denoise` with a and b two energies: the rest-OD noise of different
    images is independent, so cov_ab = mean_k E[(f_ka - OD_-k,a)(f_kb - OD_-k,b)] -
    sum_{j<k} E[(f_ja - f_ka)(f_jb - f_kb)] / K^2, computed after moving every part by the run's ``shifts``
    (energies are shifted differently). It is used as a correlation, rho_ab = cov_ab / sqrt(v_a v_b), clipped to
    [-0.95, 0.95], times the aligned variances ``variance``. The cross moments are averaged over a wider window
    (Gaussian, 8 px) than the variances (4 px): a product of two part errors is a noisy estimate, and the
    correlation varies slowly. Measured on four phantoms (seeds 0-2 and a 64 px one), the share of pixels within
    1.96 sd(x) was 0.92-0.95 with 8 px, 0.87-0.93 with 4 px, 0.86-0.92 with 2 px, and 0.98-1.0 when the errors
    are taken as independent.

    Parameters
    ----------
    split : SplitDenoised
        The split run.
    variance : ndarray, shape (T, E, Y, X)
        Aligned error variance (the diagonal).
    shifts : ndarray, shape (T, E, 2), or None
        The run's shifts (None: the images were not aligned).
    resample : str
        How the run's alignment resampled (:func:`operando.xray.align_stack`'s ``resample``).
    sigma_px : float
        Width of the local average of the cross moments, pixels.

    Returns
    -------
    ndarray, shape (T, E, E, Y, X)
        Error covariance between energies at every aligned pixel.
    """
    def move(a: np.ndarray) -> np.ndarray:
        if shifts is None:
            return a
        return align_stack(Stack(a, "TEYX"), resample=resample, shifts=shifts).stack.to_numpy()

    n_e = variance.shape[1]
    cov = np.zeros((variance.shape[0], n_e, n_e, *variance.shape[2:]))
    for a in range(n_e):
        cov[:, a, a] = variance[:, a]
    for parts, rests in zip(split.parts, split.rests, strict=True):  # re-splits: their estimates averaged
        k_parts = parts.shape[0]
        moved = [(move(parts[k]), move(rests[k])) for k in range(k_parts)]
        for a, b in ((i, j) for i in range(n_e) for j in range(i + 1, n_e)):
            own = np.mean([_local_mean((f[:, a] - r[:, a]) * (f[:, b] - r[:, b]), sigma_px) for f, r in moved],
                          axis=0)
            pairs = sum(_local_mean((moved[j][0][:, a] - moved[k][0][:, a]) * (moved[j][0][:, b] - moved[k][0][:, b]),
                                    sigma_px) for j in range(k_parts) for k in range(j + 1, k_parts))
            with np.errstate(invalid="ignore", divide="ignore"):
                rho = np.clip((own - pairs / k_parts**2) / np.sqrt(variance[:, a] * variance[:, b]), -0.95, 0.95)
            cov[:, a, b] += np.nan_to_num(rho) * np.sqrt(variance[:, a] * variance[:, b]) / len(split.parts)
            cov[:, b, a] = cov[:, a, b]
    return cov
