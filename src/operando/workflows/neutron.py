"""Operando neutron radiography, end to end: raw counts or transmission -> Delta A (raw and denoised) -> metrics.

``analyze_series`` works on in-memory stacks (used by the benchmark), ``analyze_files`` reads the inputs and
writes ``delta_a_raw.tif``, ``delta_a_denoised.tif``, ``metrics.json`` and the figures; ``normalize_files``
is ``operando neutron normalize``; ``write_phantom`` and ``run_demo`` make and analyse the built-in phantom.
The benchmark lives in :mod:`operando.bench.neutron`.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._errors import InputError
from .._files import Target, check_outputs, write_csv_file, write_json_file
from .._stack import Progress, Stack
from ..neutron import (
    DeltaA,
    Regions,
    Transmission,
    active_area_fraction,
    charge_at,
    coulombic_efficiency,
    depth_profile,
    differential_attenuation,
    dynamic_variability,
    find_layers,
    frame_boundaries,
    half_cycle_changes,
    half_cycles,
    li_cross_section_barn,
    lithium_inventory,
    normalize,
    read_cycler_csv,
    regions_from_dict,
    remove_spots_temporal,
)

logger = logging.getLogger(__name__)

DenoiseTarget = Literal["delta_a", "transmission", "raw"]
Box = tuple[int, int, int, int]


@dataclass
class AnalysisConfig:
    """Settings of one analysis (saved in metrics.json)."""

    reference: int | tuple[int, int] = 0
    denoise: Literal["video", "none"] = "video"
    denoise_target: DenoiseTarget = "transmission"
    polish: Literal["tv", "none"] = "tv"  # TV on the denoised A_ref and Delta A frames (see _polish)
    time_budget_s: float = 120.0
    max_steps: int | None = None  # the denoiser's training steps (None: as many as the budget allows)
    mean_correction: Literal["region", "none"] = "region"  # restore each region's mean from the raw data
    seed: int = 0
    k: float = 3.0
    n_avg: int = 3
    register: bool = True
    drift_region: Box | None = None
    open_regions: tuple[Box, ...] = ()
    half_cycle_frames: tuple[int, ...] | None = None
    li6_fraction: float = 0.0759
    cross_section_barn: float | None = None
    gain: float = 1.0

    def __post_init__(self) -> None:
        """Refuse settings outside their ranges (one line: the setting, the value seen, what to give)."""
        def positive(name: str, value: float | None) -> None:
            if value is not None and not (np.isfinite(value) and value > 0):
                raise InputError(f"{name} = {value!r}: must be a number greater than 0")

        ref = self.reference
        if isinstance(ref, tuple):
            if len(ref) != 2 or not 0 <= int(ref[0]) < int(ref[1]):
                raise InputError(f"reference = {ref!r}: give a frame N >= 0 or a range (start, stop) with "
                                 "0 <= start < stop")
        elif int(ref) < 0:
            raise InputError(f"reference = {ref!r}: give a frame N >= 0 or a range (start, stop)")
        if self.denoise not in ("video", "none"):
            raise InputError(f"denoise={self.denoise!r}: the neutron workflow denoises with 'video' (the paper's "
                             "way) or not at all ('none')")
        if self.denoise_target not in ("delta_a", "transmission", "raw"):
            raise InputError(f"denoise_target={self.denoise_target!r}: choose delta_a, transmission or raw")
        if self.polish not in ("tv", "none"):
            raise InputError(f"polish={self.polish!r}: choose tv or none")
        positive("time_budget_s", self.time_budget_s)
        if self.max_steps is not None and (isinstance(self.max_steps, bool) or int(self.max_steps) != self.max_steps
                                           or self.max_steps < 1):
            raise InputError(f"max_steps = {self.max_steps!r}: give a whole number of training steps >= 1")
        if self.mean_correction not in ("region", "none"):
            raise InputError(f"mean_correction={self.mean_correction!r}: choose region or none")
        positive("k", self.k)
        positive("gain", self.gain)
        positive("cross_section_barn", self.cross_section_barn)
        if int(self.seed) < 0:
            raise InputError(f"seed = {self.seed}: give a seed >= 0")
        if int(self.n_avg) < 1:
            raise InputError(f"n_avg = {self.n_avg}: average at least 1 frame at each half-cycle boundary")
        if not (np.isfinite(self.li6_fraction) and 0 <= self.li6_fraction <= 1):
            raise InputError(f"li6_fraction = {self.li6_fraction!r}: the 6Li atom fraction lies in 0..1 "
                             "(natural 0.0759)")
        frames = self.half_cycle_frames
        if frames is not None and (len(frames) < 2 or int(frames[0]) < 0
                                   or any(int(b) <= int(a) for a, b in zip(frames, frames[1:], strict=False))):
            raise InputError(f"half_cycle_frames = {tuple(frames)!r}: give at least two increasing frame numbers "
                             ">= 0, e.g. (3, 35, 67)")
        for box in (*self.open_regions, *((self.drift_region,) if self.drift_region is not None else ())):
            if len(box) != 4:
                raise InputError(f"region {box!r} is not (y0, y1, x0, x1); give row and column ranges, end "
                                 "exclusive")

    def as_dict(self) -> dict[str, Any]:
        """Return the configuration as JSON-serialisable values."""
        out = dict(self.__dict__)
        out["reference"] = list(self.reference) if isinstance(self.reference, tuple) else self.reference
        out["open_regions"] = [list(b) for b in self.open_regions]
        return out


@dataclass
class Analysis:
    """What an analysis produced, in memory."""

    delta_raw: DeltaA
    delta_denoised: np.ndarray | None
    regions: Regions
    boundaries: list[int]
    metrics: dict[str, Any]
    found_layers: dict[str, Any] | None = None
    cycler_rows: list[dict[str, float]] = field(default_factory=list)
    transmission: Transmission | None = None


def _denoise(data: np.ndarray, config: AnalysisConfig, progress: Progress | None) -> np.ndarray:
    """Run the video denoiser through the public API on a (T, Y, X) float array (NaN filled, then restored)."""
    from ..denoise import denoise

    bad = ~np.isfinite(data)
    fill = float(np.nanmedian(data)) if bad.any() else 0.0
    filled = np.where(bad, fill, data).astype(np.float32)
    train = None
    if config.max_steps is not None:
        from ..denoise import TrainConfig

        train = TrainConfig(method="video", max_steps=int(config.max_steps), time_budget_s=config.time_budget_s)
    out = denoise(Stack(filled, axes="TYX"), method="video", time_budget_s=config.time_budget_s, config=train,
                  rng=config.seed, progress=progress)
    result = np.asarray(out.to_numpy(), np.float32)
    result[bad] = np.nan
    return result


def _denoised_delta(sample: Stack | None, open_beam: Stack | None, dark: Stack | None, tr: Transmission | Stack,
                    delta: DeltaA, config: AnalysisConfig, progress: Progress | None) -> np.ndarray:
    """Return denoised Delta A, denoising Delta A itself, the transmission, or the raw counts."""
    if config.denoise_target == "delta_a":
        return _denoise(delta.stack.to_numpy(), config, progress)
    if config.denoise_target == "transmission":
        t_stack = tr.stack if isinstance(tr, Transmission) else tr
        clean_t = _denoise(t_stack.to_numpy(), config, progress)
        stack = Stack(clean_t, axes="TYX", metadata=t_stack.metadata)
    else:
        if sample is None or open_beam is None or dark is None:
            raise InputError("denoise_target='raw' needs the raw sample, open beam and dark; give them or denoise "
                             "'delta_a'")
        cleaned = remove_spots_temporal(sample.to_numpy()).data
        counts = _denoise(cleaned, config, progress)
        raw = Stack(counts, axes="TYX", metadata=sample.metadata)
        stack = normalize(raw, open_beam, dark, open_regions=config.open_regions, spots="none",
                          gain=config.gain).stack
    again = differential_attenuation(stack, reference=config.reference, register=config.register,
                                     drift_region=config.drift_region)
    return _polish(again, config, delta.info)


def _polish(denoised: DeltaA, config: AnalysisConfig, info: dict[str, Any]) -> np.ndarray:
    """Return the denoised Delta A with its reference image and then each frame smoothed by total variation.

    1. A_ref (the mean of the denoised reference frames) is subtracted from every frame, so the noise it keeps
       is a static pattern in all of Delta A, which a video denoiser cannot remove: the reference frames are
       predicted from each other, and their mean kept most of their own noise (on the phantom, a static error of
       rms 0.0061 against 0.0043 for everything else). ``Delta A(t) <- Delta A(t) + A_ref - TV_w(A_ref)``.
    2. Each frame then gets ``TV_w(Delta A(t))``: what the network left is spatially rough noise.

    ``w`` is each image's residual noise sd (scikit-image's wavelet MAD estimate). J-invariant calibration does
    not apply here: the residual noise of a denoised image is not independent between pixels.
    """
    data = denoised.stack.to_numpy()
    ref = denoised.reference_image
    if config.polish == "none" or ref is None:
        return data
    from skimage.restoration import denoise_tv_chambolle, estimate_sigma

    def tv(image: np.ndarray) -> tuple[np.ndarray, float]:
        bad = ~np.isfinite(image)
        filled = np.where(bad, float(np.nanmedian(image)) if (~bad).any() else 0.0, image).astype(np.float64)
        weight = float(estimate_sigma(filled))
        out = denoise_tv_chambolle(filled, weight=weight) if weight > 0 else filled
        out[bad] = np.nan
        return out, weight

    smooth_ref, w_ref = tv(ref)
    shifted = data + (ref - smooth_ref)[None]
    frames, weights = zip(*(tv(frame) for frame in shifted), strict=True)
    info["polish"] = {"method": "tv, weight = residual noise sd (wavelet MAD)", "reference_weight": w_ref,
                      "frame_weight_median": float(np.median(weights)), "frame_weight_max": float(np.max(weights))}
    return np.stack(frames).astype(np.float32)


#: Low-pass of the mean correction: Gaussian sigma in pixels (in-plane) and in frames.
MEAN_CORRECTION_SIGMA = (2.0, 4.0)


def restore_region_means(denoised: np.ndarray, raw: np.ndarray, regions: Regions, *,
                         sigma: tuple[float, float] = MEAN_CORRECTION_SIGMA) -> tuple[np.ndarray, dict[str, Any]]:
    """Return denoised Delta A with the low-pass of ``raw - denoised`` added back within each region.

    A denoiser trained on noisy data may move a region's mean (on the phantom family it pulls the electrodes'
    Delta A toward the rest of the image); the raw data's mean is unbiased. The residual ``raw - denoised`` is
    mostly noise plus that slow, smooth error: its low-pass (a Gaussian of ``sigma = (frames, pixels)``,
    normalised within each layer region: electrodes, separator, collectors, so no region borrows another's) is
    added back, and then each region's per-frame mean is set to the raw data's, smoothed over frames with the
    same sigma. The detail (the high-pass) stays the denoiser's; what is added is smooth (an rms of about
    ``sd / sqrt(volume of the kernel)``). A region's correction covers it and a 1 px rim around it; other pixels
    get the low-pass over all pixels.

    Parameters
    ----------
    denoised, raw : ndarray, shape (T, Y, X)
        Denoised and raw Delta A (NaN where masked).
    regions : Regions
        The regions (kinds electrode, separator and collector are corrected on their own).
    sigma : (float, float)
        Gaussian sigma in frames and in pixels.

    Returns
    -------
    corrected : ndarray, float32
        The denoised Delta A with the raw data's low-pass restored.
    info : dict
        Per region: the largest and the rms correction of the region's mean.
    """
    from scipy import ndimage

    st, ss = sigma
    res = raw.astype(np.float64) - denoised
    finite = np.isfinite(res)
    res0 = np.where(finite, res, 0.0)

    def lowpass(weight: np.ndarray) -> np.ndarray:
        w = (weight & finite).astype(np.float64)
        num = ndimage.gaussian_filter(res0 * w, (st, ss, ss), mode="nearest")
        den = ndimage.gaussian_filter(w, (st, ss, ss), mode="nearest")
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 1e-6, num / den, 0.0)

    out = denoised.astype(np.float64) + lowpass(np.ones(res.shape, bool))
    info: dict[str, Any] = {"sigma_frames": st, "sigma_px": ss}
    layers = [*regions.of_kind("electrode"), *regions.of_kind("separator"), *regions.of_kind("collector")]
    taken = np.zeros(res.shape[1:], bool)
    for region in layers:
        mask = np.broadcast_to(region.mask, res.shape)
        if not (mask & finite).any():
            continue
        # the region's correction also covers a 1 px rim (not another region's), so no 3 x 3 window of its
        # pixels straddles a step between two corrections
        others = np.any([r.mask for r in layers if r is not region], axis=0) if len(layers) > 1 else taken
        rim = ndimage.binary_dilation(region.mask) & ~others & ~taken
        taken |= rim
        part = denoised + lowpass(mask)
        cnt = (mask & finite).sum(axis=(1, 2))
        left = np.where(cnt > 0, np.where(mask & finite, raw - part, 0.0).sum(axis=(1, 2)) / np.maximum(cnt, 1), 0.0)
        wt = (cnt > 0).astype(np.float64)
        smooth = ndimage.gaussian_filter1d(left * wt, st, mode="nearest") / np.maximum(
            ndimage.gaussian_filter1d(wt, st, mode="nearest"), 1e-6)
        part = part + smooth[:, None, None]
        grown = np.broadcast_to(rim, res.shape)
        out[grown] = part[grown]
        shift = np.array([np.nanmean(f[m]) if m.any() else 0.0
                          for f, m in zip(part - denoised, mask & finite, strict=True)])
        info[region.name] = {"mean_shift_max_abs": float(np.max(np.abs(shift))),
                             "mean_shift_rms": float(np.sqrt(np.mean(shift**2)))}
    out[~np.isfinite(denoised)] = np.nan
    return out.astype(np.float32), info


def _electrode_masks(regions: Regions) -> dict[str, np.ndarray]:
    """Return the masks of the electrodes (refusing a region set without one)."""
    masks = {r.name: r.mask for r in regions.of_kind("electrode")}
    if not masks:
        raise InputError("no region of kind 'electrode'; give regions.json with the electrodes or let the layers "
                         "be found from the image")
    return masks


def _variability(data: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, Any]:
    """Return the dynamic variability over all electrodes pooled and per electrode."""
    pooled = np.any(np.stack(list(masks.values())), axis=0)
    out: dict[str, Any] = {"electrodes": dynamic_variability(data, mask=pooled).value}
    out.update({name: dynamic_variability(data, mask=m).value for name, m in masks.items()})
    return out


def _profiles(data: np.ndarray, regions: Regions, masks: dict[str, np.ndarray], boundaries: list[int]
              ) -> dict[str, Any]:
    """Return depth profiles (mean and in-plane sd) of each electrode at the half-cycle boundaries."""
    out = {}
    for name, mask in masks.items():
        prof = depth_profile(data, mask, depth_axis=regions.depth_axis, separator_first=regions.separator_first(name))
        out[name] = {"frames": boundaries, "depth_px": prof.depth_px.tolist(),
                     "mean": prof.mean[boundaries].tolist(), "sd": prof.sd[boundaries].tolist()}
    return out


def _boundaries(config: AnalysisConfig, n_frames: int, frame_times: Sequence[float] | None,
                cycler: Any | None) -> tuple[list[int], list[dict[str, float]], list[str]]:
    """Return half-cycle boundary frames, the cycler's per-cycle rows and the half-cycle kinds."""
    if cycler is not None:
        if frame_times is None:
            raise InputError("aligning with the cycler needs frame times; the input records none (pass "
                             "--frame-interval)")
        segments = half_cycles(cycler)
        try:
            bounds = frame_boundaries(frame_times, segments)
        except InputError as exc:
            columns = ", ".join(c for c in cycler.columns if c) + ("" if cycler.columns[2] else "; no voltage column")
            raise InputError(f"{exc} (cycler columns used: {columns}; cycler record {cycler.time_s[0]:.0f}-"
                             f"{cycler.time_s[-1]:.0f} s with {len(segments)} charge/discharge segment(s), frames "
                             f"{frame_times[0]:.0f}-{frame_times[-1]:.0f} s)") from None
        return bounds, coulombic_efficiency(segments), [s.kind for s in segments]
    if config.half_cycle_frames:
        bounds = [int(b) for b in config.half_cycle_frames]
    else:
        bounds = [max(config.reference) - 1 if isinstance(config.reference, tuple) else config.reference,
                  n_frames - 1]
    return bounds, [], ["charge" if i % 2 == 0 else "discharge" for i in range(len(bounds) - 1)]


