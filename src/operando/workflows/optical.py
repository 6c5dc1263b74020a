"""The optical graphite workflow: analyse a colour video, score it, the phantom, the demo and the benchmark.

``analyze_video`` runs: optional video denoising (3 channels jointly) -> first-pass segmentation -> colour
correction (flicker, haze, illumination, optional white balance) -> registration -> segmentation of the
registered time-average -> labels carried through time -> CIELAB stage model (given or learned) -> per-pixel
stages with confidence and hysteresis -> per-particle table -> population statistics.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy import ndimage as ndi

from .._errors import InputError
from .._files import write_csv_file, write_json_file
from .._stack import Metadata, Progress, Stack
from ..optical import (
    STAGE_LEGEND,
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
    stage_fractions_over_time,
    transition_trend,
    video_rgb,
)

logger = logging.getLogger(__name__)


class OpticalConfig(BaseModel):
    """Settings of :func:`analyze_video` (saved with every analysis)."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    denoise: str = Field("none", description="none, or a method of operando.denoise (video, gaussian, ...)")
    time_budget_s: float = Field(90.0, gt=0, allow_inf_nan=False, description="denoiser training budget, seconds")
    restore_colour: bool = Field(True, description="after denoising, restore the measured local colours under "
                                 "the denoised edges (colour guided filter, operando.optical.restore_colour)")
    seed: int | None = Field(0, ge=0, description="seed of every random step (None: drawn and recorded)")
    channel: Literal["auto", "contrast", "chroma", "lightness", "saturation"] = Field(
        "auto", description="foreground channel: auto = contrast (Delta E to the fitted background, with the "
        "evidence checked), or a colour channel of the corrected frames")
    background_model: Literal["auto", "dark", "flat"] = Field(
        "auto", description="colour correction: dark (veil subtraction) where the background is much darker than "
        "the particles, flat (division by the background's fit) otherwise")
    dark_below: float = Field(0.55, gt=0, le=1, description="auto background model: dark when the background's "
                              "luminance is below this share of the particles'")
    max_steps: int | None = Field(None, ge=1, description="neural denoisers: stop after this many training steps "
                                  "(step-bounded: results do not depend on the machine's load)")
    threshold_method: Literal["otsu", "multiotsu", "gmm"] = "otsu"
    smooth_px: float = Field(1.0, ge=0, allow_inf_nan=False)
    min_area_px: int = Field(20, ge=1)
    max_area_px: int | None = Field(None, ge=1)
    min_distance_px: float = Field(3.0, gt=0, allow_inf_nan=False)
    h_px: float = Field(0.3, ge=0, allow_inf_nan=False)
    reference_frame: int = Field(0, ge=0, description="frame of one stage (pristine) for the illumination field")
    flicker: bool = True
    haze: bool = True
    flatten: bool = True
    white_region: list[int] | None = Field(None, description="[y0, y1, x0, x1] of a neutral region")
    stages: dict[str, Any] | None = Field(None, description="stage colours (see docs/optical.md)")
    stage_covariance: Literal["tied", "full"] = Field(
        "tied", description="stage colour model: one covariance shared by the stages (tied) or one each (full)")
    colour_smooth_px: float = Field(1.0, ge=0, allow_inf_nan=False)
    max_distance: float = Field(4.5, gt=0, allow_inf_nan=False)
    switch_confidence: float = Field(0.9, ge=0, le=1)
    cbar_mapping: dict[str, float] = Field(default_factory=lambda: {"III": 1 / 3, "II": 1 / 2, "I": 1.0})
    frames_of_interest: list[int] | None = None
    samples_per_frame: int = Field(3000, ge=10)
    max_samples: int = Field(30000, ge=100, description="particle pixels in the stage fit, over all frames")
    n_boot: int = Field(1000, ge=10)

    @field_validator("denoise")
    @classmethod
    def _known_denoiser(cls, value: str) -> str:
        if value != "none":
            from ..denoise import METHODS

            if value not in METHODS:
                raise ValueError(f"unknown denoiser {value!r}; choose none or one of {', '.join(METHODS)}")
        return value

    @field_validator("frames_of_interest")
    @classmethod
    def _frames_not_negative(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(f < 0 for f in value):
            raise ValueError("frame numbers start at 0; give frames >= 0")
        return value

    @field_validator("white_region")
    @classmethod
    def _region_box(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (len(value) != 4 or min(value) < 0 or value[0] >= value[1] or value[2] >= value[3]):
            raise ValueError("give [y0, y1, x0, x1] with 0 <= y0 < y1 and 0 <= x0 < x1")
        return value

    @field_validator("cbar_mapping")
    @classmethod
    def _cbar_fractions(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not (np.isfinite(v) and 0 <= v <= 1)}
        if bad:
            raise ValueError(f"x in LixC6 lies in [0, 1], got {bad}")
        return value

    @field_validator("stages")
    @classmethod
    def _stage_colours(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            for name, spec in value.items():
                _check_stage_spec(name, spec)
        return value

    @model_validator(mode="after")
    def _area_order(self) -> OpticalConfig:
        if self.max_area_px is not None and self.max_area_px < self.min_area_px:
            raise ValueError(f"max_area_px {self.max_area_px} is below min_area_px {self.min_area_px}; give a "
                             "larger maximum")
        return self


def _numbers(value: Any, n: int) -> bool:
    """Return True if ``value`` is a list of ``n`` finite numbers."""
    return (isinstance(value, (list, tuple)) and len(value) == n
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value))


def _check_stage_spec(name: str, spec: Any) -> None:
    """Refuse a stage colour that is not [r, g, b], {"lab": [L, a, b]} or {"frame": n, "region": [...]}."""
    what = (f"stage {name}: {spec!r} is not a colour; give [r, g, b] (0-255 or 0-1), {{\"lab\": [L, a, b]}} or "
            "{\"frame\": n, \"region\": [y0, y1, x0, x1]}")
    if isinstance(spec, dict) and "lab" in spec:
        if not _numbers(spec["lab"], 3):
            raise ValueError(what)
    elif isinstance(spec, dict) and "region" in spec:
        region, frame = spec["region"], spec.get("frame", 0)
        if (not _numbers(region, 4) or not all(isinstance(v, int) for v in region) or min(region) < 0
                or region[0] >= region[1] or region[2] >= region[3]
                or not isinstance(frame, int) or isinstance(frame, bool) or frame < 0):
            raise ValueError(f"stage {name}: region {region!r} of frame {frame!r} is not a box; give whole numbers "
                             "[y0, y1, x0, x1] with 0 <= y0 < y1, 0 <= x0 < x1, and a frame >= 0")
    elif _numbers(spec, 3):
        if min(spec) < 0 or max(spec) > 255:
            raise ValueError(f"stage {name}: colour {spec!r} is outside 0-255; give [r, g, b] in 0-255 (or 0-1)")
    else:
        raise ValueError(what)


def check_video_settings(config: OpticalConfig, n_frames: int, shape: tuple[int, int]) -> None:
    """Refuse settings that name frames or pixels outside the video, before any work.

    Parameters
    ----------
    config : OpticalConfig
        The settings.
    n_frames : int
        Frames of the video.
    shape : (int, int)
        Frame size (Y, X).

    Raises
    ------
    InputError
        Naming the setting, the value and the video's range.
    """
    last = n_frames - 1
    if not 0 <= config.reference_frame < n_frames:
        raise InputError(f"--reference-frame {config.reference_frame} is outside the video's {n_frames} frames; use "
                         f"0..{last}")
    bad = [f for f in (config.frames_of_interest or []) if not 0 <= f < n_frames]
    if bad:
        raise InputError(f"--frames-of-interest {bad} outside the video's {n_frames} frames; use 0..{last}")
    if config.min_area_px > shape[0] * shape[1]:
        raise InputError(f"--min-area {config.min_area_px} is larger than a frame ({shape[0]} x {shape[1]} = "
                         f"{shape[0] * shape[1]} pixels); give a smaller particle area")
    if config.white_region is not None:
        _, y1, _, x1 = config.white_region
        if y1 > shape[0] or x1 > shape[1]:
            raise InputError(f"white_region {config.white_region} reaches outside the {shape[0]} x {shape[1]} "
                             "frames; give a region inside them")
    for name, spec in (config.stages or {}).items():
        if isinstance(spec, dict) and "region" in spec:
            frame, (_, y1, _, x1) = int(spec.get("frame", 0)), spec["region"]
            if frame > last:
                raise InputError(f"stage {name}: frame {frame} is outside the video's {n_frames} frames; use "
                                 f"0..{last}")
            if y1 > shape[0] or x1 > shape[1]:
                raise InputError(f"stage {name}: region {spec['region']} reaches outside the {shape[0]} x "
                                 f"{shape[1]} frames; give a region inside them")


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


def _denoise(rgb: np.ndarray, cfg: OpticalConfig, seed: int, progress: Progress | None) -> np.ndarray:
    """Denoise the RGB video with the 3 channels jointly (public operando.denoise API), then restore its colours.

    A blind-spot network pulls each pixel towards its neighbours' colour at thin stage rings; with
    ``cfg.restore_colour`` the colour guided filter (:func:`operando.optical.restore_colour`) takes the local
    colours back from the measured frames under the denoised edges.
    """
    from ..denoise import METHODS, denoise

    if cfg.denoise not in METHODS:
        raise InputError(f"unknown denoiser {cfg.denoise!r}; choose none or one of {', '.join(METHODS)}")
    from ..denoise import NEURAL, TrainConfig

    steps = {}
    if cfg.max_steps is not None and cfg.denoise in NEURAL:
        steps = {"config": TrainConfig(method=cfg.denoise, max_steps=cfg.max_steps, time_budget_s=cfg.time_budget_s)}
    out = denoise(Stack(rgb, axes="TYXC"), method=cfg.denoise, time_budget_s=cfg.time_budget_s, rng=seed,
                  progress=progress, **steps)
    denoised = np.asarray(out.to_numpy(), np.float32)
    return restore_colour(denoised, rgb) if cfg.restore_colour else denoised


def _segment(channel_image: np.ndarray, cfg: OpticalConfig, channel: str, split: bool = True,
             threshold: float | None = None):
    return segment_particles(channel_image, threshold=threshold, method=cfg.threshold_method, smooth_px=cfg.smooth_px,
                             min_area_px=cfg.min_area_px, max_area_px=cfg.max_area_px, split_touching=split,
                             min_distance_px=cfg.min_distance_px, h_px=cfg.h_px, channel=channel)


def _first_pass(rgb: np.ndarray, cfg: OpticalConfig) -> tuple[np.ndarray, np.ndarray, dict]:
    """Particles of the raw video: the background and reference-particle masks for colour correction, and notes.

    With the ``auto`` or ``contrast`` channel the particles are found against a fitted background
    (:func:`operando.optical.find_particles`: illumination removed, Delta E to the background, evidence checked);
    with a named colour channel, by that channel of the raw time-average (the method before issue 29).
    """
    notes: dict[str, Any] = {}
    if cfg.channel in ("auto", "contrast"):
        found = find_particles(rgb, smooth_px=cfg.smooth_px, min_area_px=cfg.min_area_px)
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
    """Stage Lab means from the stages JSON: an RGB colour, {"lab": [...]}, or {"frame": n, "region": [...]}."""
    means = {}
    for name, spec in stages.items():
        if isinstance(spec, dict) and "lab" in spec:
            means[name] = np.asarray(spec["lab"], float)
        elif isinstance(spec, dict) and "region" in spec:
            t, (y0, y1, x0, x1) = int(spec.get("frame", 0)), spec["region"]
            if not 0 <= t < lab.shape[0]:
                raise InputError(f"stage {name}: frame {t} is outside the video's {lab.shape[0]} frames")
            inside = labels[t, y0:y1, x0:x1] > 0
            if inside.sum() < 5:
                raise InputError(f"stage {name}: region {[y0, y1, x0, x1]} of frame {t} holds {int(inside.sum())} "
                                 "particle pixels; pick a region inside a particle of that stage")
            means[name] = lab[t, y0:y1, x0:x1][inside].mean(0)
        elif isinstance(spec, (list, tuple)) and len(spec) == 3:
            rgb = np.asarray(spec, float)
            means[name] = rgb_to_lab(rgb / 255.0 if rgb.max() > 1 else rgb)
        else:
            raise InputError(f"stage {name}: {spec!r} is not a colour; give [r, g, b], {{\"lab\": [L, a, b]}} or "
                             "{\"frame\": n, \"region\": [y0, y1, x0, x1]}")
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


def _classify(lab: np.ndarray, labels: np.ndarray, model: StageModel, cfg: OpticalConfig):
    """Classify every particle pixel of every frame, then apply hysteresis."""
    codes = np.zeros(labels.shape, np.uint8)
    conf = np.zeros(labels.shape, np.float32)
    for t in range(labels.shape[0]):
        inside = labels[t] > 0
        c, p = classify_pixels(lab[t][inside], model, max_distance=cfg.max_distance)
        codes[t][inside], conf[t][inside] = c, p
    return apply_hysteresis(codes, conf, switch_confidence=cfg.switch_confidence), conf


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
        ``progress(fraction, message)``.

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
    report = progress or (lambda f, m: None)
    clock: dict[str, float] = {}
    start = time.perf_counter()
    rgb = video_rgb(stack)
    check_video_settings(cfg, rgb.shape[0], rgb.shape[1:3])
    denoised = None
    if cfg.denoise != "none":
        report(0.0, f"denoising ({cfg.denoise})")
        rgb = denoised = _denoise(rgb, cfg, seed, lambda f, m: report(0.6 * f, m))
    clock["denoise_s"] = time.perf_counter() - start
    result = _analyze_rgb(rgb, cfg, seed, report, clock, stack.metadata)
    return OpticalResult(**{**result.__dict__, "denoised": denoised})


def _analyze_rgb(rgb: np.ndarray, cfg: OpticalConfig, seed: int, report: Callable[[float, str], None],
                 clock: dict[str, float], meta: Metadata) -> OpticalResult:
    """Run the analysis steps after denoising (see :func:`analyze_video`)."""
    tick = time.perf_counter()
    report(0.6, "segmenting the time-averaged frame")
    background, ref_particles, notes = _first_pass(rgb, cfg)
    model_name, ratio = choose_background_model(rgb, background, ref_particles, dark_below=cfg.dark_below)
    if cfg.background_model != "auto":
        model_name = cfg.background_model
    notes.update({"background_model": model_name, "background_to_particle_luminance": round(ratio, 4)})
    white = None
    if cfg.white_region:
        y0, y1, x0, x1 = cfg.white_region
        white = np.zeros(rgb.shape[1:3], bool)
        white[y0:y1, x0:x1] = True
    corr = correct_colour(rgb, background=background, particles=ref_particles,
                          reference_frame=cfg.reference_frame, flicker=cfg.flicker,
                          haze=cfg.haze, flatten=cfg.flatten, white_region=white, model=model_name)
    clock["colour_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    lab = np.stack([rgb_to_lab(frame) for frame in corr.rgb])
    channel = "contrast" if cfg.channel == "auto" else cfg.channel
    if channel == "contrast":
        bg_rgb = np.median(corr.rgb[:: max(1, lab.shape[0] // 16)][:, background], axis=(0, 1))
        fg = np.stack([contrast_channel(frame, bg_rgb) for frame in corr.rgb])
    else:
        fg = foreground_channel(lab, channel)
    ref = cfg.reference_frame
    shifts = register_shifts(fg[ref], fg)
    aligned = np.mean([shift_image(f, -s) for f, s in zip(fg, shifts, strict=True)], axis=0)
    given = None
    if channel == "contrast":
        smooth = ndi.gaussian_filter(aligned, cfg.smooth_px) if cfg.smooth_px > 0 else aligned
        given = contrast_threshold(smooth, background)
    seg = _segment(aligned, cfg, channel, threshold=given)
    report(0.7, f"carrying {int(seg.labels.max())} particles through {fg.shape[0]} frames")
    if channel == "contrast" and fg.shape[0] >= 3:  # a 3-frame running median: single frames are noisier than
        fg = ndi.median_filter(fg, size=(3, 1, 1), mode="nearest")  # the time-average the threshold came from
    labels = propagate_labels(seg.labels, fg, threshold=seg.threshold, shifts=shifts, smooth_px=cfg.smooth_px,
                              local_px=2.0 if channel == "contrast" else 0.0)
    clock["segment_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    report(0.85, "classifying stages")
    lab = np.stack([_smooth_inside(lab[t], labels[t] > 0, cfg.colour_smooth_px) for t in range(lab.shape[0])])
    model = _stage_model(lab, labels, cfg, seed)
    stages, conf = _classify(lab, labels, model, cfg)
    clock["classify_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    table = measure_particles(labels, stages, cbar_mapping=cfg.cbar_mapping, pixel_size=meta.pixel_size,
                              pixel_unit=meta.pixel_unit)
    clock["measure_s"] = time.perf_counter() - tick
    report(1.0, "done")
    dtype = np.uint16 if labels.max() < 2**16 else np.uint32
    small = ColourCorrection(corr.rgb[ref : ref + 1].copy(), corr.flicker, corr.veil, corr.illumination, corr.white,
                             corr.scale)
    return OpticalResult(labels=labels.astype(dtype), stages=stages, confidence=conf, table=table, model=model,
                         correction=small, shifts=shifts, channel=channel, threshold=seg.threshold,
                         seconds={k: round(v, 3) for k, v in clock.items()},
                         config={**cfg.model_dump(), "seed": seed}, notes=notes)


def default_frames_of_interest(n_frames: int) -> list[int]:
    """Return four frames spread over the video (a quarter, half, three quarters, last)."""
    return sorted({max(0, min(n_frames - 1, round(f * (n_frames - 1)))) for f in (0.25, 0.5, 0.75, 1.0)})


def summary_rows(result: OpticalResult) -> list[dict]:
    """Return one row per particle: id, V/A, first/last area, transition frames, final c-bar."""
    t = result.table
    unit = t.pixel_unit if t.pixel_size else "px"
    va = t.v_over_a
    rows = []
    for j, pid in enumerate(t.ids):
        present = np.flatnonzero(t.area[:, j] > 0)
        rows.append({"id": int(pid), f"v_over_a_{unit}": round(float(va[j]), 4),
                     "area_first_px": float(t.area[present[0], j]) if present.size else 0.0,
                     "area_last_px": float(t.area[present[-1], j]) if present.size else 0.0,
                     "transition_II_frame": t.transition_frames["II"][j],
                     "transition_I_frame": t.transition_frames["I"][j],
                     "cbar_last": round(float(t.cbar[present[-1], j]), 4) if present.size else float("nan")})
    return rows


def _figures(result: OpticalResult, out: Path, frames: list[int], seed: int) -> tuple[list[Path], list[dict]]:
    """Draw the population figures; return their paths and the transition trends."""
    from ..report import save_figure
    from .optical_figures import plot_cbar_histograms, plot_density, plot_stage_fractions, plot_transitions

    t = result.table
    paths = [save_figure(plot_stage_fractions(stage_fractions_over_time(t)), out / "stage_fractions.png"),
             save_figure(plot_cbar_histograms(t, frames), out / "cbar_histograms.png"),
             save_figure(plot_density(t, frames), out / "density.png")]
    trends = []
    for stage in ("II", "I"):
        try:
            trends.append(transition_trend(t.v_over_a, t.transition_frames[stage], stage=stage,
                                           n_boot=result.config["n_boot"], rng=seed))
        except InputError as exc:
            logger.info("no %s trend: %s", stage, exc)
    if trends:
        paths.append(save_figure(plot_transitions(t, trends), out / "transition_vs_size.png"))
    return paths, [tr.as_dict() for tr in trends]


def _labels_stack(labels: np.ndarray, meta: Metadata) -> Stack:
    return Stack(labels, axes="TYX", metadata=Metadata(pixel_size=meta.pixel_size, pixel_unit=meta.pixel_unit,
                                                        frame_times=meta.frame_times,
                                                        extra={"content": "particle ids, 0 = background"}))


def _stages_stack(stages: np.ndarray, meta: Metadata) -> Stack:
    legend = {str(k): v for k, v in STAGE_LEGEND.items()}
    return Stack(stages, axes="TYX", metadata=Metadata(pixel_size=meta.pixel_size, pixel_unit=meta.pixel_unit,
                                                        frame_times=meta.frame_times,
                                                        extra={"content": "graphite stage per pixel",
                                                               "legend": legend}))


def write_analysis(result: OpticalResult, output: str | os.PathLike, *, source: Stack,
                   video_format: Literal["tif", "mp4"] = "tif") -> dict[str, Path]:
    """Write an analysis: labels.tif, stages.tif, CSV tables, figures, report and analysis.json.

    The CSV tables are particles.csv (per particle per frame), particle_summary.csv (per particle) and
    population.csv (stage fractions per frame); analysis.json records the configuration, seed, stage model and
    timings.

    Parameters
    ----------
    result : OpticalResult
        From :func:`analyze_video`.
    output : path
        Output folder (created).
    source : Stack
        The video analysed (its metadata: pixel size, frame times, source file, which is never overwritten).
    video_format : {"tif", "mp4"}
        Format of the denoised video, when denoising ran (mp4 is lossy: for sharing only).

    Returns
    -------
    dict of str -> Path
        The files written.
    """
    from .._files import refuse_to_overwrite
    from ..io import write

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    meta = source.metadata
    files = {name: out / name for name in ("labels.tif", "stages.tif", "particles.csv", "particle_summary.csv",
                                           "population.csv", "analysis.json")}
    for path in files.values():
        refuse_to_overwrite(path, meta.source)
    write(_labels_stack(result.labels, meta), files["labels.tif"])
    write(_stages_stack(result.stages, meta), files["stages.tif"])
    write_csv_file(files["particles.csv"], result.table.rows(meta.frame_times))
    summary = summary_rows(result)
    write_csv_file(files["particle_summary.csv"], summary)
    fractions = stage_fractions_over_time(result.table)
    write_csv_file(files["population.csv"], [{"frame": t, **{f"frac_{k}": round(float(v[t]), 5)
                                                              for k, v in fractions.items()}}
                                             for t in range(result.labels.shape[0])])
    if result.denoised is not None:
        files["denoised"] = out / f"denoised.{video_format}"
        refuse_to_overwrite(files["denoised"], meta.source)
        write(Stack(np.clip(np.rint(result.denoised * 255), 0, 255).astype(np.uint8), axes="TYXC", metadata=meta),
              files["denoised"])
    files.update(_write_report_and_record(result, out, meta, files["analysis.json"]))
    return files


def _write_report_and_record(result: OpticalResult, out: Path, meta: Metadata, record_path: Path) -> dict[str, Path]:
    """Write the figures, analysis.json and report.md/html of an analysis."""
    from ..report import Report

    frames = result.config["frames_of_interest"] or default_frames_of_interest(result.labels.shape[0])
    figures, trends = _figures(result, out, frames, result.config["seed"])
    record = {"config": result.config, "source": meta.source, "n_particles": int(result.table.ids.size),
              "channel": result.channel, "threshold": result.threshold, "stage_model": result.model.as_dict(),
              "legend": {str(k): v for k, v in STAGE_LEGEND.items()}, "seconds": result.seconds,
              "flicker": result.correction.flicker.round(4).tolist(), "white_balance": result.correction.white.tolist(),
              "registration_shifts_px": result.shifts.tolist(), "frames_of_interest": frames, "trends": trends}
    write_json_file(record_path, record)
    rep = Report("Optical graphite analysis")
    rep.text(f"{meta.source or 'video'}: {result.labels.shape[0]} frames of {result.labels.shape[1]} x "
             f"{result.labels.shape[2]} px; {result.table.ids.size} particles; denoising: {result.config['denoise']}; "
             f"foreground channel {result.channel} (threshold {result.threshold:.3g}); stage colours "
             f"{result.model.source}; seed {result.config['seed']}.")
    rep.text("V/A is area / perimeter of the 2-D outline. c-bar maps stage fractions to x in LixC6 with "
             f"{result.config['cbar_mapping']} (unknown and plating pixels are left out and reported).")
    rep.table([{"stage": n, "L*": m[0], "a*": m[1], "b*": m[2]} for n, m in zip(result.model.names,
                                                                                 result.model.means, strict=True)])
    if trends:
        rep.heading("Transition time vs V/A")
        rep.table(trends)
    for path in figures:
        rep.figure(path.name, path.stem.replace("_", " "))
    rep.table([{"step": k, "seconds": v} for k, v in result.seconds.items()])
    return {"report": rep.write(out), **{p.stem: p for p in figures}}


def _read_labels_stages(folder: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    from ..io import read

    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder; {what} is a folder holding labels.tif and stages.tif (as written "
                         "by 'operando optical analyze' or 'operando optical phantom')")
    paths = [folder / "labels.tif", folder / "stages.tif"]
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: missing; {what} must hold labels.tif and stages.tif (as written by "
                             "'operando optical analyze' or 'operando optical phantom')")
    labels, stages = (read(p).to_numpy() for p in paths)
    for path, data in zip(paths, (labels, stages), strict=True):
        if data.ndim != 3 or data.dtype.kind not in "ui" or (data.size and data.min() < 0):
            raise InputError(f"{path}: expected frames (T, Y, X) of whole numbers >= 0, got {data.dtype} of shape "
                             f"{data.shape}; give the labels.tif and stages.tif that operando wrote")
    if labels.shape != stages.shape:
        raise InputError(f"{folder}: labels.tif {labels.shape} and stages.tif {stages.shape} differ in shape; give "
                         "the two files of one analysis")
    return labels, stages


def score_analysis(result: str | os.PathLike, truth: str | os.PathLike) -> dict[str, Any]:
    """Score an analysis folder against an annotation folder (both with labels.tif and stages.tif).

    Parameters
    ----------
    result : path
        Folder written by :func:`write_analysis`.
    truth : path
        Folder with the annotated ``labels.tif`` and ``stages.tif`` (e.g. a phantom's ``truth``).

    Returns
    -------
    dict
        Instance F1 at IoU > 0.5 (Hungarian matching), mean IoU of matches, stage pixel accuracy inside true
        particles, the stage confusion matrix, and the median transition-time error of matched particles.
    """
    from ..metrics import instance_f1, match_instances, stage_confusion
    from ..optical import transition_frames

    labels, stages = _read_labels_stages(Path(result), "the analysis folder")
    t_labels, t_stages = _read_labels_stages(Path(truth), "the truth folder")
    if labels.shape != t_labels.shape:
        raise InputError(f"analysis {labels.shape} and truth {t_labels.shape} differ in shape; score the analysis "
                         "of the video the truth belongs to")
    labels, t_labels = labels.astype(np.int64), t_labels.astype(np.int64)
    inst = instance_f1(t_labels, labels)
    classes = tuple(sorted(STAGE_LEGEND))
    stage = stage_confusion(t_stages, stages, classes=classes, mask=t_labels > 0)
    true_ids, pred_ids, _ = match_instances(t_labels[0], labels[0])
    errors = {}
    for name in ("II", "I"):
        a = transition_frames(t_stages, t_labels, true_ids, name)
        b = transition_frames(stages, labels, pred_ids, name)
        both = np.isfinite(a) & np.isfinite(b)
        errors[name] = {"median_abs_error_frames": float(np.median(np.abs(a - b)[both])) if both.any() else None,
                        "matched_particles": int(true_ids.size), "both_transition": int(both.sum()),
                        "only_truth": int((np.isfinite(a) & ~np.isfinite(b)).sum()),
                        "only_analysis": int((~np.isfinite(a) & np.isfinite(b)).sum())}
    return {"instance": inst.as_dict(), "per_frame_f1": list(inst.per_frame_f1),
            "stage_accuracy_in_true_particles": stage.accuracy, "stage_classes": list(stage.classes),
            "stage_legend": {str(k): v for k, v in STAGE_LEGEND.items()},
            "stage_confusion_rows_truth_cols_analysis": stage.confusion.tolist(), "transition_error": errors}


def write_phantom(phantom: Any, output: str | os.PathLike) -> dict[str, Path]:
    """Write a phantom: video.tif (TYXC uint8), truth/labels.tif, truth/stages.tif, truth/particles.csv, phantom.json.

    Parameters
    ----------
    phantom : GraphitePhantom
        From :func:`operando.optical.simulate_graphite_phantom`.
    output : path
        Output folder.

    Returns
    -------
    dict of str -> Path
        The files written.
    """
    from ..io import write
    from ..optical import transition_frames

    out = Path(output)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    meta = phantom.video.metadata
    files = {"video": out / "video.tif", "labels": out / "truth" / "labels.tif",
             "stages": out / "truth" / "stages.tif", "particles": out / "truth" / "particles.csv",
             "config": out / "phantom.json"}
    write(phantom.video, files["video"])
    write(_labels_stack(phantom.labels, meta), files["labels"])
    write(_stages_stack(phantom.stages, meta), files["stages"])
    ids = np.array([p["id"] for p in phantom.particles])
    t2, t1 = (transition_frames(phantom.stages, phantom.labels.astype(np.int64), ids, s) for s in ("II", "I"))
    rows = [{**p, "transition_II_frame": t2[i], "transition_I_frame": t1[i]} for i, p in enumerate(phantom.particles)]
    write_csv_file(files["particles"], rows)
    write_json_file(files["config"], phantom.config)
    return files


def _region_means(lab: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean Lab of each region (pixels sharing a key) and the region areas."""
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    sums = np.stack([np.bincount(inverse, weights=lab[:, c], minlength=counts.size) for c in range(3)], 1)
    return sums / counts[:, None], counts


def hue_bias(clean: np.ndarray, processed: np.ndarray, truth_labels: np.ndarray, truth_stages: np.ndarray,
             result: OpticalResult) -> dict[str, float]:
    """Measure how far a processed (denoised) video's colours moved from the noise-free render.

    Both videos get the same colour correction (the analysis's) and the same stage model.

    Parameters
    ----------
    clean, processed : ndarray, shape (T, Y, X, 3)
        Noise-free and processed RGB frames, float in [0, 1].
    truth_labels, truth_stages : ndarray, shape (T, Y, X)
        True particle ids and stages.
    result : OpticalResult
        The analysis of ``processed`` (its correction and stage model are used).

    Returns
    -------
    dict
        ``moved_region_share`` (the hue bias): each true (particle, stage) region of each frame is averaged in
        both videos and the means classified; the share of particle pixels in regions whose stage differs.
        Averaging removes the noise left by the denoiser and keeps its systematic colour shifts.
        ``moved_pixel_share``: the same per pixel (includes residual noise). ``hue_shift_deg``: mean signed
        change of the CIELAB hue angle; ``mean_delta_e``: mean CIE76 colour difference per pixel.
    """
    inside = truth_labels > 0
    counts = {"pixel": 0, "region": 0, "total": 0}
    hue, delta_e = [], []
    limit = result.config["max_distance"]
    for t in range(clean.shape[0]):
        a = rgb_to_lab(result.correction.apply(clean[t : t + 1])[0])[inside[t]]
        b = rgb_to_lab(result.correction.apply(processed[t : t + 1])[0])[inside[t]]
        ca, cb = classify_pixels(a, result.model, max_distance=limit)[0], classify_pixels(b, result.model,
                                                                                       max_distance=limit)[0]
        key = truth_labels[t][inside[t]].astype(np.int64) * 8 + truth_stages[t][inside[t]]
        (ma, area), (mb, _) = _region_means(a, key), _region_means(b, key)
        ra, rb = classify_pixels(ma, result.model, max_distance=limit)[0], classify_pixels(mb, result.model,
                                                                                        max_distance=limit)[0]
        counts["pixel"] += int((ca != cb).sum())
        counts["region"] += int(area[ra != rb].sum())
        counts["total"] += ca.size
        dh = np.angle(np.exp(1j * (np.arctan2(b[:, 2], b[:, 1]) - np.arctan2(a[:, 2], a[:, 1]))), deg=True)
        hue.append(dh.mean())
        delta_e.append(np.linalg.norm(a - b, axis=1).mean())
    total = max(counts["total"], 1)
    return {"moved_region_share": counts["region"] / total, "moved_pixel_share": counts["pixel"] / total,
            "hue_shift_deg": float(np.mean(hue)), "mean_delta_e": float(np.mean(delta_e))}


def _benchmark_row(name: str, phantom: Any, result: OpticalResult, out: Path, seconds: float) -> dict[str, Any]:
    """Write one analysis of the phantom, score it and return its benchmark row."""
    write_analysis(result, out / name, source=phantom.video)
    score = score_analysis(out / name, out / "phantom" / "truth")
    write_json_file(out / name / "score.json", score)
    rgb = video_rgb(phantom.video) if result.denoised is None else result.denoised
    bias = hue_bias(phantom.clean.to_numpy(), rgb, phantom.labels, phantom.stages, result)
    return {"input": name, "instance_f1": score["instance"]["f1"], "mean_iou": score["instance"]["mean_iou"],
            "stage_accuracy": score["stage_accuracy_in_true_particles"],
            "t_II_err_frames": score["transition_error"]["II"]["median_abs_error_frames"],
            "t_I_err_frames": score["transition_error"]["I"]["median_abs_error_frames"],
            "moved_regions_pct": 100 * bias["moved_region_share"], "moved_pixels_pct": 100 * bias["moved_pixel_share"],
            "hue_shift_deg": bias["hue_shift_deg"], "delta_e": bias["mean_delta_e"],
            "denoise_s": result.seconds["denoise_s"], "total_s": round(seconds, 1)}


def benchmark_speed(*, shape: tuple[int, int] = (1000, 1000), n_particles: int = 300, n_frames: int = 10,
                    seed: int = 0) -> dict[str, Any]:
    """Time the analysis (no denoising) of a large phantom: seconds per frame, total and per step.

    Parameters
    ----------
    shape : (int, int)
        Frame size.
    n_particles : int
        Particles.
    n_frames : int
        Frames.
    seed : int
        Seed.

    Returns
    -------
    dict
        Wall seconds per frame (total analysis time / frames), CPU seconds per frame (all threads of this
        process: the work done, whatever else runs on the machine) and the wall time of each step.
    """
    from ..optical import simulate_graphite_phantom

    radius = 9.0 * min(shape) / 384
    phantom = simulate_graphite_phantom(shape=shape, n_particles=n_particles, n_frames=n_frames,
                                        radius_px=radius, rng=seed)
    start, cpu = time.perf_counter(), time.process_time()
    result = analyze_video(phantom.video, config=OpticalConfig(seed=seed))
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"shape": f"{shape[0]}x{shape[1]}", "particles": int(result.table.ids.size), "frames": n_frames,
            "s_per_frame": round(total / n_frames, 3), "cpu_s_per_frame": round(cpu / n_frames, 3),
            "total_s": round(total, 2), **result.seconds}


def benchmark_optical(
    output: str | os.PathLike,
    *,
    shape: tuple[int, int] = (384, 384),
    n_particles: int = 200,
    n_frames: int = 40,
    denoisers: tuple[str, ...] = ("video", "gaussian"),
    time_budget_s: float = 90.0,
    speed: bool = True,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Benchmark the optical workflow on the phantom: scores of raw and denoised analyses, hue bias, speed.

    Raw and denoised analyses are scored against the truth; the hue bias compares each input's colours with the
    noise-free render; the speed is the analysis (no denoising) of a 1000 x 1000 phantom with 300 particles.

    Parameters
    ----------
    output : path
        Output folder (phantom, one analysis folder per input, report.md, benchmark.json).
    shape, n_particles, n_frames : tuple, int, int
        The phantom.
    denoisers : tuple of str
        Denoising methods to compare with the raw frames.
    time_budget_s : float
        Training budget of each neural denoiser, seconds.
    speed : bool
        Also time the analysis of a 1000 x 1000 phantom with 300 particles.
    seed : int
        Seed of the phantom, the denoisers and the analyses.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    dict
        ``rows`` (one per input), ``speed`` and the settings.
    """
    from ..optical import simulate_graphite_phantom
    from ..report import Report

    configs = [OpticalConfig(denoise=method, time_budget_s=time_budget_s, seed=seed)
               for method in ("none", *denoisers)]  # unknown denoisers and bad settings refused before any work
    report = progress or (lambda f, m: None)
    out = Path(output)
    report(0.0, "phantom")
    phantom = simulate_graphite_phantom(shape=shape, n_particles=n_particles, n_frames=n_frames, rng=seed)
    write_phantom(phantom, out / "phantom")
    rows = []
    for i, cfg in enumerate(configs):
        method = cfg.denoise
        report((i + 0.1) / (len(denoisers) + 2), f"analysing ({method})")
        start = time.perf_counter()
        result = analyze_video(phantom.video, config=cfg)
        rows.append(_benchmark_row("raw" if method == "none" else method, phantom, result, out,
                                   time.perf_counter() - start))
    report((len(denoisers) + 1) / (len(denoisers) + 2), "speed")
    timing = benchmark_speed(seed=seed) if speed else None
    record = {"rows": rows, "speed": timing, "phantom": phantom.config, "time_budget_s": time_budget_s, "seed": seed}
    write_json_file(out / "benchmark.json", record)
    rep = Report("Optical graphite benchmark")
    rep.text(f"Phantom {shape[0]} x {shape[1]} px, {phantom.config['placed']} particles, {n_frames} frames, seed "
             f"{seed}; denoiser budget {time_budget_s:g} s. Targets: F1 >= 0.9, stage accuracy >= 0.95, transition "
             "error < 2 frames, moved < 1 %, < 2 s per frame at 1000 x 1000 px.")
    rep.table(rows)
    if timing:
        rep.table([timing])
    rep.write(out)
    report(1.0, "done")
    return record


#: Targets of the optical workflow (docs/optical.md): figure -> (kind, bound); "min": the worst is the lowest.
OPTICAL_TARGETS: dict[str, tuple[str, float]] = {
    "instance_f1": ("min", 0.9), "stage_accuracy": ("min", 0.95), "t_II_err_frames": ("max", 1.99),
    "t_I_err_frames": ("max", 1.99), "moved_regions_pct": ("max", 1.0), "accuracy_drop_pts": ("max", 1.0),
}


def summarise_variants(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the worst case, the median and the spread (max - min) of every figure, per input, over variants.

    Parameters
    ----------
    rows : list of dict
        One row per variant and input (``variant``, ``input`` and the figures of :func:`_benchmark_row`, plus
        ``accuracy_drop_pts``: raw stage accuracy minus this input's, in points).

    Returns
    -------
    list of dict
        One row per input and figure: ``worst``, ``worst_variant``, ``median``, ``spread``, ``target`` and
        ``met`` (whether the worst case meets it; None where the figure has no target).
    """
    out = []
    for name in dict.fromkeys(r["input"] for r in rows):
        mine = [r for r in rows if r["input"] == name]
        for figure, (kind, bound) in OPTICAL_TARGETS.items():
            pairs = [(r[figure], r["variant"]) for r in mine if r.get(figure) is not None
                     and np.isfinite(r[figure])]
            if not pairs:
                continue
            values = np.array([v for v, _ in pairs], float)
            at = int(np.argmin(values) if kind == "min" else np.argmax(values))
            worst = float(values[at])
            met = worst >= bound if kind == "min" else worst <= bound
            out.append({"input": name, "figure": figure, "worst": round(worst, 4), "worst_variant": pairs[at][1],
                        "median": round(float(np.median(values)), 4), "spread": round(float(np.ptp(values)), 4),
                        "target": f"{'>=' if kind == 'min' else '<='} {bound:g}", "met": bool(met)})
    return out


def benchmark_optical_variants(
    output: str | os.PathLike,
    *,
    n_variants: int = 8,
    shape: tuple[int, int] = (192, 192),
    n_particles: int = 50,
    n_frames: int = 16,
    denoisers: tuple[str, ...] = ("video",),
    time_budget_s: float = 90.0,
    max_steps: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Benchmark the optical workflow over a family of phantoms: worst case, median and spread of every figure.

    Variant ``i`` is :func:`operando.optical.draw_variant` of seed ``seed + i`` (seed 0: the default phantom),
    rendered with the same seed; each is analysed raw and after each denoiser and scored against its truth.

    Parameters
    ----------
    output : path
        Output folder: ``variant_<seed>/`` (phantom and analyses), ``benchmark.json``, ``report.md``.
    n_variants : int
        Variants drawn.
    shape, n_particles, n_frames : tuple, int, int
        Every variant's frame size, particles asked for and frames.
    denoisers : tuple of str
        Denoisers compared with the raw frames.
    time_budget_s : float
        Training budget of each neural denoiser, seconds.
    max_steps : int, optional
        Neural denoisers stop after this many steps (step-bounded: the figures do not depend on the load).
    seed : int
        First variant seed.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    dict
        ``rows`` (one per variant and input), ``summary`` (:func:`summarise_variants`), ``variants`` (the
        drawn settings) and the configuration.
    """
    from ..optical import background_class, draw_variant, simulate_graphite_phantom
    from ..report import Report

    if n_variants < 1:
        raise InputError(f"--variants {n_variants}: give at least 1 variant")
    configs = [OpticalConfig(denoise=method, time_budget_s=time_budget_s, max_steps=max_steps, seed=seed)
               for method in ("none", *denoisers)]  # refused before any work
    report = progress or (lambda f, m: None)
    out = Path(output)
    rows, variants = [], []
    steps = n_variants * len(configs)
    for i in range(n_variants):
        vseed = seed + i
        settings = draw_variant(vseed)
        report(i * len(configs) / steps, f"variant {vseed}: phantom")
        phantom = simulate_graphite_phantom(shape=shape, n_particles=n_particles, n_frames=n_frames, rng=vseed,
                                            **settings)
        folder = out / f"variant_{vseed}"
        write_phantom(phantom, folder / "phantom")
        variants.append({"variant": vseed, "background": background_class(settings), **phantom.config})
        raw_accuracy = None
        for j, cfg in enumerate(configs):
            name = "raw" if cfg.denoise == "none" else cfg.denoise
            report((i * len(configs) + j) / steps, f"variant {vseed}: {name}")
            start = time.perf_counter()
            result = analyze_video(phantom.video, config=cfg)
            row = _benchmark_row(name, phantom, result, folder, time.perf_counter() - start)
            raw_accuracy = row["stage_accuracy"] if raw_accuracy is None else raw_accuracy
            row = {"variant": vseed, "background": background_class(settings), **row,
                   "accuracy_drop_pts": round(100 * (raw_accuracy - row["stage_accuracy"]), 3),
                   "found": int(result.table.ids.size), "placed": phantom.config["placed"],
                   "background_model": (result.notes or {}).get("background_model"),
                   "warnings": len((result.notes or {}).get("warnings", []))}
            rows.append(row)
    summary = summarise_variants(rows)
    record = {"rows": rows, "summary": summary, "variants": variants, "n_variants": n_variants,
              "shape": list(shape), "n_particles": n_particles, "n_frames": n_frames, "denoisers": list(denoisers),
              "time_budget_s": time_budget_s, "max_steps": max_steps, "seed": seed,
              "targets": {k: list(v) for k, v in OPTICAL_TARGETS.items()}, "versions": _versions()}
    write_json_file(out / "benchmark.json", record)
    rep = Report("Optical graphite benchmark over a phantom family")
    rep.text(f"{n_variants} variants (seeds {seed}..{seed + n_variants - 1}, operando.optical.draw_variant), "
             f"{shape[0]} x {shape[1]} px, {n_particles} particles asked, {n_frames} frames; denoisers "
             f"{', '.join(denoisers) or 'none'} (budget {time_budget_s:g} s, max_steps {max_steps}). The worst case "
             "of every figure over the variants, its median and spread (max - min); 'met' is the worst case "
             "against the target. accuracy_drop_pts: raw stage accuracy minus this input's, in points.")
    rep.table(summary)
    rep.heading("Every variant")
    rep.table([{k: v for k, v in r.items() if k not in ("hue_shift_deg", "delta_e", "moved_pixels_pct")}
               for r in rows])
    rep.write(out)
    report(1.0, "done")
    return record


def _versions() -> dict[str, str]:
    """Return the versions of operando, numpy, scipy and scikit-image."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("operando", "numpy", "scipy", "scikit-image"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def run_optical_demo(output: str | os.PathLike, *, denoise: str = "none", time_budget_s: float = 60.0,
                     seed: int = 0, quick: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Simulate a small phantom, analyse it, write everything and score it against its truth.

    Parameters
    ----------
    output : path
        Output folder: ``phantom/`` (video and truth), ``analysis/`` (the analysis), ``score.json``.
    denoise : str
        ``none`` or a denoising method.
    time_budget_s : float
        Denoiser budget, seconds.
    seed : int
        Seed.
    quick : bool
        A tiny phantom (seconds).
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    dict
        The score (:func:`score_analysis`) with the output paths.
    """
    from ..optical import simulate_graphite_phantom

    config = OpticalConfig(denoise=denoise, time_budget_s=time_budget_s, seed=seed)  # refused before any work
    out = Path(output)
    shape, n, frames = ((128, 128), 25, 12) if quick else ((256, 256), 90, 30)
    phantom = simulate_graphite_phantom(shape=shape, n_particles=n, n_frames=frames, rng=seed)
    write_phantom(phantom, out / "phantom")
    result = analyze_video(phantom.video, config=config, progress=progress)
    files = write_analysis(result, out / "analysis", source=phantom.video)
    score = score_analysis(out / "analysis", out / "phantom" / "truth")
    write_json_file(out / "score.json", score)
    return {**score, "report": str(files["report"]), "folder": str(out)}
