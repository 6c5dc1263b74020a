"""Open-beam / dark-current normalisation with gamma-spot removal, beam-fluctuation correction and counting noise."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._errors import InputError
from .._progress import Progress, emit, sub_progress
from .._regions import Region, format_region, parse_region
from .._stack import Stack, as_stack
from ..noise import robust_sd
from ._spots import SpotResult, remove_spots_spatial, remove_spots_temporal

logger = logging.getLogger(__name__)

#: A rectangle of pixels ``(y0, y1, x0, x1)``, end exclusive: an :class:`operando._regions.Region` or any four ints.
Box = Region | tuple[int, int, int, int]


@dataclass(frozen=True)
class CombinedImage:
    """A median-combined open-beam or dark set.

    Attributes
    ----------
    image : ndarray, shape (Y, X), float64
        Per-pixel median of the spot-cleaned frames.
    n_frames : int
        Frames combined.
    exposure_time_s : float or None
        Exposure of the frames (None if unknown or mixed).
    spot_counts : tuple of int
        Gamma spots replaced in each frame.
    noise_sd : float
        Robust sd of one frame's pixel noise around the combined image (counts).
    """

    image: np.ndarray
    n_frames: int
    exposure_time_s: float | None
    spot_counts: tuple[int, ...]
    noise_sd: float

    @property
    def variance_factor(self) -> float:
        """Variance of the median of ``n`` frames relative to one frame (1, 1, 0.45 ... -> pi / 2n)."""
        n = self.n_frames
        return 1.0 if n == 1 else 0.5 if n == 2 else float(np.pi / (2 * n))


@dataclass(frozen=True)
class Transmission:
    """Normalised transmission with everything needed to carry its counting noise on to A and Delta A.

    Attributes
    ----------
    stack : Stack
        Transmission ``T`` (float32, the sample's axes: ``TYX`` or ``YX``); NaN where masked: the open beam is
        no brighter than the dark (division by ~0), the sample is not above the dark, or an input is not
        finite. ``metadata.extra["neutron"]`` holds the spot counts, beam factors, exposure ratio and the
        configuration.
    var_sample : ndarray, shape (T, Y, X), float32
        Relative variance of each frame's own counts, ``var(I - D) / (I - D)^2``: the part of ``var(ln T)``
        that does not cancel in Delta A.
    var_open : ndarray, shape (Y, X), float32
        Relative variance of the combined open beam, ``var(OB - D) / (OB - D)^2`` (common to every frame).
    bad : ndarray of bool, shape (T, Y, X)
        Pixels where ``T`` is not positive or the open beam is no brighter than the dark.
    beam_factors : ndarray, shape (T,)
        The factor each frame was divided by (1 where no open region was given).
    spot_counts : tuple of int
        Gamma spots replaced in each sample frame.
    info : dict
        Configuration and summary (JSON-serialisable).
    """

    stack: Stack
    var_sample: np.ndarray
    var_open: np.ndarray
    bad: np.ndarray
    beam_factors: np.ndarray
    spot_counts: tuple[int, ...]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def sd(self) -> np.ndarray:
        """Propagated sd of T, shape (T, Y, X): ``|T| sqrt(var_sample + var_open)``."""
        data = np.asarray(self.stack.data, np.float32).reshape(self.var_sample.shape)
        return np.abs(data) * np.sqrt(self.var_sample + self.var_open)


def _frames(stack: Stack, what: str) -> np.ndarray:
    """Return (T, Y, X) float64 frames of a ``YX`` or ``TYX`` stack."""
    if stack.axes not in ("YX", "TYX"):
        raise InputError(f"{what}: need YX or TYX images, got axes {stack.axes!r}; select one channel/energy first")
    data = stack.to_numpy().astype(np.float64)
    return data[None] if data.ndim == 2 else data


def _saturation(stack: Stack) -> float | None:
    """Saturation level of integer data (the dtype's maximum minus 5, iMars3D's rule), None for floats."""
    dtype = np.dtype(stack.metadata.original_dtype or stack.dtype)
    return float(np.iinfo(dtype).max - 5) if dtype.kind in "ui" else None


def combine_images(stack: Stack | np.ndarray, *, k: float = 5.0, what: str = "image set",
                   progress: Progress | None = None) -> CombinedImage:
    """Remove gamma spots from each frame (spatial rule) and median-combine an open-beam or dark set.

    Parameters
    ----------
    stack : Stack or ndarray
        ``YX`` or ``TYX`` frames (a plain 3-D array is read as ``TYX``).
    k : float
        Spot threshold in robust sd (see :func:`remove_spots_spatial`).
    what : str
        Name used in error messages.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports (one per frame); raise :class:`operando.Cancelled` in it
        to stop.

    Returns
    -------
    CombinedImage
        The combined image, frame count, exposure, spots per frame and single-frame noise sd.
    """
    stack = as_stack(stack, axes=None if isinstance(stack, Stack) or np.ndim(stack) == 2 else "TYX")
    frames = _frames(stack, what)
    cleaned = remove_spots_spatial(frames, k=k, saturation=_saturation(stack), progress=progress)
    image = np.median(cleaned.data, axis=0)
    if len(frames) >= 2:  # frame-to-frame differences: sd sqrt(2) sigma, free of fixed patterns
        diff = np.diff(cleaned.data, axis=0).ravel()
        noise = robust_sd(diff) / np.sqrt(2)
    else:
        from scipy import ndimage

        noise = robust_sd(image - ndimage.median_filter(image, size=3))
    exposure = stack.metadata.extra.get("exposure_time_s")
    return CombinedImage(image, len(frames), float(exposure) if exposure else None, cleaned.counts, noise)


def parse_box(text: str, option: str = "region") -> Region:
    """Parse ``"y0:y1,x0:x1"`` into a :class:`operando._regions.Region` (:func:`operando._regions.parse_region`).

    Parameters
    ----------
    text : str
        Row and column ranges, end exclusive.
    option : str
        The option or field the text came from, named in the error.

    Returns
    -------
    Region
        ``(y0, y1, x0, x1)``.
    """
    return parse_region(text, option)


def region_mask(boxes: Sequence[Box], shape: tuple[int, int]) -> np.ndarray:
    """Return the union of boxes ``(y0, y1, x0, x1)`` as a boolean (Y, X) mask, refusing empty or outside boxes.

    Parameters
    ----------
    boxes : sequence of (y0, y1, x0, x1)
        Regions, end exclusive.
    shape : (Y, X)
        Image shape.

    Returns
    -------
    ndarray of bool
        The pooled region.
    """
    mask = np.zeros(shape, bool)
    for box in boxes:
        y0, y1, x0, x1 = (int(v) for v in box)
        if not (0 <= y0 < y1 <= shape[0] and 0 <= x0 < x1 <= shape[1]):
            raise InputError(f"region {y0}:{y1},{x0}:{x1} is empty or outside the {shape[0]}x{shape[1]} image; "
                             "give y0 < y1 <= rows and x0 < x1 <= columns")
        mask[y0:y1, x0:x1] = True
    return mask


def beam_factors(transmission: np.ndarray, mask: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Return each frame's beam factor: the median transmission over the pooled open region (bad pixels out).

    Parameters
    ----------
    transmission : ndarray, shape (T, Y, X)
        Transmission before correction.
    mask : ndarray of bool, shape (Y, X)
        The pooled open (air) region.
    bad : ndarray of bool, shape (T, Y, X)
        Pixels to leave out.

    Returns
    -------
    ndarray, shape (T,)
        Factors; dividing frame ``t`` by its factor makes the open region's median transmission 1.
    """
    out = np.empty(len(transmission))
    for t, frame in enumerate(transmission):
        values = frame[mask & ~bad[t]]
        if values.size == 0:
            raise InputError(f"frame {t}: the open region holds no usable pixel; move it onto air")
        out[t] = float(np.median(values))
    if np.any(out <= 0):
        raise InputError(f"open region transmission is not positive ({out.min():.3g}); the region must see the beam")
    return out


def _beam_correction(trans: np.ndarray, bad: np.ndarray, open_regions: Sequence[Box],
                     static_regions: Sequence[Box]) -> np.ndarray:
    """Return each frame's beam factor: from air (``open_regions``), else relative on ``static_regions``, else 1."""
    shape = trans.shape[1:]
    if open_regions:
        return beam_factors(trans, region_mask(open_regions, shape), bad)
    if static_regions and len(trans) > 1:
        factors = beam_factors(trans, region_mask(static_regions, shape), bad)
        return factors / float(np.median(factors))
    return np.ones(len(trans))


def _exposure_ratio(sample: Stack, open_beam: CombinedImage, given: float | None) -> tuple[float, str]:
    """Return the factor t_sample / t_open_beam that the open beam's signal is scaled by, and where it came from."""
    if given is not None:
        return float(given), "given"
    t_sample = sample.metadata.extra.get("exposure_time_s")
    if t_sample and open_beam.exposure_time_s:
        return float(t_sample) / open_beam.exposure_time_s, "exposure times"
    if bool(t_sample) != bool(open_beam.exposure_time_s):
        warnings.warn("exposure time known for only one of sample and open beam; not scaling (pass "
                      "exposure_ratio= if they differ)", stacklevel=3)
    return 1.0, "assumed equal"


def normalize(
    sample: Stack,
    open_beam: Stack,
    dark: Stack,
    *,
    open_regions: Sequence[Box] = (),
    spots: Literal["auto", "temporal", "spatial", "none"] = "auto",
    k: float = 5.0,
    gain: float = 1.0,
    exposure_ratio: float | None = None,
    static_regions: Sequence[Box] = (),
    progress: Progress | None = None,
) -> Transmission:
    """Normalise radiographs: ``T = (I - D) / (r (OB - D)) / b_t`` with spot removal and propagated noise.

    ``OB`` and ``D`` are the median-combined open-beam and dark sets (spots removed from every frame with the
    spatial rule), ``r = t_sample / t_open_beam`` scales the open beam's signal when the exposures differ (the
    dark current is not scaled: it is a readout offset, measured 297 vs 318 counts at 5 s vs 120 s on the
    shared step wedge while the open beam grew 24x), and ``b_t`` is frame ``t``'s beam factor from the pooled
    open regions (see :func:`beam_factors`).

    Parameters
    ----------
    sample : Stack
        ``YX`` or ``TYX`` raw counts.
    open_beam, dark : Stack
        ``YX`` or ``TYX`` sets (several frames are median-combined); the same image size as ``sample``.
    open_regions : sequence of (y0, y1, x0, x1)
        Air regions, pooled, for the beam-fluctuation correction (none: no correction, ``b_t = 1``).
    spots : {"auto", "temporal", "spatial", "none"}
        Gamma-spot rule for the sample: temporal for series of >= 5 frames, spatial otherwise (``auto``).
    k : float
        Spot threshold in robust sd.
    gain : float
        Detector counts per detected neutron (1 for counting detectors); the counting variance of a signal
        ``S`` is ``gain * S`` plus the dark frame's read noise.
    exposure_ratio : float, optional
        ``t_sample / t_open_beam``, overriding the exposure times read from the files.
    static_regions : sequence of (y0, y1, x0, x1)
        Where no air is in view: regions whose transmission does not change during the run (current
        collectors, a housing), pooled; each frame is divided by its median there over the median of those
        medians over the run (``b_t`` relative, so T there keeps its level). Ignored when ``open_regions`` are
        given.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports (one per frame of each set); raise
        :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    Transmission
        T (float32), its noise terms, the bad-pixel mask, beam factors and spot counts.

    Raises
    ------
    InputError
        Different image sizes, an open beam no brighter than the dark, a bad open region.
    """
    _check_settings(spots, k, gain, exposure_ratio)
    frames = _frames(sample, "sample")
    shape = frames.shape[1:]
    for name, other in (("open beam", open_beam), ("dark current", dark)):
        other_shape = other.shape[-2:]
        if tuple(other_shape) != tuple(shape):
            raise InputError(f"{name} images are {other_shape[0]}x{other_shape[1]} but the sample's are "
                             f"{shape[0]}x{shape[1]}; use {name} images from the same detector setting (same "
                             "size and binning)")
    frames, sample_nonfinite = _finite_frames(frames, "sample")
    open_beam, ob_nonfinite = _finite_set(open_beam, "open beam")
    dark, dc_nonfinite = _finite_set(dark, "dark current")
    ob = combine_images(open_beam, k=k, what="open beam", progress=sub_progress(progress, 0.0, 0.15, "open beam: "))
    dc = combine_images(dark, k=k, what="dark current", progress=sub_progress(progress, 0.15, 0.3, "dark: "))
    ratio, ratio_from = _exposure_ratio(sample, ob, exposure_ratio)
    net_open = ratio * (ob.image - dc.image)
    unusable = ob_nonfinite | dc_nonfinite
    if unusable.all():
        raise InputError("every pixel is NaN or inf in some open-beam or dark frame; give the raw detector counts")
    signal = float(np.median(net_open[~unusable]))
    if not (signal > 5 * max(dc.noise_sd, 1e-12) and signal > 0):
        raise InputError(f"the open beam is no brighter than the dark current (median OB - dark = {signal:.3g} "
                         f"counts, dark noise {dc.noise_sd:.3g}); check the open-beam files were taken with the "
                         "beam on and are not dark frames")
    cleaned = _remove_sample_spots(frames, spots, k, _saturation(sample),
                                   sub_progress(progress, 0.3, 0.9, "sample spots: "))
    emit(progress, 0.9, "transmission")
    net = cleaned.data - dc.image
    division_bad = (net_open <= max(dc.noise_sd, 1e-12)) | unusable
    with np.errstate(divide="ignore", invalid="ignore"):
        trans = np.where(division_bad, np.nan, net / np.where(division_bad, 1.0, net_open))
    trans[sample_nonfinite] = np.nan
    bad = ~(trans > 0)
    _report_masked(bad, net, sample_nonfinite, division_bad, float(np.median(dc.image)))
    factors = _beam_correction(trans, bad, open_regions, static_regions)
    trans = trans / factors[:, None, None]
    trans = np.where(bad, np.nan, trans)  # masked, never a negative or zero transmission
    read_var = dc.noise_sd**2
    with np.errstate(divide="ignore", invalid="ignore"):
        var_sample = (gain * np.clip(net, 0, None) + read_var) / net**2
        var_open = ratio**2 * (gain * np.clip(ob.image - dc.image, 0, None) + read_var) * ob.variance_factor \
            / net_open**2
    var_sample = np.where(bad, np.nan, var_sample).astype(np.float32)
    var_open = np.where(division_bad, np.nan, var_open).astype(np.float32)
    info = {
        "formula": "T = (I - D) / (r (OB - D)) / b_t",
        "open_beam_frames": ob.n_frames, "dark_frames": dc.n_frames,
        "open_beam_spots": list(ob.spot_counts), "dark_spots": list(dc.spot_counts),
        "sample_spots": list(cleaned.counts), "spot_rule": cleaned.rule, "k": k, "gain": gain,
        "exposure_ratio": ratio, "exposure_ratio_from": ratio_from,
        "open_beam_minus_dark_median": signal, "dark_median": float(np.median(dc.image)),
        "dark_noise_sd": dc.noise_sd, "open_regions": [format_region(b) for b in open_regions],
        "static_regions": [] if open_regions else [format_region(b) for b in static_regions],
        "beam_factors": [float(f) for f in factors],
        "bad_pixels_per_frame": [int(b.sum()) for b in bad],
        "division_by_zero_pixels": int(division_bad.sum()),
    }
    out = trans.astype(np.float32)
    out = out[0] if sample.axes == "YX" else out
    meta = sample.metadata.replace(original_dtype="float32",
                                   extra={**sample.metadata.extra, "neutron": info, "quantity": "transmission"})
    logger.info("normalised %d frame(s): %d spots, beam factors %.4f-%.4f", len(frames), sum(cleaned.counts),
                factors.min(), factors.max())
    return Transmission(Stack(out, axes=sample.axes, metadata=meta), var_sample, var_open, bad, factors,
                        cleaned.counts, info)


def _check_settings(spots: str, k: float, gain: float, exposure_ratio: float | None) -> None:
    """Refuse settings outside their ranges (one line each, with the value seen)."""
    if spots not in ("auto", "temporal", "spatial", "none"):
        raise InputError(f"unknown spot rule {spots!r}; choose auto, temporal, spatial or none")
    if not (np.isfinite(k) and k > 0):
        raise InputError(f"k = {k!r}: the gamma-spot threshold must be a positive number of robust sd (default 5)")
    if not (np.isfinite(gain) and gain > 0):
        raise InputError(f"gain = {gain!r}: the detector gain (counts per detected neutron) must be positive "
                         "(1 for counting detectors)")
    if exposure_ratio is not None and not (np.isfinite(exposure_ratio) and exposure_ratio > 0):
        raise InputError(f"exposure ratio = {exposure_ratio!r}: t_sample / t_open_beam must be positive; give the "
                         "ratio of the exposure times, or leave it out to read them from the files")


def _finite_frames(frames: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the frames with non-finite values filled by the frame's median, and the mask of those values.

    The fill only keeps the spot filters finite; the pixels are masked afterwards. A set or a frame without any
    finite value is refused.
    """
    nonfinite = ~np.isfinite(frames)
    if not nonfinite.any():
        return frames, nonfinite
    if nonfinite.all():
        raise InputError(f"the {what} images hold no finite value (all NaN or inf); give the raw detector counts")
    empty = [t for t, m in enumerate(nonfinite) if m.all()]
    if empty:
        raise InputError(f"{what} frame {empty[0]} holds no finite value (all NaN or inf; {len(empty)} such "
                         "frame(s)); remove it from the input")
    fill = np.array([np.median(f[~m]) for f, m in zip(frames, nonfinite, strict=True)])[:, None, None]
    return np.where(nonfinite, fill, frames), nonfinite


def _finite_set(stack: Stack, what: str) -> tuple[Stack, np.ndarray]:
    """Return an open-beam or dark set with non-finite values filled, and the pixels non-finite in any frame.

    See :func:`_finite_frames`; the (Y, X) mask returned is left out of the transmission.
    """
    stack = as_stack(stack, axes=None if isinstance(stack, Stack) or np.ndim(stack) == 2 else "TYX")
    frames = _frames(stack, what)
    filled, nonfinite = _finite_frames(frames, what)
    if not nonfinite.any():
        return stack, nonfinite.any(axis=0)
    data = filled[0] if stack.axes == "YX" else filled
    return Stack(data, axes=stack.axes, metadata=stack.metadata), nonfinite.any(axis=0)


def _report_masked(bad: np.ndarray, net: np.ndarray, sample_nonfinite: np.ndarray, division_bad: np.ndarray,
                   dark_median: float) -> None:
    """Refuse a transmission with nothing left, else warn how many pixels are masked (NaN) and why."""
    if not bad.any():
        return
    total = bad.size
    median_net = float(np.median(net)) if np.isfinite(net).any() else float("nan")
    if bad.all():
        raise InputError(f"every pixel of the transmission would be masked: the sample is nowhere above the dark "
                         f"current where the open beam is (median sample - dark = {median_net:.3g} counts, dark "
                         f"median {dark_median:.3g}); check the sample files are raw detector counts taken with the "
                         "beam on, and the dark files are dark current")
    empty = [t for t, b in enumerate(bad) if b.all()]
    if empty:
        raise InputError(f"sample frame {empty[0]} has no pixel above the dark current ({len(empty)} such "
                         "frame(s)); its transmission would be all NaN: remove it or check the file")
    reasons = []
    nonfinite = int((sample_nonfinite & bad).sum())
    division = int((division_bad[None] & bad & ~sample_nonfinite).sum())
    below = int(bad.sum()) - nonfinite - division
    if below:
        reasons.append(f"{below} where the sample is not above the dark current")
    if division:
        reasons.append(f"{division} where the open beam is not above the dark current or not finite")
    if nonfinite:
        reasons.append(f"{nonfinite} not finite (NaN or inf) in the sample")
    warnings.warn(f"masked {int(bad.sum())} of {total} transmission pixel(s) as NaN ({'; '.join(reasons)}); they are "
                  "left out of every later step", UserWarning, stacklevel=3)


def _remove_sample_spots(frames: np.ndarray, spots: str, k: float, saturation: float | None,
                         progress: Progress | None) -> SpotResult:
    """Apply the chosen gamma-spot rule to the sample frames."""
    if spots == "none":
        return SpotResult(frames, np.zeros(frames.shape, bool), (0,) * len(frames), "none")
    if spots == "temporal" or (spots == "auto" and len(frames) >= 5):
        result = remove_spots_temporal(frames, k=k, progress=progress)
        if saturation is not None and (frames >= saturation).any():
            sat = remove_spots_spatial(result.data, k=np.inf, saturation=saturation, max_passes=1)
            mask = result.mask | sat.mask
            return SpotResult(sat.data, mask, tuple(int(m.sum()) for m in mask), result.rule)
        return result
    if spots in ("spatial", "auto"):
        return remove_spots_spatial(frames, k=k, saturation=saturation, progress=progress)
    raise InputError(f"unknown spot rule {spots!r}; choose auto, temporal, spatial or none")