def _image_coulombic(inventory: list[float], boundaries: list[int], kinds: list[str]) -> list[dict[str, float]]:
    """Return the image-based coulombic efficiency: anode Delta A lost on discharge / gained on charge."""
    rows = []
    steps = [inventory[b1] - inventory[b0] for b0, b1 in zip(boundaries, boundaries[1:], strict=False)]
    for h in range(len(steps) - 1):
        if kinds[h] == "charge" and kinds[h + 1] == "discharge" and steps[h] != 0:
            rows.append({"cycle": len(rows) + 1, "gained": steps[h], "lost": -steps[h + 1],
                         "image_coulombic_efficiency": -steps[h + 1] / steps[h]})
    return rows


def _inventory_mask(name: str, masks: dict[str, np.ndarray], grow_px: int = 3) -> np.ndarray:
    """Return an electrode's mask grown by ``grow_px`` (its partial-volume edges hold lithium), kept off the others."""
    from scipy import ndimage

    others = np.any(np.stack([m for n, m in masks.items() if n != name] or [np.zeros_like(masks[name])]), axis=0)
    grown_others = ndimage.binary_dilation(others, iterations=grow_px) if others.any() else others
    return ndimage.binary_dilation(masks[name], iterations=grow_px) & ~grown_others


def _metrics(data: np.ndarray, delta: DeltaA, regions: Regions, boundaries: list[int], kinds: list[str],
             config: AnalysisConfig, pixel_size_um: float | None) -> dict[str, Any]:
    """Return every metric of one Delta A series (raw or denoised)."""
    masks = _electrode_masks(regions)
    change, sd = half_cycle_changes(data, delta.var_a, boundaries, n_avg=config.n_avg)
    sigma = config.cross_section_barn or li_cross_section_barn(config.li6_fraction)
    inventory = {name: lithium_inventory(data, _inventory_mask(name, masks), pixel_size_um=pixel_size_um,
                                         cross_section_barn=sigma) for name in masks}
    first = next(iter(masks))
    return {
        "dynamic_variability": _variability(data, masks),
        "active_area_fraction": active_area_fraction(change, config.k * sd, masks),
        "depth_profiles": _profiles(data, regions, masks, boundaries),
        "lithium_inventory": inventory,
        "image_coulombic_efficiency": _image_coulombic(inventory[first]["integrated_delta_a_px"], boundaries, kinds),
    }


