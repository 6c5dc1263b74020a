"""Validation against a reference modality: registration onto the test grid, masked PSNR / SSIM, paired statistics.

Works for any pair of modalities: STXM vs ptychography, a short vs a long exposure, raw vs denoised versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import InputError


def _fill(image: np.ndarray) -> np.ndarray:
    """Fill the non-finite pixels (NaN and +-inf) with the mean of the finite ones, for registration only."""
    finite = np.isfinite(image)
    return np.where(finite, image, image[finite].mean() if finite.any() else 0.0)


def resample_to_grid(reference: np.ndarray, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Resample ``reference`` by ``scale`` (reference pixel size / test pixel size) onto a grid of ``shape``.

    Parameters
    ----------
    reference : ndarray, shape (Y, X)
        The reference image.
    shape : (int, int)
        The test image's shape; the resampled image is cropped or NaN-padded to it (top-left corners match).
    scale : float
        Zoom factor; < 1 shrinks (with anti-aliasing, as a coarser probe would see it).

    Returns
    -------
    ndarray
        Float64 image of ``shape``.
    """
    from skimage.transform import rescale

    ref = _fill(np.asarray(reference, dtype=float))
    if abs(scale - 1.0) > 1e-6:
        ref = rescale(ref, scale, order=1, anti_aliasing=scale < 1, preserve_range=True)
    out = np.full(shape, np.nan)
    h, w = min(shape[0], ref.shape[0]), min(shape[1], ref.shape[1])
    out[:h, :w] = ref[:h, :w]
    return out


def register_reference(
    test: np.ndarray,
    reference: np.ndarray,
    *,
    scale: float = 1.0,
    upsample: int = 20,
) -> tuple[np.ndarray, tuple[float, float]]:
    """Put ``reference`` on the test image's grid: resample by the pixel-size ratio, then sub-pixel align.

    Parameters
    ----------
    test : ndarray, shape (Y, X)
        The image under test (sets the grid).
    reference : ndarray, shape (Y', X')
        The reference image.
    scale : float
        Reference pixel size / test pixel size.
    upsample : int
        Sub-pixel precision of the phase correlation.

    Returns
    -------
    (ndarray, (float, float))
        The registered reference (NaN where it has no data) and the (dy, dx) shift applied after resampling.
    """
    from scipy import ndimage
    from skimage.registration import phase_cross_correlation

    test = np.asarray(test, dtype=float)
    ref = resample_to_grid(reference, test.shape, scale)
    window = np.outer(np.hanning(test.shape[0]), np.hanning(test.shape[1]))
    a, b = _fill(test), _fill(ref)
    shift, _, _ = phase_cross_correlation((a - a.mean()) * window, (b - b.mean()) * window,
                                          upsample_factor=upsample, normalization=None)
    valid = ndimage.shift(np.isfinite(ref).astype(float), shift, order=1, cval=0.0) > 0.999
    moved = ndimage.shift(b, shift, order=3, mode="nearest")
    return np.where(valid, moved, np.nan), (float(shift[0]), float(shift[1]))


@dataclass(frozen=True)
class Comparison:
    """Masked PSNR / SSIM of one test image against its registered reference.

    Attributes
    ----------
    psnr, ssim : float
        Over the mask (SSIM: the mean of the SSIM map over the mask).
    data_range : float
        R used in PSNR and SSIM (stated, never implicit).
    shift : (float, float)
        Registration shift of the reference, pixels.
    n_pixels : int
        Pixels compared.
    """

    psnr: float
    ssim: float
    data_range: float
    shift: tuple[float, float]
    n_pixels: int


def _zscore(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    values = image[mask]
    sd = float(values.std())
    return (image - float(values.mean())) / (sd if sd > 0 else 1.0)


def compare_to_reference(
    test: np.ndarray,
    reference: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    scale: float = 1.0,
    data_range: float | None = None,
    normalise: str = "none",
    registered: np.ndarray | None = None,
) -> Comparison:
    """Masked PSNR and SSIM of ``test`` against ``reference`` after registering the reference onto the test grid.

    Parameters
    ----------
    test : ndarray, shape (Y, X)
        Image under test (raw or denoised).
    reference : ndarray
        Reference image (e.g. ptychography, a long exposure), any pixel size.
    mask : ndarray of bool, shape (Y, X), optional
        Pixels compared (e.g. the particles); default all pixels where the reference has data.
    scale : float
        Reference pixel size / test pixel size.
    data_range : float, optional
        R of PSNR / SSIM; default the reference's max - min inside the mask (reported).
    normalise : {"none", "zscore"}
        ``zscore``: both images to zero mean, unit variance over the mask first (for modalities with different
        contrast scales).
    registered : ndarray, optional
        An already registered reference (skips registration; the same one for raw and denoised versions).

    Returns
    -------
    Comparison
        PSNR (dB), SSIM, the data range and the registration shift.
    """
    from skimage.metrics import structural_similarity

    test = np.asarray(test, dtype=float)
    if registered is None:
        ref, shift = register_reference(test, reference, scale=scale)
    else:
        ref, shift = np.asarray(registered, dtype=float), (0.0, 0.0)
    use = np.isfinite(ref) & np.isfinite(test) & (mask if mask is not None else True)
    if use.sum() < 16:
        raise InputError(f"only {int(use.sum())} pixels to compare after registration and masking; need >= 16 "
                         "(check the mask and the pixel sizes)")
    if normalise == "zscore":
        test, ref = _zscore(test, use), _zscore(ref, use)
    elif normalise != "none":
        raise InputError(f"normalise={normalise!r}: use 'none' or 'zscore'")
    r = float(np.ptp(ref[use])) if data_range is None else float(data_range)
    if r <= 0:
        raise InputError(f"data range {r} must be > 0; the reference is constant inside the mask")
    mse = float(np.mean((test[use] - ref[use]) ** 2))
    psnr = float("inf") if mse == 0 else float(10 * np.log10(r**2 / mse))
    _, ssim_map = structural_similarity(_fill(np.where(use, ref, np.nan)), _fill(np.where(use, test, np.nan)),
                                        data_range=r, full=True)
    return Comparison(psnr, float(ssim_map[use].mean()), r, shift, int(use.sum()))


def paired_statistics(baseline: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Paired statistics of a metric measured on the same pairs by two versions (e.g. raw and denoised).

    Parameters
    ----------
    baseline, other : ndarray, shape (n_pairs,)
        The metric for each pair.

    Returns
    -------
    dict
        n, mean and sd of the difference (other - baseline), the share of pairs that improved, the Wilcoxon
        signed-rank p-value and the paired t-test p-value (two-sided; NaN for fewer than 2 pairs).
    """
    from scipy import stats

    a, b = np.asarray(baseline, float), np.asarray(other, float)
    if a.shape != b.shape or a.ndim != 1:
        raise InputError(f"paired statistics need two equal-length lists, got {a.shape} and {b.shape}")
    diff = b - a
    out = {"n": float(a.size), "mean_difference": float(diff.mean()),
           "sd_difference": float(diff.std(ddof=1)) if a.size > 1 else float("nan"),
           "share_improved": float(np.mean(diff > 0)), "wilcoxon_p": float("nan"), "t_test_p": float("nan")}
    if a.size >= 2 and np.any(diff != 0):
        out["wilcoxon_p"] = float(stats.wilcoxon(b, a).pvalue)
        out["t_test_p"] = float(stats.ttest_rel(b, a).pvalue)
    return out
