"""The settings of an optical analysis (:class:`OpticalConfig`) and their checks against a video."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..._errors import InputError
from ..._regions import Region, as_region, format_region, parse_region

#: What the analysis takes besides the methods of operando.denoise (operando.denoise.check_method's ``allow``).
DENOISE_CHOICES = ("none", "auto")
#: The spelling of a region in the configuration and in stages.json (operando._regions).
REGION_EXAMPLE = "'40:52,100:112'"


class OpticalConfig(BaseModel):
    """Settings of :func:`analyze_video` (saved with every analysis)."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    denoise: str = Field("none", description="none, auto (chosen from the measured noise, the choice recorded), "
                         "or a method of operando.denoise (video, gaussian, ...)")
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
    white_region: str | None = Field(None, description="'y0:y1,x0:x1' of a neutral region (rows, columns; pixels, "
                                     "end exclusive)")
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
        from ...denoise import check_method

        return check_method(value, "denoise", allow=DENOISE_CHOICES)

    @field_validator("frames_of_interest")
    @classmethod
    def _frames_not_negative(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(f < 0 for f in value):
            raise ValueError("frame numbers start at 0; give frames >= 0")
        return value

    @field_validator("white_region", mode="before")
    @classmethod
    def _region_text(cls, value: Any) -> str | None:
        return None if value is None else format_region(region_of(value, "white_region"))

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


def region_of(value: Any, option: str) -> Region:
    """Return the :class:`~operando._regions.Region` of ``'y0:y1,x0:x1'`` (or a Region); refuse a list by name."""
    if isinstance(value, (list, tuple)) and not isinstance(value, Region):  # the old [y0, y1, x0, x1]
        return parse_region(str(list(value)), option)
    return as_region(value, option)


def _numbers(value: Any, n: int) -> bool:
    """Return True if ``value`` is a list of ``n`` finite numbers."""
    return (isinstance(value, (list, tuple)) and len(value) == n
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value))


def _check_stage_spec(name: str, spec: Any) -> None:
    """Refuse a stage colour that is not [r, g, b], {"lab": [L, a, b]} or {"frame": n, "region": "y0:y1,x0:x1"}."""
    what = (f"stage {name}: {spec!r} is not a colour; give [r, g, b] (0-255 or 0-1), {{\"lab\": [L, a, b]}} or "
            f"{{\"frame\": n, \"region\": {REGION_EXAMPLE}}}")
    if isinstance(spec, dict) and "lab" in spec:
        if not _numbers(spec["lab"], 3):
            raise ValueError(what)
    elif isinstance(spec, dict) and "region" in spec:
        frame = spec.get("frame", 0)
        region_of(spec["region"], f"stage {name}: region")
        if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
            raise ValueError(f"stage {name}: frame {frame!r} is not a frame number; give a whole number >= 0")
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
        region = parse_region(config.white_region, "white_region")
        if region.y1 > shape[0] or region.x1 > shape[1]:
            raise InputError(f"white_region {config.white_region!r} reaches outside the {shape[0]} x {shape[1]} "
                             "frames; give a region inside them")
    for name, spec in (config.stages or {}).items():
        if isinstance(spec, dict) and "region" in spec:
            frame, region = int(spec.get("frame", 0)), region_of(spec["region"], f"stage {name}: region")
            if frame > last:
                raise InputError(f"stage {name}: frame {frame} is outside the video's {n_frames} frames; use "
                                 f"0..{last}")
            if region.y1 > shape[0] or region.x1 > shape[1]:
                raise InputError(f"stage {name}: region {format_region(region)!r} reaches outside the {shape[0]} x "
                                 f"{shape[1]} frames; give a region inside them")
