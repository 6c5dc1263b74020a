"""Optical density OD = -ln(I / I0) with its counting-statistics variance; I0 from the data or a spectrum."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import InputError
from .._stack import Stack, as_stack

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class I0Spectrum:
    """A separately measured incident-flux spectrum (counts per pixel) and the dwell it was measured with.

    Attributes
    ----------
    energies_ev : ndarray
        Energies of the spectrum.
    counts : ndarray
        Counts per pixel at those energies.
    dwell_ms : float
        Dwell per point of the I0 measurement; the spectrum is scaled by ``data_dwell / dwell_ms``.
    """

    energies_ev: np.ndarray
    counts: np.ndarray
    dwell_ms: float


@dataclass(frozen=True)
class OpticalDensity:
    """Result of :func:`optical_density`.

    Attributes
    ----------
    od : Stack
        Float64 optical density, same axes as the counts (``EYX`` or ``TEYX``); NaN where counts were <= 0 or
        not finite.
    variance : ndarray
        Variance of each OD value from Poisson counts and the I0 estimate, same shape as ``od``.
    background : ndarray of bool
        Particle-free pixels used for I0 (``YX`` or ``TYX``).
    i0 : ndarray
        I0 per energy, shape (E,) or (T, E); per scan line (..., E, Y) when ``per_line``.
    i0_source : str
        Where I0 came from.
    n_bad : int
        Pixels with counts <= 0 or non-finite (masked, never replaced).
    notes : list of str
        What was done, for the summary.
    """

    od: Stack
    variance: np.ndarray
    background: np.ndarray
    i0: np.ndarray
    i0_source: str
    n_bad: int
    notes: list[str] = field(default_factory=list)


def _bright_pixels(counts: np.ndarray, good: np.ndarray, spread: float) -> np.ndarray:
    """Pixels within ``spread`` robust sd below the bright mode of the log-count histogram, at every energy."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    keep = good.copy()
    for image in counts:
        logi = np.log(np.where(good, image, np.nan).astype(float))
        smooth = ndimage.uniform_filter(np.nan_to_num(logi, nan=np.nanmedian(logi)), 3)
        values = smooth[good]
        cut = threshold_otsu(values) if np.ptp(values) > 0 else values.min()
        bright = values[values >= cut]
        mode = float(np.median(bright))
        upper = bright[bright >= mode]
        sigma = 1.4826 * float(np.median(upper - mode)) if upper.size > 2 else float(np.std(bright))
        keep &= smooth >= mode - spread * max(sigma, 1e-12)
    return keep


def _flatten_lines(counts: np.ndarray, background: np.ndarray, min_pixels: int = 4) -> np.ndarray:
    """Divide every scan line by its background level (lines without enough background: the nearest ones')."""
    out = np.empty_like(counts, dtype=float)
    rows = np.arange(counts.shape[1])
    for e, image in enumerate(counts):
        n = background.sum(axis=1)
        level = np.array([np.median(image[y, background[y]]) if n[y] >= min_pixels else np.nan for y in rows])
        have = np.isfinite(level) & (level > 0)
        level = np.interp(rows, rows[have], level[have]) if have.any() else np.ones(rows.size)
        out[e] = image / level[:, None]
    return out


def find_background(counts: np.ndarray, *, spread: float = 3.0) -> np.ndarray:
    """Find the particle-free pixels of an energy stack from the bright-pixel histogram (as users do by hand).

    Parameters
    ----------
    counts : ndarray, shape (E, Y, X)
        Transmitted counts.
    spread : float
        Pixels within ``spread`` robust standard deviations below the bright (background) mode, at every
        energy, are background.

    Returns
    -------
    ndarray of bool, shape (Y, X)
        True on particle-free pixels.

    Notes
    -----
    Two passes: the second histogram is taken after dividing every scan line by its background level from the
    first, so that line-to-line flux changes (stripes) do not push whole dim lines out of the background.
    """
    good = np.all(np.isfinite(counts) & (counts > 0), axis=0)
    if not good.any():
        raise InputError("no pixel has counts > 0 at every energy, so no particle-free background can be found for "
                         "I0; the counts are too low (or the images empty): check the data")
    first = _bright_pixels(counts, good, spread)
    if not first.any():
        return first
    return _bright_pixels(_flatten_lines(counts, first), good, spread)