def analyze_series(
    source: Transmission | Stack,
    *,
    config: AnalysisConfig,
    regions: Regions | None = None,
    cycler: Any | None = None,
    raw: tuple[Stack, Stack, Stack] | None = None,
    progress: Progress | None = None,
) -> Analysis:
    """Compute Delta A (raw and denoised) and the paper's metrics from a normalised series.

    Parameters
    ----------
    source : Transmission or Stack
        From :func:`operando.neutron.normalize` (noise propagated from counts) or a ``TYX`` transmission stack
        (noise estimated from the data).
    config : AnalysisConfig
        Settings.
    regions : Regions, optional
        Electrodes, separator, ...; found from the reference attenuation image when omitted.
    cycler : CyclerData, optional
        Cycler record on the frames' clock: half-cycles, capacities and coulombic efficiency.
    raw : (sample, open_beam, dark), optional
        The raw stacks, needed only for ``denoise_target="raw"``.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    Analysis
        Delta A, regions, boundaries and metrics (``metrics["raw"]``, ``metrics["denoised"]``).
    """
    config.__post_init__()  # a config changed after it was made is checked again
    _check_transmission(source)
    started = time.perf_counter()
    delta = differential_attenuation(source, reference=config.reference, register=config.register,
                                     drift_region=config.drift_region)
    data = delta.stack.to_numpy()
    found = None
    if regions is None:
        stack = source.stack if isinstance(source, Transmission) else source
        with np.errstate(divide="ignore", invalid="ignore"):
            a_ref = -np.log(np.nanmean(stack.to_numpy()[list(delta.reference)], axis=0))
        regions, found = find_layers(a_ref)
    meta = delta.stack.metadata
    bounds, cycler_rows, kinds = _boundaries(config, len(data), meta.frame_times, cycler)
    pixel_size = meta.pixel_size if (meta.pixel_unit or "um") == "um" else None
    metrics: dict[str, Any] = {"raw": _metrics(data, delta, regions, bounds, kinds, config, pixel_size)}
    denoised = None
    if config.denoise == "video":
        tr = source
        if not isinstance(source, Transmission) and config.denoise_target == "raw":
            raise InputError("denoise_target='raw' needs the counts normalised here (sample, open beam and dark), "
                             "not a transmission file; use denoise_target='transmission'")
        sample, ob, dc = raw if raw is not None else (None, None, None)
        denoised = _denoised_delta(sample, ob, dc, tr, delta, config, progress)  # type: ignore[arg-type]
        if config.mean_correction == "region":
            denoised, delta.info["mean_correction"] = restore_region_means(denoised, data, regions)
        metrics["denoised"] = _metrics(denoised, delta, regions, bounds, kinds, config, pixel_size)
    metrics["cycler"] = _cycler_summary(cycler, cycler_rows, meta.frame_times)
    metrics["half_cycles"] = {"boundaries": bounds, "kinds": kinds[: len(bounds) - 1]}
    metrics["delta_a"] = delta.info | {"mean_propagated_sd": float(np.nanmean(delta.sd))}
    metrics["seconds"] = time.perf_counter() - started
    return Analysis(delta, denoised, regions, bounds, metrics, found, cycler_rows,
                    source if isinstance(source, Transmission) else None)


