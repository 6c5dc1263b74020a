"""Checks of a denoised result that need no clean data: the residual should be the noise, and only the noise.

The residual ``r = noisy - denoised`` of a good denoiser is the noise itself. Three things follow, each
measurable without a clean reference:

* its variance is the noise's (``variance_ratio`` near 1): a denoiser that copies noise into its output
  leaves a residual that is too small; one that removes signal leaves one too large;
* its autocorrelation is the noise's (as :func:`operando.noise.measure_noise_correlation` measures it on the
  noisy data): a blind-spot network on correlated noise reproduces the correlated part from the neighbours,
  so its residual comes out whiter than the noise;
* it holds no image structure: its correlation with the denoised image's detail (the image minus a 2-pixel
  Gaussian blur of it) is near zero. Removed edges and texture show up as a positive correlation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._stack import Stack, as_stack

#: Bounds of a passing check (see :class:`ResidualCheck`).
VARIANCE_RATIO_RANGE = (0.75, 1.35)
MAX_ACF_MISMATCH = 0.1
MAX_STRUCTURE_CORR = 0.1


@dataclass(frozen=True)
class ResidualCheck:
    """The residual's statistics against the noise's, and the verdict.

    Attributes
    ----------
    noise_sigma : float
        Noise SD measured on the noisy data.
    residual_sigma : float
        SD of ``noisy - denoised``.
    variance_ratio : float
        ``residual_sigma**2 / noise_sigma**2``; a pass needs it within :data:`VARIANCE_RATIO_RANGE`.
    noise_acf_x, noise_acf_y : tuple of float
        The noise's autocorrelation at lags 0..3 (measured on the noisy data).
    residual_acf_x, residual_acf_y : tuple of float
        The residual's autocorrelation at lags 0..3.
    acf_mismatch : float
        Largest difference between the two at lags 1..3; a pass needs <= :data:`MAX_ACF_MISMATCH`.
    structure_corr : float
        Correlation of the residual with the denoised image's detail; a pass needs <= :data:`MAX_STRUCTURE_CORR`.
    passed : bool
        All three hold.
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
    passed: bool
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """Return the check as a JSON-ready dict."""
        return asdict(self)


def _images(data: Stack | np.ndarray, axes: str | None) -> np.ndarray:
    """All images of a stack as (N, Y, X) float64."""
    stack = as_stack(data, axes=axes)
    order = [a for a in stack.axes if a not in "YX"] + ["Y", "X"]
    arr = stack.transpose("".join(order)).to_numpy().astype(np.float64)
    return arr.reshape(-1, *arr.shape[-2:])


def _acf(images: np.ndarray, lags: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Autocorrelation along X and Y at lags 0..lags of zero-mean images (pooled over images)."""
    r = images - images.mean(axis=(-2, -1), keepdims=True)
    var = float((r * r).mean())
    if var <= 0:
        return (1.0,) + (0.0,) * lags, (1.0,) + (0.0,) * lags
    acf_x = tuple([1.0] + [float((r[..., :-k] * r[..., k:]).mean() / var) for k in range(1, lags + 1)])
    acf_y = tuple([1.0] + [float((r[..., :-k, :] * r[..., k:, :]).mean() / var) for k in range(1, lags + 1)])
    return acf_x, acf_y


def _structure_corr(resid: np.ndarray, denoised: np.ndarray) -> float:
    """Correlation of the residual with the denoised images' detail (image minus its 2 px Gaussian blur)."""
    detail = denoised - ndimage.gaussian_filter(denoised, (0, 2, 2), mode="reflect")
    a = resid - resid.mean()
    b = detail - detail.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


def check_residual(
    noisy: Stack | np.ndarray,
    denoised: Stack | np.ndarray,
    *,
    axes: str | None = None,
    noise=None,
    lags: int = 3,
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
        Autocorrelation lags compared (1..lags).

    Returns
    -------
    ResidualCheck
        Statistics, verdict and the problems found.
    """
    y = _images(noisy, axes)
    d = _images(denoised, axes)
    if y.shape != d.shape:
        raise InputError(f"noisy {y.shape} and denoised {d.shape} differ in shape; pass the denoiser's own output")
    if noise is None:
        from ..noise import measure_noise_correlation

        noise = measure_noise_correlation(noisy, axes=axes)
    resid = y - d
    r_sigma = float(resid.std())
    ratio = r_sigma**2 / max(noise.sigma**2, 1e-30)
    r_x, r_y = _acf(resid, lags)
    n_x, n_y = tuple(noise.acf_x[:lags + 1]), tuple(noise.acf_y[:lags + 1])
    mismatch = float(max(max(abs(a - b) for a, b in zip(r_x[1:], n_x[1:], strict=False)),
                         max(abs(a - b) for a, b in zip(r_y[1:], n_y[1:], strict=False))))
    structure = _structure_corr(resid, d)
    problems = []
    if ratio < VARIANCE_RATIO_RANGE[0]:
        problems.append(f"residual variance is {ratio:.2f}x the noise's: part of the noise was kept in the output")
    if ratio > VARIANCE_RATIO_RANGE[1]:
        problems.append(f"residual variance is {ratio:.2f}x the noise's: signal was removed with the noise")
    if mismatch > MAX_ACF_MISMATCH:
        problems.append(f"residual neighbour correlation {r_x[1]:.2f}/{r_y[1]:.2f} (x/y) differs from the noise's "
                        f"{n_x[1]:.2f}/{n_y[1]:.2f}: correlated noise was copied into the output")
    if abs(structure) > MAX_STRUCTURE_CORR:
        problems.append(f"residual correlates with the image detail ({structure:.2f}): edges or texture removed")
    return ResidualCheck(
        noise_sigma=float(noise.sigma), residual_sigma=r_sigma, variance_ratio=float(ratio), noise_acf_x=n_x,
        noise_acf_y=n_y, residual_acf_x=r_x, residual_acf_y=r_y, acf_mismatch=mismatch, structure_corr=structure,
        passed=not problems, problems=tuple(problems),
    )
