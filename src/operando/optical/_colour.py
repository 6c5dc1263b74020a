"""Colour calibration of an optical video: float RGB, flicker, haze (veil), illumination and white balance.

Image model (per channel c, frame t, pixel x)::

    I_c(t, x) = g(t) * G(x) * [ (1 - h) * J_c(t, x) + h * A_c(x) ]

with g the lamp flicker, G the illumination field, h the haze share, A the veil (airlight) and J the scene.
Flicker is the background's mean brightness per frame; the veil is a smooth fit to the background (dark-object
subtraction: what the background shows beyond its own dark colour is haze); the illumination is a smooth fit to
the particles of a reference frame (all one stage), normalised to mean 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from .._stack import Stack


def _as_float_rgb(data: np.ndarray) -> np.ndarray:
    """Convert integer or float RGB values to float32 in the [0, 1] scale (integers by their dtype's maximum)."""
    if data.dtype.kind in "ui":
        return data.astype(np.float32) / np.float32(np.iinfo(data.dtype).max)
    return data.astype(np.float32)


def check_colour_video(stack: Stack) -> None:
    """Refuse, cheaply and before any work, a stack that cannot be analysed as a colour video.

    Checks the axes (``T`` with at least 2 frames, ``C`` with 3 or 4 channels) and, on every fourth frame,
    row and column, that the video has colour and is not one colour everywhere.

    Parameters
    ----------
    stack : Stack
        The video.

    Returns
    -------
    None
        Nothing: the video passed the checks.

    Raises
    ------
    InputError
        Saying what is wrong and what to give instead.
    """
    source = stack.metadata.source or "video"
    if not stack.has("C") or stack.size("C") not in (3, 4):
        raise InputError(f"{source}: need a colour video (axes TYXC, 3 or 4 channels), got axes {stack.axes!r} "
                         f"shape {stack.shape}; stage colours cannot be read from a grayscale video - record in "
                         "colour, or pass --axes if the channels are on another axis")
    if not stack.has("T") or stack.size("T") < 2:
        raise InputError(f"{source}: need a video of >= 2 frames along T, got axes {stack.axes!r} shape "
                         f"{stack.shape}; segmentation is carried through time, give the whole recording")
    if min(stack.size("Y"), stack.size("X")) < 8:
        raise InputError(f"{source}: frames of {stack.size('Y')} x {stack.size('X')} pixels are too small to "
                         "segment particles; give frames of at least 8 x 8 pixels")
    sample = _as_float_rgb(np.asarray(stack.transpose("TYXC").to_numpy()[::4, ::4, ::4, :3]))
    if not np.isfinite(sample).all():
        raise InputError(f"{source}: the video holds NaN or infinite values; replace them first (e.g. "
                         "numpy.nan_to_num or an inpainting step)")
    if sample.size and (sample.min() < -0.05 or sample.max() > 1.05):
        raise InputError(f"{source}: float colour values must lie in [0, 1], got {sample.min():.3g} to "
                         f"{sample.max():.3g}; divide by the white level first")
    spread = float(np.abs(sample - sample.mean(-1, keepdims=True)).max())
    if spread < 1e-3:
        raise InputError(f"{source}: the video has no colour (R = G = B in every pixel); stages are told apart "
                         "by colour, so give the original colour recording")
    if float(np.ptp(sample.reshape(-1, 3), axis=0).max()) < 1e-3:
        raise InputError(f"{source}: the video is one colour everywhere (no particles to segment); give the "
                         "recording of the electrode")


def video_rgb(stack: Stack) -> np.ndarray:
    """Return a colour video as float32 RGB in [0, 1], shape (T, Y, X, 3), or raise a one-line error.

    Parameters
    ----------
    stack : Stack
        ``TYXC`` with 3 (RGB) or 4 (RGBA; alpha dropped) channels, uint8, uint16 or float in [0, 1].

    Returns
    -------
    ndarray
        The RGB frames.

    Raises
    ------
    InputError
        For a grayscale or one-frame stack, a video without colour or one colour everywhere, a blank frame (one
        colour everywhere), NaN or infinite values, or float values outside [0, 1].
    """
    source = stack.metadata.source or "video"
    check_colour_video(stack)
    rgb = _as_float_rgb(stack.transpose("TYXC").to_numpy()[..., :3])
    if rgb.dtype.kind == "f" and not np.isfinite(rgb).all():
        bad = int((~np.isfinite(rgb)).any(-1).sum())
        raise InputError(f"{source}: {bad} pixel(s) hold NaN or infinite values; replace them first (e.g. "
                         "numpy.nan_to_num or an inpainting step)")
    if rgb.min() < -0.05 or rgb.max() > 1.05:
        raise InputError(f"{source}: float colour values must lie in [0, 1], got {rgb.min():.3g} to "
                         f"{rgb.max():.3g}; divide by the white level first")
    flat = [t for t in range(rgb.shape[0]) if float(np.ptp(rgb[t].reshape(-1, 3), axis=0).max()) < 1e-3]
    if flat:
        shown = ", ".join(str(t) for t in flat[:5]) + (" ..." if len(flat) > 5 else "")
        raise InputError(f"{source}: {len(flat)} frame(s) are one colour everywhere (frame {shown}: a dropped or "
                         "blank frame?); remove them from the video first")
    return rgb


def fit_smooth_field(image: np.ndarray, mask: np.ndarray, *, degree: int = 3, max_samples: int = 50000) -> np.ndarray:
    """Fit a smooth 2-D polynomial to ``image`` where ``mask`` is True and evaluate it everywhere.

    Parameters
    ----------
    image : ndarray, shape (Y, X)
        Values to fit.
    mask : ndarray of bool, shape (Y, X)
        Pixels that take part in the fit.
    degree : int
        Total degree of the polynomial in y and x.
    max_samples : int
        At most this many pixels (an even stride over the mask) enter the least squares.

    Returns
    -------
    ndarray, shape (Y, X)
        The fitted field.
    """
    ny, nx = image.shape
    ys, xs = np.nonzero(mask)
    if ys.size < (degree + 1) * (degree + 2):
        raise InputError(f"only {ys.size} pixels to fit an illumination field of degree {degree}; need a larger "
                         "background or particle region (or lower the degree)")
    step = max(1, ys.size // max_samples)
    ys, xs = ys[::step], xs[::step]
    powers = [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]

    def design(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        u, v = 2 * y / max(ny - 1, 1) - 1, 2 * x / max(nx - 1, 1) - 1
        return np.stack([u**i * v**j for i, j in powers], axis=-1)

    coef, *_ = np.linalg.lstsq(design(ys.astype(float), xs.astype(float)), image[ys, xs].astype(float), rcond=None)
    yy, xx = np.mgrid[:ny, :nx].astype(float)
    return (design(yy, xx) @ coef).astype(np.float32)


@dataclass(frozen=True)
class ColourCorrection:
    """What :func:`correct_colour` measured and removed.

    Attributes
    ----------
    rgb : ndarray, shape (T, Y, X, 3)
        The corrected frames (float32; dark background near 0, the reference particles' mean luminance 0.5).
    flicker : ndarray, shape (T,)
        Per-frame lamp gain (1 = the median frame).
    veil : ndarray, shape (Y, X, 3)
        The haze veil subtracted (after flicker correction).
    illumination : ndarray, shape (Y, X) or (Y, X, 3)
        The illumination field divided out (mean 1 over the reference particles; with ``model="flat"`` one
        field per channel, mean 1 over the background).
    white : ndarray, shape (3,)
        Per-channel white-balance gains applied.
    scale : float
        Final gain that brings the reference particles' mean luminance to 0.5.
    """

    rgb: np.ndarray
    flicker: np.ndarray
    veil: np.ndarray
    illumination: np.ndarray
    white: np.ndarray
    scale: float = 1.0

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """Apply the same correction to other frames of the same recording (e.g. a noise-free render).

        Parameters
        ----------
        rgb : ndarray, shape (T, Y, X, 3)
            Float RGB frames, as many as ``flicker`` has.

        Returns
        -------
        ndarray
            The corrected frames, float32.
        """
        out = rgb / self.flicker[:, None, None, None] - self.veil
        field = self.illumination if self.illumination.ndim == 3 else self.illumination[..., None]
        out = out / np.maximum(field, 0.05)[None] * self.white
        return (out * self.scale).astype(np.float32)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def correct_colour(
    rgb: np.ndarray,
    *,
    background: np.ndarray,
    particles: np.ndarray,
    reference_frame: int = 0,
    degree: int = 3,
    flicker: bool = True,
    haze: bool = True,
    flatten: bool = True,
    white_region: np.ndarray | None = None,
    model: str = "dark",
) -> ColourCorrection:
    """Remove lamp flicker, haze and uneven illumination, and white balance, from RGB frames.

    Two models of the background: ``dark`` (the image model of this module: what a dark background shows is
    veil, subtracted; the illumination comes from the reference particles) and ``flat`` (a background of any
    lightness: each channel is divided by the smooth fit of the background's time median and brought back to
    the background's mean colour, which removes illumination and the illumination-borne part of the haze
    together; the veil is left as a uniform offset). Use ``dark`` only where the background is much darker than
    the particles (:func:`choose_background_model`): subtracting a background as light as the particles leaves
    them near zero.

    Parameters
    ----------
    rgb : ndarray, shape (T, Y, X, 3)
        Float RGB frames in [0, 1] (:func:`video_rgb`).
    background : ndarray of bool, shape (Y, X)
        Pixels free of particles in every frame (e.g. the complement of dilated particle masks).
    particles : ndarray of bool, shape (Y, X)
        Particle pixels of the reference frame (one stage at that time: the pristine electrode).
    reference_frame : int
        The frame whose particles define the illumination field.
    degree : int
        Degree of the smooth polynomial fields.
    flicker, haze, flatten : bool
        Which corrections to apply.
    white_region : ndarray of bool, shape (Y, X), optional
        A region known to be neutral (white or grey) in the scene: each channel is scaled so that its mean
        there is the same. Without it no white balance is applied (gains 1).
    model : {"dark", "flat"}
        The background model (above). With ``flat`` the final gain puts the 99.5th percentile of the corrected
        channel values at 0.95 (so little is clipped by the CIELAB conversion), not the reference particles at
        luminance 0.5.

    Returns
    -------
    ColourCorrection
        The corrected frames and the fields removed.
    """
    n_t = rgb.shape[0]
    if not 0 <= reference_frame < n_t:
        raise InputError(f"reference frame {reference_frame} is outside the video's {n_t} frames; pick 0..{n_t - 1}")
    lum = _luminance(rgb)
    gains = np.ones(n_t, np.float32)
    if flicker:
        level = lum[:, background].mean(axis=1)
        if level.min() > 0.02:  # a black background carries no flicker signal
            gains = (level / np.median(level)).astype(np.float32)
    out = rgb / gains[:, None, None, None]
    veil = np.zeros(rgb.shape[1:], np.float32)
    if model == "flat":
        return _flat_correction(out, gains, background, degree, flatten, white_region)
    if model != "dark":
        raise InputError(f"unknown background model {model!r}; choose dark or flat")
    if haze:
        median_bg = np.median(out[:: max(1, n_t // 16)], axis=0)
        veil = np.stack([fit_smooth_field(median_bg[..., c], background, degree=degree) for c in range(3)], -1)
        out = out - veil
    field = np.ones(rgb.shape[1:3], np.float32)
    if flatten:
        field = fit_smooth_field(_luminance(out[reference_frame]), particles, degree=degree)
        field = field / max(float(field[particles].mean()), 1e-6)
        out = out / np.maximum(field, 0.05)[None, ..., None]
    white = np.ones(3, np.float32)
    if white_region is not None:
        means = out[:, white_region].reshape(-1, 3).mean(0)
        white = (means.mean() / np.maximum(means, 1e-6)).astype(np.float32)
        out = out * white
    scale = 0.5 / max(float(_luminance(out[reference_frame])[particles].mean()), 1e-6)
    return ColourCorrection(rgb=(out * scale).astype(np.float32), flicker=gains, veil=veil, illumination=field,
                            white=white, scale=scale)


def _flat_correction(out: np.ndarray, gains: np.ndarray, background: np.ndarray, degree: int, flatten: bool,
                     white_region: np.ndarray | None) -> ColourCorrection:
    """Divide each channel by the smooth fit of the background (the ``flat`` model of :func:`correct_colour`)."""
    n_t = out.shape[0]
    field = np.ones(out.shape[1:], np.float32)
    if flatten:
        median_bg = np.median(out[:: max(1, n_t // 16)], axis=0)
        fitted = np.stack([fit_smooth_field(median_bg[..., c], background, degree=degree) for c in range(3)], -1)
        mean = fitted[background].mean(0)
        field = (np.maximum(fitted, 0.2 * np.maximum(mean, 1e-4)) / np.maximum(mean, 1e-4)).astype(np.float32)
        out = out / field[None]
    white = np.ones(3, np.float32)
    if white_region is not None:
        means = out[:, white_region].reshape(-1, 3).mean(0)
        white = (means.mean() / np.maximum(means, 1e-6)).astype(np.float32)
        out = out * white
    top = float(np.percentile(out[:: max(1, n_t // 16)], 99.5))
    scale = 0.95 / max(top, 1e-6)
    return ColourCorrection(rgb=(out * scale).astype(np.float32), flicker=gains,
                            veil=np.zeros(out.shape[1:], np.float32), illumination=field, white=white, scale=scale)


def choose_background_model(rgb: np.ndarray, background: np.ndarray, particles: np.ndarray, *,
                            dark_below: float = 0.5) -> tuple[str, float]:
    """Choose the background model of :func:`correct_colour` from the time-median frame.

    Parameters
    ----------
    rgb : ndarray, shape (T, Y, X, 3)
        Float RGB frames.
    background, particles : ndarray of bool, shape (Y, X)
        Background and particle pixels.
    dark_below : float
        ``dark`` when the background's median luminance is below this share of the particles'.

    Returns
    -------
    (str, float)
        ``dark`` or ``flat``, and the ratio of the background's luminance to the particles'.
    """
    median = np.median(rgb[:: max(1, rgb.shape[0] // 16)], axis=0)
    lum = _luminance(median)
    ratio = float(np.median(lum[background]) / max(float(np.median(lum[particles])), 1e-6))
    return ("dark" if ratio < dark_below else "flat"), ratio