def _check_transmission(source: Transmission | Stack) -> None:
    """Refuse a transmission where ``A = -ln T`` is undefined everywhere or in a whole frame, else note the masked.

    Voxels where T is not positive or not finite are NaN in Delta A; their count is a warning (a note) unless
    :func:`operando.neutron.normalize` has already reported them.
    """
    stack = source.stack if isinstance(source, Transmission) else source
    if stack.axes != "TYX":
        raise InputError(f"need a TYX transmission series for Delta A, got axes {stack.axes!r}; give the frames of "
                         "one field of view")
    data = np.asarray(stack.to_numpy())
    if data.size == 0:
        raise InputError(f"the transmission series is empty (shape {data.shape}); give a series with frames")
    usable = np.isfinite(data) & (data > 0)
    if not usable.any():
        finite = np.isfinite(data)
        what = "holds no finite value (all NaN or inf)" if not finite.any() else \
            f"is nowhere positive (median {float(np.median(data[finite])):.3g})"
        raise InputError(f"the transmission {what}, so -ln T is undefined everywhere; give the transmission written "
                         "by 'operando neutron normalize', or raw counts with --open-beam and --dark")
    empty = [t for t, u in enumerate(usable) if not u.any()]
    if empty:
        raise InputError(f"frame {empty[0]} of the transmission has no positive finite value ({len(empty)} such "
                         "frame(s)), so -ln T is undefined there; remove those frames")
    masked = int(data.size - usable.sum())
    fresh = isinstance(source, Transmission) and "var_a_from" not in source.info  # normalised in this run
    known = int(np.count_nonzero(source.bad)) if fresh else 0  # type: ignore[union-attr]
    if masked and masked != known:  # normalize() has already said how many pixels it masked
        warnings.warn(f"{masked} of {data.size} transmission voxel(s) are not positive or not finite: Delta A is NaN "
                      "(masked) there", UserWarning, stacklevel=3)


