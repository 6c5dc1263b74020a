"""The settings of one neutron analysis: a pydantic model, checked when made, frozen, saved in metrics.json."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from ..._errors import InputError
from ..._regions import Region, as_region, format_region, parse_region

DenoiseTarget = Literal["delta_a", "transmission", "raw"]


def parse_reference(text: str, option: str = "--reference-frame") -> int | tuple[int, int]:
    """Parse the reference frames: ``N``, or a range ``start:stop`` of frames averaged (``--reference-frame``).

    ``option`` names the field in the message of a refused text (InputError).
    """
    try:
        if ":" in text:
            a, b = text.split(":")
            return int(a), int(b)
        return int(text)
    except ValueError:
        raise InputError(f"{option} {text!r} is not a frame N or a range start:stop (e.g. 0 or 0:4)") from None


def _region(value: Any, what: str) -> Region:
    """Return a region from its text ``'y0:y1,x0:x1'`` or a Region; a plain list is refused naming the spelling."""
    if isinstance(value, (list, tuple)) and not isinstance(value, Region):
        return parse_region(str(list(value)), what)  # the old list spelling: refused, the one spelling named
    return as_region(value, what)


class AnalysisConfig(BaseModel):
    """Settings of one analysis (:func:`analyze_series`, ``operando neutron analyze``; saved in metrics.json).

    Frozen: change a setting with ``config.model_copy(update={...})`` (a copy, checked again by
    ``AnalysisConfig(**{**config.model_dump(), ...})``). Regions are text ``'y0:y1,x0:x1'`` (rows then columns,
    end exclusive) or :class:`operando._regions.Region`; the older list spelling is refused with this one named.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    reference: int | tuple[int, int] = Field(
        0, description="reference frame N, or a range (start, stop) of frames averaged (A_ref)")
    denoise: Literal["video", "auto", "none"] = Field(
        "video", description="video (the paper's way), auto (chosen from the measured noise by operando.denoise; "
        "the choice and its reason are recorded in metrics.json) or none")
    denoise_target: DenoiseTarget = Field(
        "transmission", description="what is denoised: the transmission (measured best on the phantom), Delta A "
        "itself, or the raw counts")
    polish: Literal["tv", "none"] = Field(
        "tv", description="total variation on the denoised A_ref and on each Delta A frame (see _polish)")
    time_budget_s: float = Field(120.0, gt=0, allow_inf_nan=False, description="denoiser budget, seconds")
    max_steps: int | None = Field(None, ge=1, description="the denoiser's training steps (None: as many as the "
                                  "budget allows)")
    mean_correction: Literal["region", "none"] = Field(
        "region", description="restore each layer region's mean from the raw data (restore_region_means)")
    seed: int = Field(0, ge=0, description="seed of the denoiser")
    k: float = Field(3.0, gt=0, allow_inf_nan=False, description="active-area threshold in propagated sd")
    n_avg: int = Field(3, ge=1, description="frames averaged at each half-cycle boundary")
    register_drift: bool = Field(True, description="register the frames' drift (sub-pixel shifts)")
    drift_region: Region | None = Field(None, description="stable region 'y0:y1,x0:x1' for the drift "
                                        "registration (None: the whole frame)")
    open_regions: tuple[Region, ...] = Field((), description="air regions 'y0:y1,x0:x1' for the beam correction "
                                             "of raw input")
    half_cycle_frames: tuple[int, ...] | None = Field(None, description="half-cycle boundary frames (without a "
                                                      "cycler record)")
    li6_fraction: float = Field(0.0759, ge=0, le=1, allow_inf_nan=False, description="6Li atom fraction "
                                "(natural 0.0759)")
    cross_section_barn: float | None = Field(None, gt=0, allow_inf_nan=False, description="Li cross-section "
                                             "(None: from li6_fraction)")
    gain: float = Field(1.0, gt=0, allow_inf_nan=False, description="detector counts per detected neutron")

    @field_validator("reference")
    @classmethod
    def _reference(cls, value: int | tuple[int, int]) -> int | tuple[int, int]:
        if isinstance(value, tuple):
            if not 0 <= value[0] < value[1]:
                raise ValueError(f"{value!r} is not a range; give a frame N >= 0 or a range (start, stop) with "
                                 "0 <= start < stop")
        elif value < 0:
            raise ValueError(f"{value!r}: give a frame N >= 0 or a range (start, stop)")
        return value

    @field_validator("half_cycle_frames")
    @classmethod
    def _increasing(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and (len(value) < 2 or value[0] < 0
                                  or any(b <= a for a, b in zip(value, value[1:], strict=False))):
            raise ValueError(f"{value!r}: give at least two increasing frame numbers >= 0, e.g. (3, 35, 67)")
        return value

    @field_validator("drift_region", mode="before")
    @classmethod
    def _drift_region(cls, value: Any) -> Region | None:
        return None if value is None else _region(value, "region")

    @field_validator("open_regions", mode="before")
    @classmethod
    def _open_regions(cls, value: Any) -> tuple[Region, ...]:
        if isinstance(value, (str, Region)):
            value = (value,)
        return tuple(_region(v, "region") for v in value)

    @field_serializer("drift_region")
    def _drift_text(self, value: Region | None) -> str | None:
        return None if value is None else format_region(value)

    @field_serializer("open_regions")
    def _open_text(self, value: tuple[Region, ...]) -> list[str]:
        return [format_region(v) for v in value]