def _region_mask(region: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    y0, y1, x0, x1 = (int(v) for v in region)
    if not (0 <= y0 < y1 <= shape[0] and 0 <= x0 < x1 <= shape[1]):
        raise InputError(f"I0 region (y0, y1, x0, x1) = {region} is outside the {shape[0]} x {shape[1]} image; "
                         "give rows y0:y1 and columns x0:x1 inside it")
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _dwell(meta_extra: dict[str, Any], n_e: int) -> np.ndarray | None:
    dwell = meta_extra.get("dwell_ms")
    if dwell is None:
        return None
    arr = np.asarray(dwell, dtype=float)
    return np.broadcast_to(arr, (n_e,)) if arr.size in (1, n_e) else None


def _i0_from_pixels(image: np.ndarray, background: np.ndarray, gain: float, per_line: bool, min_pixels: int
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """Return (i0, var_i0, lines with their own I0): one value, or one per scan line from its background pixels."""
    values = image[background]
    if values.size == 0:
        raise InputError("no particle-free pixels found for I0; give an I0 region or an I0 spectrum")
    i0 = float(values.mean())
    if not (np.isfinite(i0) and i0 > 0):
        raise InputError(f"I0 from the particle-free pixels is {i0:g} (counts <= 0 or not finite there); OD = "
                         "-ln(I / I0) needs I0 > 0: choose a region of the bright, particle-free background for I0")
    var = gain * i0 / values.size
    if not per_line:
        return np.array(i0), np.array(var), 0
    n = background.sum(axis=1)
    sums = np.where(background, image, 0).sum(axis=1)
    with np.errstate(invalid="ignore"):
        own = (n >= min_pixels) & np.isfinite(sums) & (sums > 0)  # a line without positive counts: the frame's I0
    line_i0 = np.where(own, sums / np.maximum(n, 1), i0)
    line_var = np.where(own, gain * line_i0 / np.maximum(n, 1), var)
    return line_i0, line_var, int(own.sum())


def _od_frame(counts: np.ndarray, i0: np.ndarray, var_i0: np.ndarray, gain: float) -> tuple[np.ndarray, np.ndarray]:
    """OD and its variance for one energy image; i0 scalar or per line (Y,)."""
    i0_b = i0[:, None] if i0.ndim == 1 else i0
    v0_b = var_i0[:, None] if var_i0.ndim == 1 else var_i0
    bad = ~np.isfinite(counts) | (counts <= 0)
    safe = np.where(bad, 1.0, counts)
    od = np.where(bad, np.nan, np.log(i0_b) - np.log(safe))
    var = np.where(bad, np.nan, gain / safe + v0_b / i0_b**2)
    return od, var


def optical_density(
    counts: Stack | np.ndarray,
    *,
    axes: str | None = None,
    i0: str | tuple[int, int, int, int] | np.ndarray | I0Spectrum = "auto",
    per_line: bool = False,
    ring_current: bool = False,
    gain: float = 1.0,
    min_line_pixels: int = 8,
) -> OpticalDensity:
    """Convert transmitted counts to optical density OD = -ln(I / I0), with the variance of every value.

    Parameters
    ----------
    counts : Stack or ndarray
        Counts with axes ``EYX`` or ``TEYX`` (a ``YX`` image is one energy).
    axes : str, optional
        Axes of a plain array.
    i0 : "auto", (y0, y1, x0, x1), bool ndarray (Y, X) or I0Spectrum
        ``"auto"``: the particle-free pixels found by :func:`find_background` (per frame); a region or mask of
        particle-free pixels; or a measured spectrum interpolated to the stack's energies and scaled by
        ``data dwell / I0 dwell``.
    per_line : bool
        Take I0 per scan line from that line's particle-free pixels (corrects line-to-line flux changes, the
        main source of STXM scan-line stripes); lines with fewer than ``min_line_pixels`` use the frame's I0.
    ring_current : bool
        Divide each image by ``R / median(R)`` (``metadata.extra["ring_current_ma"]``); only changes the result
        when I0 is not taken from the same image.
    gain : float
        Detector units per photon (1 for photon-counting detectors): var(I) = gain * I.
    min_line_pixels : int
        Fewest particle-free pixels for a line's own I0.

    Returns
    -------
    OpticalDensity
        OD (NaN where counts <= 0 or non-finite: masked and counted, never replaced), its variance
        ``gain / I + var(I0) / I0^2``, the background mask, I0 and notes.
    """
    stack = as_stack(counts, axes=axes)
    if stack.axes == "YX":
        stack = Stack(stack.to_numpy()[None], axes="EYX", metadata=stack.metadata)
    if stack.axes not in ("EYX", "TEYX"):
        stack = stack.transpose("TEYX" if "T" in stack.axes else "EYX")
    data = stack.to_numpy().astype(np.float64)
    series = data if stack.axes == "TEYX" else data[None]
    n_e = series.shape[1]
    extra = stack.metadata.extra or {}
    notes: list[str] = []
    if ring_current:
        series, note = _normalise_ring(series, extra)
        notes.append(note)
    spectrum = _spectrum_i0(i0, stack, n_e) if isinstance(i0, I0Spectrum) else None
    od, var, backgrounds, i0s = (np.empty_like(series), np.empty_like(series), [], [])
    source = ""
    for t, frame in enumerate(series):
        for e, image in enumerate(frame):
            if not np.any(np.isfinite(image) & (image > 0)):
                where = f"frame {t}, energy {e}" if stack.axes == "TEYX" else f"energy {e}"
                raise InputError(f"{stack.metadata.source or 'counts'}: the image at {where} holds no positive "
                                 "counts; OD = -ln(I / I0) needs transmitted counts > 0: check the file (a dark or "
                                 "failed image?) or leave that image out")
        background, source = _background_for(i0, frame)
        backgrounds.append(background)
        frame_i0 = []
        for e in range(n_e):
            if spectrum is not None:
                level, level_var, own = np.array(spectrum[e]), np.array(0.0), 0
            else:
                level, level_var, own = _i0_from_pixels(frame[e], background, gain, per_line, min_line_pixels)
            od[t, e], var[t, e] = _od_frame(frame[e], level, level_var, gain)
            frame_i0.append(level)
        i0s.append(np.stack(frame_i0))
        if per_line and spectrum is None:
            notes.append(f"frame {t}: per-line I0 on {own} of {frame.shape[1]} lines")
    bad = int(np.count_nonzero(~np.isfinite(od)))
    if bad:
        notes.append(f"{bad} pixel(s) with counts <= 0 or non-finite: OD masked (NaN), not replaced")
        logger.info("optical_density: %d bad pixels masked", bad)
    keep = stack.axes == "TEYX"
    od_stack = Stack(od if keep else od[0], axes=stack.axes,
                     metadata=stack.metadata.replace(extra={**extra, "quantity": "optical density"}))
    bg = np.stack(backgrounds)
    i0_arr = np.stack(i0s)
    return OpticalDensity(od_stack, var if keep else var[0], bg if keep else bg[0], i0_arr if keep else i0_arr[0],
                          source + (" per scan line" if per_line and spectrum is None else ""), bad, notes)


def _background_for(i0: Any, frame: np.ndarray) -> tuple[np.ndarray, str]:
    shape = frame.shape[1:]
    if isinstance(i0, str):
        if i0 != "auto":
            raise InputError(f"i0={i0!r}: use 'auto', a region (y0, y1, x0, x1), a mask or an I0Spectrum")
        return find_background(frame), "auto: particle-free pixels from the bright-pixel histogram"
    if isinstance(i0, I0Spectrum):
        return find_background(frame), "I0 spectrum (interpolated, scaled by dwell)"
    if isinstance(i0, np.ndarray) and i0.dtype == bool:
        if i0.shape != shape:
            raise InputError(f"I0 mask has shape {i0.shape}, the images are {shape}; give a (Y, X) boolean mask")
        return i0, "given mask of particle-free pixels"
    if isinstance(i0, tuple | list) and len(i0) == 4:
        return _region_mask(tuple(i0), shape), f"given region (y0, y1, x0, x1) = {tuple(int(v) for v in i0)}"
    raise InputError(f"i0={i0!r}: use 'auto', a region (y0, y1, x0, x1), a boolean mask or an I0Spectrum")


def _normalise_ring(series: np.ndarray, extra: dict[str, Any]) -> tuple[np.ndarray, str]:
    ring = extra.get("ring_current_ma")
    n_t, n_e = series.shape[:2]
    try:
        values = np.asarray(ring, dtype=float).reshape(n_t, n_e) if ring is not None else None
    except (ValueError, TypeError):
        values = None
    if values is None or not np.all(np.isfinite(values) & (values > 0)):
        return series, f"ring-current normalisation skipped (no usable ring current per image: {ring!r})"
    scale = values / np.median(values)
    return series / scale[:, :, None, None], "divided each image by R / median(R) (ring current)"


def _spectrum_i0(spectrum: I0Spectrum, stack: Stack, n_e: int) -> np.ndarray:
    energies = stack.metadata.energies
    if not energies or len(energies) != n_e:
        raise InputError("an I0 spectrum needs the stack's energies (metadata.energies) to interpolate to")
    e = np.asarray(spectrum.energies_ev, float)
    lo, hi = e.min(), e.max()
    if min(energies) < lo - 1e-6 or max(energies) > hi + 1e-6:
        raise InputError(f"I0 spectrum covers {lo:g}-{hi:g} eV, the stack {min(energies):g}-{max(energies):g} eV; "
                         "measure I0 over the stack's energies")
    order = np.argsort(e)
    level = np.interp(energies, e[order], np.asarray(spectrum.counts, float)[order])
    dwell = _dwell(stack.metadata.extra or {}, n_e)
    if dwell is None:
        raise InputError("the stack records no dwell time (metadata.extra['dwell_ms']); an I0 spectrum is scaled "
                         "by the dwell ratio, so the stack's dwell is needed")
    return level * dwell / float(spectrum.dwell_ms)


def _exposure(stack: Stack, n: int) -> np.ndarray:
    values = (stack.metadata.extra or {}).get("exposure_s")
    if values is None:
        raise InputError(f"{stack.metadata.source or 'a frame'}: no exposure time recorded (metadata.extra"
                         "['exposure_s']); give exposure_s= explicitly")
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size not in (1, n) or np.any(arr <= 0):
        raise InputError(f"exposure times {arr.tolist()} do not fit {n} frames (need one, or one per frame, > 0)")
    return np.broadcast_to(arr, (n,))


def flat_field_od(
    sample: Stack,
    reference: Stack,
    *,
    dark: Stack | None = None,
    sample_exposure_s: float | None = None,
    reference_exposure_s: float | None = None,
) -> Stack:
    """Full-field (TXM) optical density -ln((I - D) / t_I / ((I0 - D) / t_0)) with exposure-time scaling.

    Parameters
    ----------
    sample : Stack
        Sample frames, axes ``EYX`` (or ``YX``); exposure in ``metadata.extra["exposure_s"]`` (Xradia reader).
    reference : Stack
        Flat (reference) frames, one per sample frame or one for all; their own exposure, which may differ (the
        SSRL series: 0.3 s references, 0.5 s samples).
    dark : Stack, optional
        Dark frame (subtracted from both; not scaled by exposure).
    sample_exposure_s, reference_exposure_s : float, optional
        Override the recorded exposure times.

    Returns
    -------
    Stack
        Float64 OD, the sample's axes; NaN where a corrected count is <= 0 (masked, not replaced).
    """
    s = sample.to_numpy().astype(float)
    r = reference.to_numpy().astype(float)
    s = s[None] if s.ndim == 2 else s
    r = r[None] if r.ndim == 2 else r
    if r.shape[-2:] != s.shape[-2:] or r.shape[0] not in (1, s.shape[0]):
        raise InputError(f"reference frames {r.shape} do not fit sample frames {s.shape}; give one reference or one "
                         "per sample frame of the same size")
    d = 0.0 if dark is None else np.asarray(dark.to_numpy(), float).reshape(-1, *s.shape[-2:]).mean(axis=0)
    ts = np.full(s.shape[0], sample_exposure_s) if sample_exposure_s else _exposure(sample, s.shape[0])
    tr = np.full(r.shape[0], reference_exposure_s) if reference_exposure_s else _exposure(reference, r.shape[0])
    num = (s - d) / ts[:, None, None]
    den = (r - d) / tr[:, None, None]
    ok = (num > 0) & (den > 0) & np.isfinite(num) & np.isfinite(den)
    od = np.where(ok, -np.log(np.where(ok, num, 1.0) / np.where(ok, den, 1.0)), np.nan)
    out = od if sample.ndim == 3 else od[0]
    return Stack(out, sample.axes, sample.metadata.replace(extra={**(sample.metadata.extra or {}),
                                                                  "quantity": "optical density"}))