def _cycler_summary(cycler: Any | None, rows: list[dict[str, float]], frame_times: Sequence[float] | None
                    ) -> dict[str, Any] | None:
    """Return the cycler's per-cycle and per-half-cycle capacities and the net charge at each frame."""
    if cycler is None:
        return None
    return {"cycles": rows, "columns": list(cycler.columns),
            "half_cycle_ah": [seg.charge_ah for seg in half_cycles(cycler)],
            "charge_at_frames_ah": charge_at(cycler, frame_times).tolist() if frame_times else None}


FARADAY_C_PER_MOL = 96485.33212


def inventory_vs_cycler(metrics: dict[str, Any], boundaries: list[int], electrode: str) -> list[dict[str, float]]:
    """Compare the lithium each half-cycle moved in an electrode (image, as Ah) with the cycler's charge.

    Parameters
    ----------
    metrics : dict
        ``analysis.metrics`` (needs ``lithium_inventory`` in moles and the cycler summary).
    boundaries : list of int
        Half-cycle boundary frames.
    electrode : str
        Electrode whose inventory is compared.

    Returns
    -------
    list of dict
        Per half-cycle: ``image_ah`` (|change of moles| x F / 3600), ``cycler_ah`` and their ratio.
    """
    cyc = metrics.get("cycler")
    moles = metrics["lithium_inventory"][electrode]["moles"]
    if not cyc or moles is None:
        return []
    rows = []
    for h, (b0, b1) in enumerate(zip(boundaries, boundaries[1:], strict=False)):
        image_ah = abs(moles[b1] - moles[b0]) * FARADAY_C_PER_MOL / 3600.0
        cycler_ah = cyc["half_cycle_ah"][h] if h < len(cyc["half_cycle_ah"]) else float("nan")
        rows.append({"half_cycle": h + 1, "image_ah": image_ah, "cycler_ah": cycler_ah,
                     "ratio": image_ah / cycler_ah if cycler_ah else float("nan")})
    return rows


# ----------------------------------------------------------------------------------------------------- files


