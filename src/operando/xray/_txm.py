"""Full-field TXM XANES: sample and reference frames to an optical-density stack with its sd, and edge maps.

Optical density per energy E (docs/xray.md, "TXM XANES"):

- every frame is brought to a count rate: ``s_k = (S_k - D) / t_k`` (sample repeats k), ``r_j = (R_j - D) / u_j``
  (reference repeats j), D the mean dark frame (not scaled by exposure);
- ``OD = -ln(mean_k s_k / mean_j r_j)`` (:func:`operando.xray.flat_field_od` on the mean rates), NaN where a mean
  rate is <= 0 (masked with a note, never clamped);
- ``sd(OD)^2 = (SEM_s / mean s)^2 + (SEM_r / mean r)^2``, SEM the standard error of the mean over the repeats
  (``std(ddof=1) / sqrt(n)``); an energy with a single sample or reference frame has no measured spread: sd NaN;
- drift between energies is measured on the OD images (:func:`operando.xray.align_stack`, gradient-weighted phase
  correlation) and the same shifts are applied to the sd.

Edge maps from an OD stack: two energies give the edge jump ``OD(above) - OD(below)``; a XANES stack gives, per
pixel, the normalised absorption ``mu_n(E) = (OD(E) - pre(E)) / step`` (``pre`` a line fitted over the pre-edge
window, ``step`` the mean of ``OD - pre`` over the post-edge window), the edge position (where ``mu_n`` crosses 0.5
below the white line, or the maximum of ``d mu_n / dE``), the white-line position (the maximum of ``mu_n``, refined
by a parabola through three points) and their sd from a parametric bootstrap on the OD sd.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._errors import InputError
from .._stack import Metadata, Stack
from ._align import align_stack
from ._od import flat_field_od

logger = logging.getLogger(__name__)

#: Frames whose energies differ by at most this (eV) are one energy.
ENERGY_TOLERANCE_EV = 0.05


@dataclass(frozen=True)
class _Frame:
    energy: float | None
    image: np.ndarray
    exposure: float | None
    source: str


def _frames(stacks: Sequence[Stack], role: str) -> list[_Frame]:
    """Split stacks (``YX``, ``EYX``, ``TYX``, ``TEYX``) into single frames with their energy and exposure."""
    out: list[_Frame] = []
    for stack in stacks:
        if stack.axes not in ("YX", "EYX", "TYX", "TEYX"):
            raise InputError(f"{stack.metadata.source or role}: {role} frames need axes YX, EYX, TYX or TEYX, got "
                             f"{stack.axes!r}")
        data = np.asarray(stack.to_numpy(), dtype=np.float64)
        planes = data.reshape(-1, *data.shape[-2:])
        extra = stack.metadata.extra or {}
        energies: list[float | None]
        if "E" in stack.axes:
            n_e = stack.shape[stack.axes.index("E")]
            known = list(stack.metadata.energies or [])
            per_e: list[float | None] = [float(v) for v in known] if len(known) == n_e else [None] * n_e
            energies = per_e * (planes.shape[0] // n_e)
        else:
            value = extra.get("energy_ev") if extra.get("energy_ev") is not None else (
                (stack.metadata.energies or [None])[0])
            energies = [float(value) if value is not None else None] * planes.shape[0]
        exposure = extra.get("exposure_s")
        times = np.asarray(exposure, dtype=float).reshape(-1) if exposure is not None else np.array([])
        if times.size not in (0, 1, planes.shape[0]):
            raise InputError(f"{stack.metadata.source or role}: {times.size} exposure times for {planes.shape[0]} "
                             "frames; give --sample-exposure / --flat-exposure")
        per_frame = np.broadcast_to(times, (planes.shape[0],)) if times.size else [None] * planes.shape[0]
        source = stack.metadata.source or role
        for k in range(planes.shape[0]):
            t = per_frame[k]
            out.append(_Frame(energies[k], planes[k], float(t) if t is not None else None, source))
    if not out:
        raise InputError(f"no {role} frames given")
    return out


def _group(frames: list[_Frame], tol: float) -> list[tuple[float, list[_Frame]]]:
    known = sorted((f for f in frames if f.energy is not None), key=lambda f: f.energy)  # type: ignore[arg-type, return-value]
    groups: list[tuple[float, list[_Frame]]] = []
    for f in known:
        if groups and abs(f.energy - groups[-1][0]) <= tol:  # type: ignore[operator]
            groups[-1][1].append(f)
        else:
            groups.append((float(f.energy), [f]))  # type: ignore[arg-type]
    return [(float(np.mean([f.energy for f in g])), g) for _, g in groups]  # type: ignore[misc]


def _rates(frames: list[_Frame], dark: np.ndarray | float, override: float | None, role: str
           ) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Mean count rate of frames, its standard error (NaN for one frame), the exposures used."""
    times = []
    for f in frames:
        t = override if override is not None else f.exposure
        if t is None or not math.isfinite(t) or t <= 0:
            raise InputError(f"{f.source}: no exposure time recorded for this {role} frame (got {t!r}); give "
                             f"{'--sample-exposure' if role == 'sample' else '--flat-exposure'} (seconds)")
        times.append(float(t))
    rates = np.stack([(f.image - dark) / t for f, t in zip(frames, times, strict=True)])
    mean = rates.mean(axis=0)
    sem = rates.std(axis=0, ddof=1) / math.sqrt(len(frames)) if len(frames) > 1 else np.full(mean.shape, np.nan)
    return mean, sem, times


