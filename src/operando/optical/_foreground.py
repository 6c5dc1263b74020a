"""Find the particles whatever the illumination and contrast: remove the illumination, measure the distance to it.

The background is the one smooth field of the frame: a low-order polynomial per channel fitted to the time-median
frame with the particles left out by iterative clipping (robust to particles brighter, darker or as light as the
background). Every pixel is then flat-fielded to the background's mean colour (``F = I * b0 / B``) and its
colour distance to that colour (RGB, :func:`contrast_channel`) is the foreground channel: high for a particle
whatever its stage,
its lightness or the light falling on it. Which class is particles is then checked with evidence that does not
depend on brightness - colour change over time (the stages change, the background does not), the share of the
frame, and a region covering much of the frame from its border - and a warning names what is weak.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from .._errors import InputError
from .._progress import Progress, check_cancel
from ._colour import fit_smooth_field
from ._stages import rgb_to_lab


@dataclass(frozen=True)
class BackgroundFit:
    """A smooth background fitted to a colour frame with the particles left out.

    Attributes
    ----------
    field : ndarray, shape (Y, X, 3)
        The fitted background colour at every pixel (illumination, haze and the background's own colour).
    mask : ndarray of bool, shape (Y, X)
        Pixels the final fit used (the background, particles and their rims excluded).
    iterations : int
        Clipping rounds run.
    """

    field: np.ndarray
    mask: np.ndarray
    iterations: int


def fit_background(image: np.ndarray, *, degree: int = 3, clip: float = 3.0, n_iter: int = 10,
                   rim_px: int = 2, progress: Progress | None = None) -> BackgroundFit:
    """Fit a smooth background to a colour frame, leaving out what is not background by iterative clipping.

    Each round fits a polynomial of total degree ``degree`` per channel (:func:`fit_smooth_field`) to the pixels
    still counted as background, measures the residual of each channel in units of its robust spread (1.4826 x
    the median absolute residual over those pixels) and drops every pixel whose largest residual exceeds ``clip``,
    with a rim of ``rim_px`` pixels; it stops when the mask no longer changes. Particles brighter than, darker
    than or as light as the background (but of another colour) are all left out.

    Parameters
    ----------
    image : ndarray, shape (Y, X, 3)
        A colour frame (e.g. the median of the video's frames), float.
    degree : int
        Total degree of the polynomial (3 follows a vignette times a linear gradient).
    clip : float
        Residual, in robust standard deviations, above which a pixel is left out.
    n_iter : int
        Most clipping rounds.
    rim_px : int
        Pixels around a dropped pixel are dropped too (blurred particle edges).
    progress : callable, optional
        Called with a :class:`operando.ProgressEvent` before each round; raise :class:`operando.Cancelled` in it
        to stop.

    Returns
    -------
    BackgroundFit
        The field, the background mask and the rounds run.

    Raises
    ------
    InputError
        When too few pixels are left to fit (the frame is covered by particles).
    """
    img = np.asarray(image, np.float64)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise InputError(f"fit_background needs a colour frame (Y, X, 3), got shape {img.shape}")
    mask = np.ones(img.shape[:2], bool)
    fitted = np.zeros_like(img)
    rounds = 0
    for rounds in range(1, n_iter + 1):  # noqa: B007 - the count is returned
        check_cancel(progress)
        fitted = np.stack([fit_smooth_field(img[..., c], mask, degree=degree) for c in range(3)], -1)
        resid = img - fitted
        spread = 1.4826 * np.median(np.abs(resid[mask]), axis=0) + 1e-6
        outlier = (np.abs(resid) / spread).max(-1) > clip
        if rim_px > 0:
            outlier = ndi.binary_dilation(outlier, iterations=rim_px)
        new = ~outlier
        if new.sum() < 0.1 * new.size:
            raise InputError(f"only {100 * new.mean():.0f} % of the frame looks like background; the particles cover "
                             "the frame, or the background is not smooth - give --channel chroma/lightness instead")
        if np.array_equal(new, mask):
            break
        mask = new
    return BackgroundFit(field=fitted.astype(np.float32), mask=mask, iterations=rounds)


def flat_field(rgb: np.ndarray, fit: BackgroundFit, *, floor: float = 0.2) -> np.ndarray:
    """Divide frames by the fitted background, per channel, and bring them back to its mean colour.

    ``F_c = I_c * b0_c / B_c`` with ``B`` the fitted field and ``b0`` its mean over the background mask: the
    background becomes one uniform colour and a particle's colour no longer depends on where it lies.

    Parameters
    ----------
    rgb : ndarray, shape (..., Y, X, 3)
        Frames.
    fit : BackgroundFit
        From :func:`fit_background`.
    floor : float
        The field is held at least ``floor`` x its mean (a black corner is not divided by ~0).

    Returns
    -------
    ndarray of float32
        The flat-fielded frames.
    """
    mean = fit.field[fit.mask].mean(0)
    field_ = np.maximum(fit.field, floor * np.maximum(mean, 1e-4))
    return (np.asarray(rgb, np.float32) * (mean / field_)).astype(np.float32)


def contrast_channel(rgb: np.ndarray, background_rgb: np.ndarray) -> np.ndarray:
    """Return the colour distance of every pixel to the background's colour: 100 x the RGB Euclidean distance.

    The distance is taken in the camera's RGB values, not in CIELAB: a pixel that mixes a particle and the
    background (a blurred edge) lies on the straight line between their colours, so its distance is that share
    of the particle's and half maximum is the edge, whether the particle is brighter, darker or as light as the
    background (CIELAB's cube root puts the half-maximum contour outside a bright particle on a dark background
    and inside a dark one on a bright background: 0.88 x the true area on a bright variant of the family).

    Parameters
    ----------
    rgb : ndarray, shape (..., 3)
        Colour pixels after the illumination was removed.
    background_rgb : array of 3
        The background's colour.

    Returns
    -------
    ndarray of float32
        The distance (0-100 scale for RGB in [0, 1]), high for particles.
    """
    diff = np.asarray(rgb, np.float32) - np.asarray(background_rgb, np.float32)
    return (100 * np.sqrt((diff * diff).sum(-1))).astype(np.float32)


def contrast_threshold(contrast: np.ndarray, background: np.ndarray, *, k: float = 6.0) -> float:
    """Return the particle threshold of a contrast channel: the lower of Otsu and the background's noise level.

    Otsu's threshold of a channel where particles spread over a wide range (a stage as light as the background
    next to a bright one) can fall inside the particles; the background's own level, its median plus ``k`` robust
    standard deviations, cannot. The lower of the two keeps the dim particles out of the noise.

    Parameters
    ----------
    contrast : ndarray
        The channel (particles high).
    background : ndarray of bool
        Background pixels (:attr:`BackgroundFit.mask`).
    k : float
        Robust standard deviations above the background's median.

    Returns
    -------
    float
        The threshold.
    """
    from skimage.filters import threshold_otsu

    values = contrast.ravel()[:: max(1, contrast.size // 200000)].astype(np.float64)
    bg = contrast[background].astype(np.float64)
    noise = float(np.median(bg) + k * 1.4826 * np.median(np.abs(bg - np.median(bg))))
    return float(min(threshold_otsu(values), noise)) if bg.size else float(threshold_otsu(values))


@dataclass(frozen=True)
class Foreground:
    """Particles found against a fitted background, with the evidence that they are the particles.

    Attributes
    ----------
    mask : ndarray of bool, shape (Y, X)
        Particle pixels (of the time-median frame).
    background : ndarray of bool, shape (Y, X)
        Pixels used as background (more than 3 px from any particle and inside the background fit).
    contrast : ndarray, shape (Y, X)
        The foreground channel (:func:`contrast_channel` of the flat-fielded time-median frame, smoothed).
    threshold : float
        Its threshold.
    fit : BackgroundFit
        The background fit.
    evidence : dict
        ``particle_share`` (of the frame), ``change_particles`` and ``change_background`` (median Delta E between
        the first and the last third of the video), ``change_ratio``, ``largest_border_region_share``.
    warnings : list of str
        What the evidence does not support (empty when it supports the particles found).
    """

    mask: np.ndarray
    background: np.ndarray
    contrast: np.ndarray
    threshold: float
    fit: BackgroundFit
    evidence: dict
    warnings: list[str] = field(default_factory=list)


def _thirds_change(frames: np.ndarray, fit: BackgroundFit) -> np.ndarray:
    """Delta E between the mean of the first and of the last third of the (flat-fielded) frames, per pixel."""
    n = frames.shape[0]
    k = max(1, n // 3)
    first = rgb_to_lab(flat_field(frames[:k].mean(0), fit))
    last = rgb_to_lab(flat_field(frames[n - k:].mean(0), fit))
    return np.linalg.norm(last - first, axis=-1)


def find_particles(rgb: np.ndarray, *, smooth_px: float = 1.0, min_area_px: int = 20, degree: int = 3,
                   max_frames: int = 32, progress: Progress | None = None) -> Foreground:
    """Find the particle pixels of a colour video whatever its illumination and the particles' lightness.

    The time-median frame (of at most ``max_frames`` frames spread over the video) is fitted with a smooth
    background (:func:`fit_background`), flat-fielded (:func:`flat_field`), converted to CIELAB; its Delta E to
    the background colour (:func:`contrast_channel`), smoothed, is thresholded (:func:`contrast_threshold`),
    opened, holes filled and objects under ``min_area_px`` dropped. The evidence that the class found is the
    particles is then gathered, none of it from brightness: particles change colour over time (III -> II -> I)
    and the background does not; particles cover a minority of the frame; no single region covers much of the
    frame from its border.

    Parameters
    ----------
    rgb : ndarray, shape (T, Y, X, 3)
        Float RGB frames in [0, 1] (flicker does not matter: the median and the thirds' means average it).
    smooth_px : float
        Gaussian smoothing of the channel before thresholding.
    min_area_px : int
        Smallest object kept.
    degree : int
        Degree of the background polynomial.
    max_frames : int
        Frames used for the median.
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` objects between the steps (and each background-fit round);
        raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    Foreground
        The mask, the background, the channel, its threshold, the fit, the evidence and any warnings.
    """
    from skimage.morphology import disk, remove_small_holes, remove_small_objects

    rgb = np.asarray(rgb, np.float32)
    step = max(1, rgb.shape[0] // max_frames)
    median = np.median(rgb[::step], axis=0)
    fit = fit_background(median, degree=degree, progress=progress)
    check_cancel(progress)
    flat = flat_field(median, fit)
    contrast = contrast_channel(flat, np.median(flat[fit.mask], axis=0))
    smooth = ndi.gaussian_filter(contrast, smooth_px) if smooth_px > 0 else contrast
    threshold = contrast_threshold(smooth, fit.mask)
    mask = ndi.binary_opening(smooth > threshold, structure=disk(1))
    mask = remove_small_holes(mask, max_size=max(4 * min_area_px, 16))
    mask = remove_small_objects(mask, max_size=min_area_px - 1) if min_area_px > 1 else mask
    background = ~ndi.binary_dilation(mask, iterations=3) & fit.mask
    if background.sum() < 0.05 * background.size:
        background = ~ndi.binary_dilation(mask, iterations=3)
    check_cancel(progress)
    change = _thirds_change(rgb, fit)
    evidence = _evidence(mask, background, change)
    return Foreground(mask=mask, background=background, contrast=smooth, threshold=threshold, fit=fit,
                      evidence=evidence, warnings=_warnings(evidence))


def _evidence(mask: np.ndarray, background: np.ndarray, change: np.ndarray) -> dict:
    """Brightness-free evidence that ``mask`` holds the particles."""
    lab, n = ndi.label(mask)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    border = border[border > 0]
    areas = np.bincount(lab.ravel(), minlength=n + 1)
    largest = float(areas[border].max() / mask.size) if border.size else 0.0
    inside = float(np.median(change[mask])) if mask.any() else 0.0
    outside = float(np.median(change[background])) if background.any() else 0.0
    return {"particle_share": float(mask.mean()), "objects": int(n), "change_particles": inside,
            "change_background": outside, "change_ratio": inside / max(outside, 1e-6),
            "largest_border_region_share": largest}


def _warnings(evidence: dict) -> list[str]:
    """Name what the evidence does not support."""
    out = []
    if evidence["objects"] == 0:
        out.append("no particle stands out from the fitted background")
        return out
    if evidence["change_ratio"] < 1.0:
        out.append(f"the pixels found change colour less over time than the background (median Delta E "
                   f"{evidence['change_particles']:.1f} against {evidence['change_background']:.1f}): they may be "
                   "background; check the labels, or give --channel")
    elif evidence["change_ratio"] < 2.0:
        out.append(f"weak evidence: the pixels found change colour little more than the background over the video "
                   f"(median Delta E {evidence['change_particles']:.1f} against "
                   f"{evidence['change_background']:.1f}; particles that lithiate change far more)")
    if evidence["particle_share"] > 0.6:
        out.append(f"the pixels found cover {100 * evidence['particle_share']:.0f} % of the frame: the background "
                   "may have been taken for particles")
    if evidence["largest_border_region_share"] > 0.25:
        out.append(f"one region found covers {100 * evidence['largest_border_region_share']:.0f} % of the frame "
                   "from its border: probably background, not a particle")
    return out