def load_regions(path: str | os.PathLike, shape: tuple[int, int]) -> Regions:
    """Read regions.json (boxes, or labels of a label image named by its ``"labels"`` key, relative to it).

    Parameters
    ----------
    path : str or path
        The JSON file.
    shape : (Y, X)
        Image shape.

    Returns
    -------
    Regions
        The regions.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such regions file; check the path")
    try:
        spec = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{file}: not valid JSON ({exc})") from None
    labels = None
    if spec.get("labels"):
        from ..io import read

        labels = read(file.parent / spec["labels"]).to_numpy()
    return regions_from_dict(spec, shape, labels=labels)


def read_images(source: str | os.PathLike | Sequence[str | os.PathLike], *, allow_gaps: bool = False) -> Stack:
    """Read a sample series or an open-beam/dark set (file, folder, glob or list) as a ``TYX`` stack.

    Parameters
    ----------
    source : str, path or list
        What :func:`operando.io.read_sequence` accepts.
    allow_gaps : bool
        Accept holes in a numbered series.

    Returns
    -------
    Stack
        The frames with exposure and timestamps.
    """
    from ..io import read_sequence

    return read_sequence(source, allow_gaps=allow_gaps)


def _as_yx_or_tyx(stack: Stack) -> Stack:
    """Return a one-frame series as ``YX`` (a single radiograph), else the ``TYX`` series."""
    if stack.axes == "TYX" and stack.shape[0] == 1:
        return Stack(stack.to_numpy()[0], axes="YX", metadata=stack.metadata)
    return stack


def normalize_files(
    samples: str | os.PathLike | Sequence[str | os.PathLike],
    open_beam: str | os.PathLike | Sequence[str | os.PathLike],
    dark: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    open_regions: Sequence[Box] = (),
    spots: Literal["auto", "temporal", "spatial", "none"] = "auto",
    k: float = 5.0,
    gain: float = 1.0,
    exposure_ratio: float | None = None,
    allow_gaps: bool = False,
) -> tuple[Path, Transmission]:
    """Normalise raw radiographs and write float32 transmission (``TYX`` or ``YX``) with its metadata.

    Beside ``output`` (``T.tif``) it writes ``T_var_a.tif``: the variance of each frame's ``A = -ln T`` from
    its own counts, which ``operando neutron analyze T.tif`` uses to propagate the noise.

    Parameters
    ----------
    samples, open_beam, dark : str, path or list
        Files, folders or globs.
    output : str or path
        Transmission file (``.tif``, ``.h5``, ``.zarr``, ``.npy``).
    open_regions : sequence of (y0, y1, x0, x1)
        Air regions for the beam-fluctuation correction.
    spots, k, gain, exposure_ratio :
        See :func:`operando.neutron.normalize`.
    allow_gaps : bool
        Accept holes in numbered series.

    Returns
    -------
    path : Path
        The file written.
    transmission : Transmission
        The result.
    """
    from ..io import write

    listed = [x for group in (samples, open_beam, dark)
              for x in (group if isinstance(group, (list, tuple)) else [group])]
    check_outputs(transmission_targets(output, "output"), listed)
    sample = _as_yx_or_tyx(read_images(samples, allow_gaps=allow_gaps))
    ob = read_images(open_beam, allow_gaps=allow_gaps)
    dc = read_images(dark, allow_gaps=allow_gaps)
    inputs = [*sample.metadata.extra.get("files", []), *ob.metadata.extra.get("files", []),
              *dc.metadata.extra.get("files", [])]
    check_outputs(transmission_targets(output, "output"), inputs)
    tr = normalize(sample, ob, dc, open_regions=open_regions, spots=spots, k=k, gain=gain,
                   exposure_ratio=exposure_ratio)
    path = write(tr.stack, output, dtype="float32")
    var_stack = Stack(tr.var_sample if sample.axes == "TYX" else tr.var_sample[0], axes=sample.axes)
    write(var_stack, _sidecar(output), dtype="float32")
    return path, tr


def transmission_targets(output: str | os.PathLike, option: str = "-o") -> list[Target]:
    """Describe what ``normalize_files`` writes for the output guard: the transmission and its ``_var_a`` file.

    Parameters
    ----------
    output : str or path
        The transmission file (a ``.zarr`` is a store, replaced as a whole).
    option : str
        The option naming it, for messages.

    Returns
    -------
    list of Target
        The transmission and the variance file beside it.
    """
    kind = "store" if os.fspath(output).lower().rstrip("/").endswith(".zarr") else "file"
    return [Target(Path(output), option, kind=kind), Target(_sidecar(output), f"{option} (its _var_a file)",
                                                            kind=kind)]


def _sidecar(path: str | os.PathLike) -> Path:
    """Return the variance file written beside a transmission file (``T.tif`` -> ``T_var_a.tif``)."""
    p = Path(path)
    name = p.name
    for suffix in (".ome.tif", ".ome.tiff", ".tif", ".tiff", ".h5", ".zarr", ".npy"):
        if name.lower().endswith(suffix):
            return p.with_name(name[: -len(suffix)] + "_var_a" + suffix)
    return p.with_name(name + "_var_a")


def _read_transmission(path: str | os.PathLike) -> Transmission | Stack:
    """Read a transmission series, with the counting noise from its ``_var_a`` file when present."""
    from ..io import read

    stack = read(path, allow_nan=True)
    if stack.dtype.kind in "ui":
        raise InputError(f"{path}: integer data ({stack.dtype}) looks like raw counts; pass --open-beam and --dark "
                         "to normalise it, or give the transmission written by 'operando neutron normalize'")
    if stack.axes != "TYX":
        raise InputError(f"{path}: need a TYX series for Delta A, got axes {stack.axes!r}")
    stack = Stack(stack.to_numpy().astype(np.float32), axes="TYX", metadata=stack.metadata)
    side = _sidecar(path)
    if not side.exists():
        return stack
    var = read(side, allow_nan=True).to_numpy().astype(np.float32)
    if var.shape != stack.shape:
        raise InputError(f"{side}: shape {var.shape} differs from the transmission's {stack.shape}; remove it")
    data = stack.to_numpy()
    return Transmission(stack, var, np.zeros(stack.shape[1:], np.float32), ~(data > 0),
                        np.ones(len(data)), (0,) * len(data), {"var_a_from": str(side)})


def _with_frame_times(stack: Stack, frame_interval_s: float | None) -> Stack:
    """Return the stack with frame times from ``frame_interval_s`` when given (or when it has none)."""
    meta = stack.metadata
    if frame_interval_s is not None:
        meta = meta.replace(frame_times=tuple(float(i * frame_interval_s) for i in range(stack.shape[0])))
    return Stack(stack.data, axes=stack.axes, metadata=meta)


def _load_source(input_path: str | os.PathLike, open_beam: Any, dark: Any, config: AnalysisConfig,
                 frame_interval_s: float | None) -> tuple[Transmission | Stack, tuple[Stack, Stack, Stack] | None]:
    """Return the normalised series (and the raw stacks) from raw counts + open beam + dark, or a T file."""
    if (open_beam is None) != (dark is None):
        raise InputError("give both --open-beam and --dark (raw counts), or neither (a transmission file)")
    if open_beam is None:
        source = _read_transmission(input_path)
        if isinstance(source, Transmission):
            return Transmission(_with_frame_times(source.stack, frame_interval_s), source.var_sample,
                                source.var_open, source.bad, source.beam_factors, source.spot_counts,
                                source.info), None
        return _with_frame_times(source, frame_interval_s), None
    sample = _with_frame_times(read_images(input_path), frame_interval_s)
    ob, dc = read_images(open_beam), read_images(dark)
    tr = normalize(sample, ob, dc, open_regions=config.open_regions, gain=config.gain)
    return tr, (sample, ob, dc)


def _split(raw: dict[str, Any], denoised: dict[str, Any] | None, key: str) -> dict[str, Any]:
    """Return ``{region: {"raw": ..., "denoised": ...}}`` for one metric."""
    return {name: {"raw": value, "denoised": denoised[key][name] if denoised else None}
            for name, value in raw[key].items()}


def metrics_document(analysis: Analysis, config: AnalysisConfig, *, input_path: str = "") -> dict[str, Any]:
    """Return metrics.json: variability raw/denoised, active area per half-cycle, profiles, configuration.

    Parameters
    ----------
    analysis : Analysis
        From :func:`analyze_series`.
    config : AnalysisConfig
        Its settings.
    input_path : str
        What was analysed.

    Returns
    -------
    dict
        The document.
    """
    raw, den = analysis.metrics["raw"], analysis.metrics.get("denoised")
    var_raw, var_den = raw["dynamic_variability"], den["dynamic_variability"] if den else None
    electrodes = [r.name for r in analysis.regions.of_kind("electrode")]
    return {
        "input": input_path,
        "dynamic_variability": {"raw": var_raw["electrodes"], "denoised": var_den["electrodes"] if var_den else None,
                                "window": [3, 3, 3], "mask": f"electrodes pooled ({', '.join(electrodes)})",
                                "per_region": {n: {"raw": var_raw[n], "denoised": var_den[n] if var_den else None}
                                               for n in electrodes}},
        "active_area_fraction": {**_split(raw, den, "active_area_fraction"), "k": config.k,
                                 "frames_averaged_at_each_boundary": config.n_avg,
                                 "rule": "|change of Delta A over the half-cycle| > k x propagated sd of the raw "
                                         "change (same threshold for raw and denoised)"},
        "depth_profiles": _split(raw, den, "depth_profiles"),
        "lithium_inventory": _split(raw, den, "lithium_inventory"),
        "coulombic_efficiency": {
            "cycler": analysis.metrics["cycler"]["cycles"] if analysis.metrics["cycler"] else None,
            "image_raw": raw["image_coulombic_efficiency"],
            "image_denoised": den["image_coulombic_efficiency"] if den else None},
        "inventory_vs_cycler": {key: inventory_vs_cycler({**block, "cycler": analysis.metrics["cycler"]},
                                                         analysis.boundaries, electrodes[0])
                                for key, block in (("raw", raw), ("denoised", den)) if block},
        "half_cycles": analysis.metrics["half_cycles"],
        "delta_a": analysis.metrics["delta_a"],
        "normalization": analysis.transmission.info if analysis.transmission is not None else None,
        "regions": analysis.regions.to_dict(),
        "found_layers": analysis.found_layers,
        "denoised": None if config.denoise == "none" else {"method": "video", "what": config.denoise_target,
                                                           "time_budget_s": config.time_budget_s},
        "configuration": config.as_dict(),
        "seed": config.seed,
        "seconds": analysis.metrics["seconds"],
    }


def analyze_files(
    input_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    config: AnalysisConfig,
    open_beam: Any = None,
    dark: Any = None,
    regions: str | os.PathLike | None = None,
    cycler: str | os.PathLike | None = None,
    frame_interval_s: float | None = None,
    progress: Progress | None = None,
) -> tuple[Analysis, dict[str, Any]]:
    """Run ``operando neutron analyze``: Delta A raw and denoised, metrics.json and the figures in a folder.

    Parameters
    ----------
    input_path : str or path
        A transmission series (from ``operando neutron normalize``) or raw counts (with ``open_beam`` and
        ``dark``): a file, folder or glob.
    output_dir : str or path
        Folder for ``delta_a_raw.tif``, ``delta_a_denoised.tif``, ``delta_a_sd.tif``, ``metrics.json`` and the
        PNG figures.
    config : AnalysisConfig
        Settings.
    open_beam, dark : str, path or list, optional
        Open-beam and dark sets for raw input.
    regions : str or path, optional
        regions.json (found from the attenuation image when omitted).
    cycler : str or path, optional
        Cycler CSV on the frames' clock.
    frame_interval_s : float, optional
        Frame interval, when the files record no times.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    analysis : Analysis
        In-memory results.
    document : dict
        metrics.json's content.
    """
    from ..io import write
    from .neutron_figures import draw_all

    out = Path(output_dir)
    listed = [x for group in (input_path, open_beam, dark, regions, cycler)
              for x in (group if isinstance(group, (list, tuple)) else [group]) if x is not None]
    check_outputs([Target(out, "output folder", kind="folder")], listed)
    if regions and not config.open_regions:  # the open boxes of regions.json correct the beam of raw input
        try:
            spec = json.loads(Path(regions).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            spec = {}  # load_regions below says what is wrong
        config.open_regions = tuple(tuple(int(v) for v in b) for r in spec.get("regions", {}).values()
                                    if r.get("kind") == "open" for b in (r.get("boxes") or [r.get("box")]) if b)
    source, raw = _load_source(input_path, open_beam, dark, config, frame_interval_s)
    shape = (source.stack if isinstance(source, Transmission) else source).shape[1:]
    region_set = load_regions(regions, shape) if regions else None
    cycler_data = read_cycler_csv(cycler) if cycler else None
    analysis = analyze_series(source, config=config, regions=region_set, cycler=cycler_data, raw=raw,
                              progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    meta = analysis.delta_raw.stack.metadata
    write(analysis.delta_raw.stack, out / "delta_a_raw.tif", dtype="float32")
    write(Stack(analysis.delta_raw.sd, axes="TYX", metadata=meta), out / "delta_a_sd.tif", dtype="float32")
    if analysis.delta_denoised is not None:
        write(Stack(analysis.delta_denoised, axes="TYX", metadata=meta), out / "delta_a_denoised.tif",
              dtype="float32")
    document = metrics_document(analysis, config, input_path=os.fspath(input_path))
    document["figures"] = [p.name for p in draw_all(analysis, out)]
    write_json_file(out / "metrics.json", document)
    if analysis.cycler_rows:
        write_csv_file(out / "cycles.csv", analysis.cycler_rows)
    return analysis, document


# --------------------------------------------------------------------------------------------- phantom, demo


def write_phantom(output_dir: str | os.PathLike, *, rng: int | None = 0, **changes: Any) -> dict[str, Path]:
    """Simulate the built-in phantom and write it as a user's run would look, with its truth.

    Writes ``sample.tif`` (uint16 ``TYX``), ``open_beam.tif``, ``dark.tif``, ``regions.json``, ``cycler.csv``,
    ``truth/delta_a_true.tif`` and ``truth/truth.json`` (half-cycle frames, reference, drift, beam flicker,
    spots, inactive zone, configuration and seed).

    Parameters
    ----------
    output_dir : str or path
        Folder.
    rng : int, optional
        Seed (a concrete one is drawn and recorded when None).
    **changes
        Phantom parameters (:func:`operando.neutron.default_config`).

    Returns
    -------
    dict of str to Path
        The files written.
    """
    from ..io import write
    from ..neutron import simulate_neutron_phantom

    out = Path(output_dir)
    check_outputs([Target(out, "output folder", kind="folder")])
    ph = simulate_neutron_phantom(rng=rng, **changes)  # every parameter checked before the folder is made
    out.mkdir(parents=True, exist_ok=True)
    files = {"sample": write(ph.sample, out / "sample.tif"), "open_beam": write(ph.open_beam, out / "open_beam.tif"),
             "dark": write(ph.dark, out / "dark.tif"), "regions": write_json_file(out / "regions.json", ph.regions)}
    rows = [{"time_s": t, "current_a": i, "voltage_v": v}
            for t, i, v in zip(ph.cycler["time_s"], ph.cycler["current_a"], ph.cycler["voltage_v"], strict=True)]
    files["cycler"] = write_csv_file(out / "cycler.csv", rows)
    files["delta_a_true"] = write(Stack(ph.delta_a_true, axes="TYX"), out / "truth" / "delta_a_true.tif",
                                  dtype="float32")
    files["truth"] = write_json_file(out / "truth" / "truth.json",
                                     {"boundaries": ph.boundaries, "reference": list(ph.reference), **ph.truth,
                                      "configuration": ph.config, "seed": ph.config["seed"]})
    return files


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its outputs and the headline numbers."""

    folder: Path
    metrics: dict[str, Any]