def _match_references(s_groups: list[tuple[float, list[_Frame]]], r_frames: list[_Frame], tol: float,
                      notes: list[str]) -> list[list[_Frame]]:
    """Return the reference frames of every sample energy; refuse energies without any."""
    r_groups = _group(r_frames, tol)
    anywhere = [f for f in r_frames if f.energy is None]
    if anywhere and r_groups:
        raise InputError(f"{anywhere[0].source}: some reference frames have an energy and some do not; give "
                         "references of one kind")
    if anywhere:
        notes.append(f"references carry no energy: the mean of all {len(anywhere)} serves every energy")
    matched: list[list[_Frame]] = []
    missing = []
    for energy, _ in s_groups:
        if anywhere:
            matched.append(anywhere)
            continue
        near = [g for e, g in r_groups if abs(e - energy) <= tol]
        if near:
            matched.append(near[0])
        else:
            missing.append(energy)
    if missing:
        have = ", ".join(f"{e:g}" for e, _ in r_groups[:6]) + (" ..." if len(r_groups) > 6 else "")
        raise InputError(f"no reference frames at {', '.join(f'{e:g}' for e in missing[:6])} eV (references at "
                         f"{have} eV); give reference frames for every sample energy")
    return matched


def _align(od: np.ndarray, sd: np.ndarray, energies: list[float], align: str, ref_index: int,
           max_shift_px: float | None, notes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Register the OD images onto one energy; the same shifts move the sd."""
    if align == "none" or len(energies) < 2:
        return od, sd, np.zeros((len(energies), 2)), float("nan")
    aligned = align_stack(Stack(od, "EYX"), reference_energy=ref_index, resample=align,  # type: ignore[arg-type]
                          max_shift_px=max_shift_px)
    shifts = aligned.shifts[0]
    sd = align_stack(Stack(sd, "EYX"), shifts=aligned.shifts, resample=align).stack.to_numpy()  # type: ignore[arg-type]
    notes.append(f"drift aligned onto {energies[ref_index]:g} eV: largest shift {float(np.abs(shifts).max()):.2f} px, "
                 f"residual {aligned.residual_px:.2f} px")
    return aligned.stack.to_numpy(), sd, shifts, aligned.residual_px


@dataclass(frozen=True)
class TXMOpticalDensity:
    """Result of :func:`txm_optical_density`.

    Attributes
    ----------
    od : Stack
        Float64 optical density ``EYX`` (energies ascending); NaN where a mean rate was <= 0 or, after alignment,
        where a shifted image has no data.
    sd : ndarray
        Standard error of each OD value from the repeats' spread (same shape; NaN where unknown).
    energies : list of float
        The energies, eV.
    sample_exposure_s, reference_exposure_s : list of list of float
        Exposure of every frame used, per energy.
    sample_repeats, reference_repeats : list of int
        Frames averaged per energy.
    shifts_px : ndarray, shape (E, 2)
        (dy, dx) shift applied to each energy's image (zeros without alignment).
    residual_px : float
        RMS shift still measured after alignment (NaN without alignment).
    n_masked : int
        OD values masked (NaN) because a mean rate was <= 0, before alignment.
    notes : list of str
        What was done, for the summary.
    config : dict
        The settings used.
    """

    od: Stack
    sd: np.ndarray
    energies: list[float]
    sample_exposure_s: list[list[float]]
    reference_exposure_s: list[list[float]]
    sample_repeats: list[int]
    reference_repeats: list[int]
    shifts_px: np.ndarray
    residual_px: float
    n_masked: int
    notes: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return everything but the images, JSON-serialisable."""
        return {"energies_ev": self.energies, "sample_exposure_s": self.sample_exposure_s,
                "reference_exposure_s": self.reference_exposure_s, "sample_repeats": self.sample_repeats,
                "reference_repeats": self.reference_repeats, "alignment_shifts_px": self.shifts_px.tolist(),
                "alignment_residual_px": None if math.isnan(self.residual_px) else self.residual_px,
                "n_masked": self.n_masked, "notes": self.notes, "config": self.config}


def txm_optical_density(
    samples: Stack | Sequence[Stack],
    references: Stack | Sequence[Stack],
    *,
    dark: Stack | Sequence[Stack] | None = None,
    sample_exposure_s: float | None = None,
    reference_exposure_s: float | None = None,
    align: Literal["none", "spline", "linear", "integer", "fourier"] = "linear",
    reference_energy_ev: float | None = None,
    max_shift_px: float | None = None,
    energy_tolerance_ev: float = ENERGY_TOLERANCE_EV,
) -> TXMOpticalDensity:
    """Turn full-field TXM sample and reference (flat) frames into an optical-density stack with its sd.

    Parameters
    ----------
    samples : Stack or sequence of Stack
        Sample frames: ``YX`` frames, ``EYX`` series or ``TEYX`` (T the repeat), with energies in the metadata
        (``energies``, or ``extra["energy_ev"]``) and exposures in ``extra["exposure_s"]`` (the Xradia reader).
        Frames at one energy (within ``energy_tolerance_ev``) are repeats and are averaged.
    references : Stack or sequence of Stack
        Reference frames (sample moved out), same layout, their own exposures. Every sample energy needs
        reference frames at that energy; reference frames without any energy serve every energy (with a note).
    dark : Stack or sequence of Stack, optional
        Dark frames, averaged, subtracted from every frame (not scaled by exposure).
    sample_exposure_s, reference_exposure_s : float, optional
        Override every recorded exposure of the samples or the references (seconds).
    align : {"none", "spline", "linear", "integer", "fourier"}
        Register the OD images of all energies onto one (:func:`align_stack`) and apply the shifts this way.
    reference_energy_ev : float, optional
        Energy whose image the others are registered onto (default the highest: most contrast above an edge).
    max_shift_px : float, optional
        Largest drift searched (default a quarter of the smaller side).
    energy_tolerance_ev : float
        Frames closer in energy than this are one energy.

    Returns
    -------
    TXMOpticalDensity
        OD, its sd, energies, exposures, repeats, shifts and notes.

    Raises
    ------
    InputError
        Frames of different sizes, sample frames marked as references (``_ref_``), an energy without
        reference frames, a frame without energy or exposure.
    """
    sample_list = [samples] if isinstance(samples, Stack) else list(samples)
    ref_list = [references] if isinstance(references, Stack) else list(references)
    for s in sample_list:
        if (s.metadata.extra or {}).get("reference_frames"):
            raise InputError(f"{s.metadata.source or 'a sample stack'}: these are reference frames ('_ref_' in the "
                             "name); give them with --flat (references=), and the sample frames as SAMPLES")
    s_frames = _frames(sample_list, "sample")
    r_frames = _frames(ref_list, "reference")
    d_frames = _frames([dark] if isinstance(dark, Stack) else list(dark), "dark") if dark is not None else []
    shape = s_frames[0].image.shape
    for f in (*s_frames, *r_frames, *d_frames):
        if f.image.shape != shape:
            raise InputError(f"{f.source}: frame size {f.image.shape[1]}x{f.image.shape[0]} differs from the first "
                             f"sample frame's {shape[1]}x{shape[0]}; give frames of one size (one binning)")
    unplaced = [f for f in s_frames if f.energy is None]
    if unplaced:
        raise InputError(f"{unplaced[0].source}: a sample frame without an energy (no metadata energies, no "
                         "..._08324.0_eV_... in the name); cannot build an energy series")
    notes: list[str] = []
    d = np.mean([f.image for f in d_frames], axis=0) if d_frames else 0.0
    if d_frames:
        notes.append(f"dark: mean of {len(d_frames)} frame(s), subtracted unscaled from every frame")
    s_groups = _group(s_frames, energy_tolerance_ev)
    matched = _match_references(s_groups, r_frames, energy_tolerance_ev, notes)
    s_mean, s_sem, r_mean, r_sem = [], [], [], []
    s_times, r_times = [], []
    for (_, group), refs in zip(s_groups, matched, strict=True):
        for role, frames, override, means, sems, times in (
                ("sample", group, sample_exposure_s, s_mean, s_sem, s_times),
                ("reference", refs, reference_exposure_s, r_mean, r_sem, r_times)):
            mean, sem, used = _rates(frames, d, override, role)
            means.append(mean)
            sems.append(sem)
            times.append(used)
    energies = [e for e, _ in s_groups]
    first = sample_list[0].metadata
    meta = Metadata(pixel_size=first.pixel_size, pixel_unit=first.pixel_unit, energies=tuple(energies),
                    extra={"exposure_s": 1.0})
    od = flat_field_od(Stack(np.stack(s_mean), "EYX", meta), Stack(np.stack(r_mean), "EYX", meta),
                       sample_exposure_s=1.0, reference_exposure_s=1.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt((np.stack(s_sem) / np.stack(s_mean)) ** 2 + (np.stack(r_sem) / np.stack(r_mean)) ** 2)
    sd = np.where(np.isfinite(od), sd, np.nan)
    n_masked = int(np.isnan(od).sum())
    if n_masked:
        notes.append(f"{n_masked} OD values masked (NaN): a mean count rate <= 0 after the dark (never clamped)")
    single = [f"{e:g}" for e, (_, g), refs in zip(energies, s_groups, matched, strict=True)
              if len(g) < 2 or len(refs) < 2]
    if single:
        notes.append(f"sd unknown (NaN) at {', '.join(single[:6])}{' ...' if len(single) > 6 else ''} eV: a single "
                     "sample or reference frame has no measured spread (take repeats)")
    ref_index = len(energies) - 1 if reference_energy_ev is None else int(
        np.argmin(np.abs(np.asarray(energies) - reference_energy_ev)))
    od, sd, shifts, residual = _align(od, sd, energies, align, ref_index, max_shift_px, notes)
    config = {"sample_exposure_s": sample_exposure_s, "reference_exposure_s": reference_exposure_s,
              "align": align, "reference_energy_ev": energies[ref_index], "max_shift_px": max_shift_px,
              "energy_tolerance_ev": energy_tolerance_ev, "dark_frames": len(d_frames)}
    extra = {"quantity": "optical density", "sd": "standard error of the mean over repeats",
             "formula": "-ln(mean((I - D) / t) / mean((I_ref - D) / t_ref))"}
    out = Stack(od, "EYX", meta.replace(extra=extra))
    return TXMOpticalDensity(out, sd, energies, s_times, r_times, [len(g) for _, g in s_groups],
                             [len(r) for r in matched], shifts, residual, n_masked, notes, config)


# ------------------------------------------------------------------------------------------------------- edge maps
@dataclass(frozen=True)
class EdgeMaps:
    """Result of :func:`edge_maps`.

    Attributes
    ----------
    maps : ndarray, shape (C, Y, X)
        One image per channel; NaN where a quantity is undefined (no edge, OD masked).
    channels : list of str
        Channel names: ``jump, sd_jump`` (two energies) or ``edge_ev, sd_edge_ev, white_line_ev,
        sd_white_line_ev, jump, sd_jump`` (a XANES stack).
    energies : list of float
        The energies used.
    notes : list of str
        What was done.
    config : dict
        The settings used (windows, method, bootstrap draws, seed).
    """

    maps: np.ndarray
    channels: list[str]
    energies: list[float]
    notes: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary (no images), JSON-serialisable, with the median of each channel."""
        medians = {c: (float(np.nanmedian(m)) if np.isfinite(m).any() else None)
                   for c, m in zip(self.channels, self.maps, strict=True)}
        return {"channels": self.channels, "energies_ev": self.energies, "medians": medians, "notes": self.notes,
                "config": self.config}


def _window(energies: np.ndarray, window: tuple[float, float] | None, default: tuple[float, float], name: str
            ) -> np.ndarray:
    lo, hi = window if window is not None else default
    if lo > hi:
        raise InputError(f"{name} window {lo:g}:{hi:g} eV: give LOW:HIGH")
    inside = (energies >= lo - 1e-9) & (energies <= hi + 1e-9)
    if not inside.any():
        raise InputError(f"{name} window {lo:g}:{hi:g} eV holds none of the stack's energies "
                         f"({energies.min():g}-{energies.max():g} eV)")
    return inside


def _vertex(x: np.ndarray, y: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Sub-sample position of a maximum at index ``i`` (per pixel) from a parabola through i-1, i, i+1."""
    n = x.size
    inner = (i > 0) & (i < n - 1)
    i0, i1, i2 = np.clip(i - 1, 0, n - 1), i, np.clip(i + 1, 0, n - 1)
    cols = np.arange(y.shape[1])
    x0, x1, x2 = x[i0], x[i1], x[i2]
    y0, y1, y2 = y[i0, cols], y[i1, cols], y[i2, cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
        a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
        b = (x2**2 * (y0 - y1) + x1**2 * (y2 - y0) + x0**2 * (y1 - y2)) / denom
        top = -b / (2 * a)
    good = inner & (a < 0) & np.isfinite(top)
    return np.where(good, np.clip(top, x0, x2), x1)


def _edge_and_white_line(od: np.ndarray, e: np.ndarray, pre: np.ndarray, post: np.ndarray, search: np.ndarray,
                         method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel (columns of ``od``, shape (E, P)): edge position, white-line position, edge step."""
    design = np.stack([np.ones(int(pre.sum())), e[pre] - e[pre].mean()], axis=1) if pre.sum() > 1 else None
    if design is not None:
        coef = np.linalg.pinv(design) @ od[pre]  # (2, P): offset, slope
        baseline = coef[0][None] + (e - e[pre].mean())[:, None] * coef[1][None]
    else:
        baseline = np.repeat(od[pre].mean(axis=0, keepdims=True), e.size, axis=0)
    above = od - baseline
    step = above[post].mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(step > 0, above / step, np.nan)
    idx = np.flatnonzero(search)
    lo, hi = idx[0], idx[-1]
    part = mu[lo:hi + 1]
    finite = np.isfinite(part).all(axis=0)
    wl_i = lo + np.argmax(np.where(np.isfinite(part), part, -np.inf), axis=0)
    white = np.where(finite, _vertex(e, np.nan_to_num(mu), wl_i), np.nan)
    n_e = e.size
    rows = np.arange(n_e)[:, None]
    if method == "half":
        below = (mu < 0.5) & (rows < wl_i[None]) & (rows >= lo - 1)
        has = below.any(axis=0)
        i = (n_e - 1) - np.argmax(below[::-1], axis=0)  # last index below 0.5 before the white line
        i = np.clip(i, 0, n_e - 2)
        cols = np.arange(mu.shape[1])
        m0, m1 = mu[i, cols], mu[i + 1, cols]
        with np.errstate(divide="ignore", invalid="ignore"):
            edge = e[i] + (0.5 - m0) / (m1 - m0) * (e[i + 1] - e[i])
        edge = np.where(has & finite & (m1 >= 0.5), edge, np.nan)
    else:
        grad = np.gradient(np.nan_to_num(mu), e, axis=0)
        allowed = (rows >= lo) & (rows <= wl_i[None])
        gi = np.argmax(np.where(allowed, grad, -np.inf), axis=0)
        edge = np.where(finite, _vertex(e, grad, gi), np.nan)
    return edge, white, step


def _jump(data: np.ndarray, sd: np.ndarray | None, e: np.ndarray, below_ev: float | None, above_ev: float | None
          ) -> EdgeMaps:
    """Edge jump OD(above) - OD(below) and its sd."""
    notes: list[str] = []
    lo_i = 0 if below_ev is None else int(np.argmin(np.abs(e - below_ev)))
    hi_i = 1 if above_ev is None else int(np.argmin(np.abs(e - above_ev)))
    if lo_i == hi_i:
        raise InputError(f"--below {below_ev:g} and --above {above_ev:g} eV pick the same energy "
                         f"{e[lo_i]:g}; give energies on either side of the edge")
    jump = data[hi_i] - data[lo_i]
    sdj = (np.sqrt(sd[hi_i] ** 2 + sd[lo_i] ** 2) if sd is not None
           else np.full(jump.shape, np.nan))
    if sd is None:
        notes.append("no OD sd given: sd_jump is NaN")
    return EdgeMaps(np.stack([jump, sdj]), ["jump", "sd_jump"], [float(e[lo_i]), float(e[hi_i])], notes,
                    {"kind": "jump", "below_ev": float(e[lo_i]), "above_ev": float(e[hi_i])})


def _bootstrap(od: np.ndarray, sd: np.ndarray, e: np.ndarray, windows: tuple[np.ndarray, ...], method: str,
               draws: int, rng: np.random.Generator) -> np.ndarray:
    """Return the sd of edge, white line and step over ``draws`` draws OD + sd * N(0, 1) (NaN: sd unknown)."""
    found = np.empty((draws, 3, od.shape[1]))
    noise_sd = np.nan_to_num(sd)
    for b in range(draws):
        found[b] = _edge_and_white_line(od + noise_sd * rng.standard_normal(od.shape), e, *windows, method)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanstd on pixels without an edge
        spread = np.nanstd(found, axis=0, ddof=1)
    return np.where(np.isfinite(sd).all(axis=0)[None], spread, np.nan)


def edge_maps(
    od: Stack,
    sd: np.ndarray | None = None,
    *,
    method: Literal["half", "derivative"] = "half",
    pre_edge_ev: tuple[float, float] | None = None,
    post_edge_ev: tuple[float, float] | None = None,
    below_ev: float | None = None,
    above_ev: float | None = None,
    bootstrap: int = 50,
    rng: int | np.random.Generator | None = None,
    chunk_pixels: int = 65536,
) -> EdgeMaps:
    """Edge maps from an optical-density stack: the edge jump (two energies) or edge and white-line positions.

    Parameters
    ----------
    od : Stack
        Optical density ``EYX`` with energies (e.g. from :func:`txm_optical_density`).
    sd : ndarray, optional
        Standard error of each OD value (same shape); drives the sd of every map. Without it the sd channels are
        NaN.
    method : {"half", "derivative"}
        Edge position: where the normalised absorption crosses 0.5 below the white line, or the maximum of its
        derivative.
    pre_edge_ev, post_edge_ev : (float, float), optional
        Normalisation windows (default the lowest and the highest 15 % of the energy range).
    below_ev, above_ev : float, optional
        Make a jump map ``OD(above) - OD(below)`` from the nearest two energies of a longer stack.
    bootstrap : int
        Parametric bootstrap draws for the sd of the edge and white-line positions (OD + sd * N(0, 1)).
    rng : int, Generator or None
        Seed of the bootstrap.
    chunk_pixels : int
        Pixels processed at once (memory).

    Returns
    -------
    EdgeMaps
        Maps ``(C, Y, X)`` with channel names.
    """
    if od.axes != "EYX":
        raise InputError(f"{od.metadata.source or 'od'}: edge maps need an EYX optical-density stack, got axes "
                         f"{od.axes!r}")
    if not od.metadata.energies or len(od.metadata.energies) != od.shape[0]:
        raise InputError(f"{od.metadata.source or 'od'}: the stack records no energies; edge maps need them")
    data = np.asarray(od.to_numpy(), dtype=np.float64)
    e = np.asarray(od.metadata.energies, dtype=float)
    if np.any(np.diff(e) <= 0):
        order = np.argsort(e)
        if np.any(np.diff(e[order]) == 0):
            raise InputError(f"{od.metadata.source or 'od'}: energies repeat ({e.tolist()[:6]}); average repeats first")
        data, e = data[order], e[order]
        sd = None if sd is None else np.asarray(sd)[order]
    if sd is not None and np.shape(sd) != data.shape:
        raise InputError(f"sd of shape {np.shape(sd)} does not fit the OD stack {data.shape}")
    sd_arr = None if sd is None else np.asarray(sd, dtype=np.float64)
    notes: list[str] = []
    if (below_ev is None) != (above_ev is None):
        raise InputError("give both --below and --above (eV) for a jump map, or neither")
    if below_ev is not None or e.size == 2:
        return _jump(data, sd_arr, e, below_ev, above_ev)
    if e.size < 5:
        raise InputError(f"{e.size} energies: give 2 for an edge-jump map, or at least 5 (pre-edge, edge, post-edge) "
                         "for edge positions")
    span = e[-1] - e[0]
    pre = _window(e, pre_edge_ev, (e[0], e[0] + 0.15 * span), "pre-edge")
    post = _window(e, post_edge_ev, (e[-1] - 0.15 * span, e[-1]), "post-edge")
    search = (e > e[pre].max()) & (e < e[post].min())
    if search.sum() < 3:
        raise InputError(f"only {int(search.sum())} energies between the pre-edge window (up to {e[pre].max():g} eV) "
                         f"and the post-edge window (from {e[post].min():g} eV); the edge needs at least 3")
    if method not in ("half", "derivative"):
        raise InputError(f"method {method!r}: use half or derivative")
    n_y, n_x = data.shape[1:]
    flat = data.reshape(e.size, -1)
    flat_sd = None if sd_arr is None else sd_arr.reshape(e.size, -1)
    out = np.full((6, flat.shape[1]), np.nan)
    use_boot = flat_sd is not None and bootstrap > 1 and np.isfinite(flat_sd).any()
    generator = np.random.default_rng(rng)
    seed = int(generator.integers(0, 2**63 - 1))
    for start in range(0, flat.shape[1], chunk_pixels):
        sl = slice(start, start + chunk_pixels)
        edge, white, step = _edge_and_white_line(flat[:, sl], e, pre, post, search, method)
        out[0, sl], out[2, sl], out[4, sl] = edge, white, step
        if use_boot:
            out[[1, 3, 5], sl] = _bootstrap(flat[:, sl], flat_sd[:, sl], e, (pre, post, search), method,  # type: ignore[index]
                                            bootstrap, np.random.default_rng([seed, start]))
    if not use_boot:
        notes.append("no OD sd (or bootstrap < 2): the sd channels are NaN")
    no_edge = int(np.isnan(out[0]).sum())
    if no_edge:
        notes.append(f"{no_edge} pixels without an edge (no positive step, OD masked, or no 0.5 crossing): NaN")
    config = {"kind": "xanes", "method": method, "pre_edge_ev": [float(e[pre].min()), float(e[pre].max())],
              "post_edge_ev": [float(e[post].min()), float(e[post].max())], "bootstrap": bootstrap if use_boot else 0,
              "rng": rng if isinstance(rng, int) else None, "seed": seed}
    channels = ["edge_ev", "sd_edge_ev", "white_line_ev", "sd_white_line_ev", "jump", "sd_jump"]
    return EdgeMaps(out.reshape(6, n_y, n_x), channels, [float(v) for v in e], notes, config)

