"""The optical analysis of a colour video (:func:`analyze_video`) and its stages.

Optional video denoising (3 channels jointly) -> first-pass segmentation -> colour correction (flicker, haze,
illumination, optional white balance) -> registration -> segmentation of the registered time-average -> labels
carried through time -> CIELAB stage model (given or learned) -> per-pixel stages with confidence and
hysteresis -> per-particle table.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ..._errors import InputError
from ..._progress import Progress, check_cancel, emit, sub_progress
from ..._regions import parse_region
from ..._stack import Metadata, Stack
from ...optical import (
    ColourCorrection,
    ParticleTable,
    StageModel,
    apply_hysteresis,
    choose_background_model,
    classify_pixels,
    concrete_seed,
    contrast_channel,
    contrast_threshold,
    correct_colour,
    find_particles,
    fit_stage_model,
    foreground_channel,
    measure_particles,
    propagate_labels,
    register_shifts,
    restore_colour,
    rgb_to_lab,
    segment_particles,
    shift_image,
    video_rgb,
)
from ._config import OpticalConfig, check_video_settings, region_of


@dataclass(frozen=True)
class OpticalResult:
    """Everything :func:`analyze_video` found.

    Attributes
    ----------
    labels : ndarray of uint16/uint32, shape (T, Y, X)
        Particle ids per frame.
    stages : ndarray of uint8, shape (T, Y, X)
        Stage codes per frame (:data:`operando.optical.STAGE_CODES`).
    confidence : ndarray of float32, shape (T, Y, X)
        Posterior of each pixel's stage (0 outside particles and for unknown pixels).
    table : ParticleTable
        Per-particle measurements.
    model : StageModel
        The CIELAB stage colours used.
    correction : ColourCorrection
        The colour correction (without its frames, to save memory: ``rgb`` is the reference frame only).
    shifts : ndarray, shape (T, 2)
        Registration of every frame to the reference.
    channel, threshold : str, float
        The foreground channel and its threshold.
    seconds : dict
        Wall time of each step.
    config : dict
        The configuration with the concrete seed.
    denoised : ndarray or None
        The denoised RGB video (float32) when denoising ran.
    notes : dict or None
        How the particles were found: the background model and its luminance ratio, the evidence that the
        foreground is the particles (:class:`operando.optical.Foreground`) and any warnings.
    denoise_record : dict or None
        What the denoiser recorded (``metadata.extra["denoise"]`` of :func:`operando.denoise.denoise`): the
        method, its seed and, with ``denoise="auto"``, the choice and its reason (``["auto"]``).
    """

    labels: np.ndarray
    stages: np.ndarray
    confidence: np.ndarray
    table: ParticleTable
    model: StageModel
    correction: ColourCorrection
    shifts: np.ndarray
    channel: str
    threshold: float
    seconds: dict
    config: dict
    denoised: np.ndarray | None = None
    notes: dict | None = None
    denoise_record: dict | None = None


def analyze_video(
    stack: Stack, *, config: OpticalConfig | None = None, progress: Progress | None = None
) -> OpticalResult:
    """Segment, track, stage and measure the graphite particles of a colour video.

    Parameters
    ----------
    stack : Stack
        ``TYXC`` colour video (uint8, uint16 or float in [0, 1]), at least 2 frames.
    config : OpticalConfig, optional
        Settings (defaults: no denoising, learned stages).
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` objects; raise :class:`operando.Cancelled` in it to stop
        the analysis (within a frame's work).

    Returns
    -------
    OpticalResult
        Labels, stages, confidence, the particle table and what was measured on the way.

    Raises
    ------
    InputError
        For a video that cannot be analysed (:func:`operando.optical.video_rgb`), settings naming frames or
        pixels outside it (:func:`check_video_settings`), or a video without particles.
    """
    cfg = config or OpticalConfig()
    seed = concrete_seed(cfg.seed)
    clock: dict[str, float] = {}
    start = time.perf_counter()
    rgb = video_rgb(stack)
    check_video_settings(cfg, rgb.shape[0], rgb.shape[1:3])
    denoised, record = None, None
    if cfg.denoise != "none":
        emit(progress, 0.0, f"denoising ({cfg.denoise})")
        rgb, record = _denoise(rgb, cfg, seed, sub_progress(progress, 0.0, 0.6))
        denoised = rgb
    clock["denoise_s"] = time.perf_counter() - start
    result = _analyze_rgb(rgb, cfg, seed, progress, clock, stack.metadata)
    return OpticalResult(**{**result.__dict__, "denoised": denoised, "denoise_record": record})


def _denoise(rgb: np.ndarray, cfg: OpticalConfig, seed: int, progress: Progress | None) -> tuple[np.ndarray, dict]:
    """Denoise the RGB video with the 3 channels jointly (public operando.denoise API), then restore its colours.

    A blind-spot network pulls each pixel towards its neighbours' colour at thin stage rings; with
    ``cfg.restore_colour`` the colour guided filter (:func:`operando.optical.restore_colour`) takes the local
    colours back from the measured frames under the denoised edges. Returns the frames and the denoiser's record
    (with ``auto``: its choice and reason, made once by :func:`operando.denoise.denoise`).
    """
    from ...denoise import NEURAL, TrainConfig, denoise

    steps = {}
    if cfg.max_steps is not None and cfg.denoise in NEURAL:
        steps = {"config": TrainConfig(method=cfg.denoise, max_steps=cfg.max_steps, time_budget_s=cfg.time_budget_s)}
    out = denoise(Stack(rgb, axes="TYXC"), method=cfg.denoise, time_budget_s=cfg.time_budget_s, rng=seed,
                  progress=sub_progress(progress, 0.0, 0.9 if cfg.restore_colour else 1.0), **steps)
    record = dict(out.metadata.extra.get("denoise", {}))
    denoised = np.asarray(out.to_numpy(), np.float32)
    if not cfg.restore_colour:
        return denoised, record
    emit(progress, 0.9, "restoring the measured colours")
    return restore_colour(denoised, rgb, progress=sub_progress(progress, 0.9, 1.0)), record


def _segment(channel_image: np.ndarray, cfg: OpticalConfig, channel: str, split: bool = True,
             threshold: float | None = None):
    """Segment one foreground-channel image with the configured threshold, smoothing and size filter."""
    return segment_particles(channel_image, threshold=threshold, method=cfg.threshold_method, smooth_px=cfg.smooth_px,
                             min_area_px=cfg.min_area_px, max_area_px=cfg.max_area_px, split_touching=split,
                             min_distance_px=cfg.min_distance_px, h_px=cfg.h_px, channel=channel)


def _first_pass(rgb: np.ndarray, cfg: OpticalConfig,
                progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Particles of the raw video: the background and reference-particle masks for colour correction, and notes.

    With the ``auto`` or ``contrast`` channel the particles are found against a fitted background
    (:func:`operando.optical.find_particles`: illumination removed, Delta E to the background, evidence checked);
    with a named colour channel, by that channel of the raw time-average (the method before issue 29).
    """
    notes: dict[str, Any] = {}
    if cfg.channel in ("auto", "contrast"):
        found = find_particles(rgb, smooth_px=cfg.smooth_px, min_area_px=cfg.min_area_px, progress=progress)
        particles, background = found.mask, found.background
        notes = {"first_pass": "contrast to the fitted background", "threshold_delta_e": found.threshold,
                 "evidence": found.evidence, "warnings": list(found.warnings)}
        for text in found.warnings:  # a UserWarning: the command line shows it as a note
            warnings.warn(f"optical segmentation: {text}", UserWarning, stacklevel=2)
    else:
        lab_mean = rgb_to_lab(rgb.mean(0))
        seg = _segment(foreground_channel(lab_mean, cfg.channel), cfg, cfg.channel, split=False)  # masks only
        particles = seg.labels > 0
        background = ~ndi.binary_dilation(particles, iterations=3)
        notes = {"first_pass": f"{cfg.channel} of the raw time-average", "warnings": []}
    if particles.sum() < 30:
        raise InputError(f"found {int(particles.sum())} particle pixels in the video; check it shows particles "
                         "(or lower --min-area / choose --channel)")
    ref_particles = ndi.binary_erosion(particles, iterations=1) & particles
    return background, ref_particles, notes


def _smooth_inside(lab: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smooth Lab inside the particle mask only (normalised convolution: no background leaks in)."""
    if sigma <= 0:
        return lab
    weight = ndi.gaussian_filter(mask.astype(np.float32), sigma)
    out = np.stack([ndi.gaussian_filter(lab[..., c] * mask, sigma) for c in range(3)], -1)
    return np.where(mask[..., None], out / np.maximum(weight, 1e-6)[..., None], lab)


def _given_means(stages: dict[str, Any], lab: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Stage Lab means from the stages JSON: an RGB colour, {"lab": [...]}, or {"frame": n, "region": "y0:y1,x0:x1"}."""
    means = {}
    for name, spec in stages.items():
        if isinstance(spec, dict) and "lab" in spec:
            means[name] = np.asarray(spec["lab"], float)
        elif isinstance(spec, dict) and "region" in spec:
            t, region = int(spec.get("frame", 0)), region_of(spec["region"], f"stage {name}: region")
            if not 0 <= t < lab.shape[0]:
                raise InputError(f"stage {name}: frame {t} is outside the video's {lab.shape[0]} frames")
            inside = labels[t][region.slices] > 0
            if inside.sum() < 5:
                raise InputError(f"stage {name}: region {str(region)!r} of frame {t} holds {int(inside.sum())} "
                                 "particle pixels; pick a region inside a particle of that stage")
            means[name] = lab[t][region.slices][inside].mean(0)
        elif isinstance(spec, (list, tuple)) and len(spec) == 3:
            rgb = np.asarray(spec, float)
            means[name] = rgb_to_lab(rgb / 255.0 if rgb.max() > 1 else rgb)
        else:
            raise InputError(f"stage {name}: {spec!r} is not a colour; give [r, g, b], {{\"lab\": [L, a, b]}} or "
                             "{\"frame\": n, \"region\": \"y0:y1,x0:x1\"}")
    return means


def _stage_model(lab: np.ndarray, labels: np.ndarray, cfg: OpticalConfig, seed: int) -> StageModel:
    """Sample particle pixels over the video and fit the stage model (given or learned)."""
    gen = np.random.default_rng(seed)
    samples, times = [], []
    per_frame = max(10, min(cfg.samples_per_frame, cfg.max_samples // lab.shape[0]))
    for t in range(lab.shape[0]):
        idx = np.flatnonzero(labels[t] > 0)
        if idx.size:
            pick = gen.choice(idx, min(per_frame, idx.size), replace=False)
            samples.append(lab[t].reshape(-1, 3)[pick])
            times.append(np.full(pick.size, t))
    if not samples:
        raise InputError("no particle pixels in any frame; check the segmentation (or lower --min-area)")
    given = _given_means(cfg.stages, lab, labels) if cfg.stages else None
    return fit_stage_model(np.concatenate(samples), np.concatenate(times), given=given, rng=gen,
                           covariance=cfg.stage_covariance)


def _classify(lab: np.ndarray, labels: np.ndarray, model: StageModel, cfg: OpticalConfig,
              progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Classify every particle pixel of every frame, then apply hysteresis."""
    codes = np.zeros(labels.shape, np.uint8)
    conf = np.zeros(labels.shape, np.float32)
    for t in range(labels.shape[0]):
        check_cancel(progress)
        inside = labels[t] > 0
        c, p = classify_pixels(lab[t][inside], model, max_distance=cfg.max_distance)
        codes[t][inside], conf[t][inside] = c, p
    return apply_hysteresis(codes, conf, switch_confidence=cfg.switch_confidence), conf


def _correct(rgb: np.ndarray, cfg: OpticalConfig,
             progress: Progress | None) -> tuple[ColourCorrection, np.ndarray, dict]:
    """First pass, background model and colour correction; return the correction, the background and notes."""
    background, ref_particles, notes = _first_pass(rgb, cfg, progress)
    check_cancel(progress)
    model_name, ratio = choose_background_model(rgb, background, ref_particles, dark_below=cfg.dark_below)
    if cfg.background_model != "auto":
        model_name = cfg.background_model
    notes.update({"background_model": model_name, "background_to_particle_luminance": round(ratio, 4)})
    white = None
    if cfg.white_region:
        white = np.zeros(rgb.shape[1:3], bool)
        white[parse_region(cfg.white_region, "white_region").slices] = True
    corr = correct_colour(rgb, background=background, particles=ref_particles,
                          reference_frame=cfg.reference_frame, flicker=cfg.flicker,
                          haze=cfg.haze, flatten=cfg.flatten, white_region=white, model=model_name)
    return corr, background, notes


def _foreground(corr: ColourCorrection, background: np.ndarray, channel: str,
                progress: Progress | None) -> tuple[np.ndarray, np.ndarray]:
    """Return the Lab frames of the corrected video and its foreground channel per frame."""
    lab = np.stack([_checked(progress, rgb_to_lab, frame) for frame in corr.rgb])
    if channel != "contrast":
        return lab, foreground_channel(lab, channel)
    bg_rgb = np.median(corr.rgb[:: max(1, lab.shape[0] // 16)][:, background], axis=(0, 1))
    return lab, np.stack([_checked(progress, contrast_channel, frame, bg_rgb) for frame in corr.rgb])


def _checked(progress: Progress | None, fn: Any, *args: Any) -> Any:
    """Call ``fn(*args)`` after giving the caller a chance to stop (one frame's work between checks)."""
    check_cancel(progress)
    return fn(*args)


def _track(fg: np.ndarray, background: np.ndarray, cfg: OpticalConfig, channel: str,
           progress: Progress | None) -> tuple[np.ndarray, np.ndarray, Any]:
    """Register the frames, segment the registered time-average and carry its labels through the video."""
    ref = cfg.reference_frame
    check_cancel(progress)
    shifts = register_shifts(fg[ref], fg)
    check_cancel(progress)
    aligned = np.mean([shift_image(f, -s) for f, s in zip(fg, shifts, strict=True)], axis=0)
    given = None
    if channel == "contrast":
        smooth = ndi.gaussian_filter(aligned, cfg.smooth_px) if cfg.smooth_px > 0 else aligned
        given = contrast_threshold(smooth, background)
    check_cancel(progress)
    seg = _segment(aligned, cfg, channel, threshold=given)
    emit(progress, 0.7, f"carrying {int(seg.labels.max())} particles through {fg.shape[0]} frames")
    if channel == "contrast" and fg.shape[0] >= 3:  # a 3-frame running median: single frames are noisier than
        fg = ndi.median_filter(fg, size=(3, 1, 1), mode="nearest")  # the time-average the threshold came from
    labels = propagate_labels(seg.labels, fg, threshold=seg.threshold, shifts=shifts, smooth_px=cfg.smooth_px,
                              local_px=2.0 if channel == "contrast" else 0.0,
                              progress=sub_progress(progress, 0.7, 0.85, "carrying labels: "))
    return labels, shifts, seg


def _analyze_rgb(rgb: np.ndarray, cfg: OpticalConfig, seed: int, progress: Progress | None,
                 clock: dict[str, float], meta: Metadata) -> OpticalResult:
    """Run the analysis steps after denoising (see :func:`analyze_video`)."""
    tick = time.perf_counter()
    emit(progress, 0.6, "segmenting the time-averaged frame")
    corr, background, notes = _correct(rgb, cfg, progress)
    clock["colour_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    channel = "contrast" if cfg.channel == "auto" else cfg.channel
    lab, fg = _foreground(corr, background, channel, progress)
    labels, shifts, seg = _track(fg, background, cfg, channel, progress)
    clock["segment_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    emit(progress, 0.85, "classifying stages")
    lab = np.stack([_checked(progress, _smooth_inside, lab[t], labels[t] > 0, cfg.colour_smooth_px)
                    for t in range(lab.shape[0])])
    model = _stage_model(lab, labels, cfg, seed)
    stages, conf = _classify(lab, labels, model, cfg, progress)
    clock["classify_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    emit(progress, 0.95, "measuring the particles")
    table = measure_particles(labels, stages, cbar_mapping=cfg.cbar_mapping, pixel_size=meta.pixel_size,
                              pixel_unit=meta.pixel_unit)
    clock["measure_s"] = time.perf_counter() - tick
    emit(progress, 1.0, "done")
    dtype = np.uint16 if labels.max() < 2**16 else np.uint32
    ref = cfg.reference_frame
    small = ColourCorrection(corr.rgb[ref : ref + 1].copy(), corr.flicker, corr.veil, corr.illumination, corr.white,
                             corr.scale)
    return OpticalResult(labels=labels.astype(dtype), stages=stages, confidence=conf, table=table, model=model,
                         correction=small, shifts=shifts, channel=channel, threshold=seg.threshold,
                         seconds={k: round(v, 3) for k, v in clock.items()},
                         config={**cfg.model_dump(), "seed": seed}, notes=notes)