def run_demo(output_dir: str | os.PathLike, *, time_budget_s: float = 60.0, seed: int = 0, quick: bool = False,
             progress: Progress | None = None) -> DemoResult:
    """Make a phantom, analyse it from raw counts with the cycler record, and write everything into a folder.

    Parameters
    ----------
    output_dir : str or path
        Folder: ``phantom/`` (the inputs) and ``analysis/`` (the outputs of ``operando neutron analyze``).
    time_budget_s : float
        Denoiser budget.
    seed : int
        Seed of the phantom and the denoiser.
    quick : bool
        A small phantom (48 x 64, 2 cycles of 6 frames) for tests.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    DemoResult
        The folder and metrics.json's content.
    """
    out = Path(output_dir)
    changes: dict[str, Any] = {"ny": 48, "nx": 64, "n_cycles": 2, "frames_per_half_cycle": 6} if quick else \
        {"frames_per_half_cycle": 16}
    files = write_phantom(out / "phantom", rng=seed, **changes)
    config = AnalysisConfig(reference=(0, 4), time_budget_s=time_budget_s, seed=seed)
    _, document = analyze_files(files["sample"], out / "analysis", config=config, open_beam=files["open_beam"],
                                dark=files["dark"], regions=files["regions"], cycler=files["cycler"],
                                progress=progress)
    return DemoResult(out, document)
