"""Settings and result of the STXM composition pipeline: :class:`CompositionConfig`, :class:`CompositionRun`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..._errors import InputError
from ..._regions import Region, parse_region
from ...xray import check_energy_list


class CompositionConfig(BaseModel):
    """Settings of :func:`run_composition` (saved in the JSON summary beside every output)."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    energies_ev: list[float] | None = Field(None, description="use these energies of the stack (nearest within "
                                            "0.3 eV); default all")
    references: str | None = Field(None, description="CSV energy_ev,<phase>,<phase>; default built-in (approx.)")
    i0: str = Field("auto", description="'auto' (bright-pixel histogram) or a particle-free region 'y0:y1,x0:x1' "
                    "(rows, columns; pixels, end exclusive)")
    per_line_i0: bool = Field(True, description="I0 per scan line from its particle-free pixels (destripes)")
    row_offsets: bool = Field(False, description="also subtract each line's median background OD")
    ring_current: bool = False
    gain: float = Field(1.0, gt=0, description="detector units per photon")
    align: Literal["spline", "linear", "integer", "fourier", "none"] = "spline"
    align_weight: Literal["intensity", "gradient"] = Field(
        "intensity", description="correlate OD (best on the phantom: particles absorb at every energy) or its "
        "gradient magnitude (for contrast that inverts between images)")
    denoise: str = Field("none", description="none, a method of operando.denoise (tv, n2v2, structn2v, video, nlm, "
                         "bm3d...), auto (denoise() chooses from the measured noise; the choice and its reason are "
                         "recorded in the summary), or several joined by '+' (tv+bm3d: the mean of their outputs)")
    denoise_stage: Literal["before", "after"] = Field("before", description="denoise OD before the ratio or x after")
    joint_energies: bool = Field(True, description="tv before the ratio: one TV weight for all energies of a frame, "
                                 "calibrated J-invariantly on them together (measured better on the phantom)")
    time_budget_s: float = Field(120.0, gt=0, description="training budget of a neural denoiser per run")
    ensemble: int = Field(1, ge=1, description="networks averaged; > 1 and sd='ensemble' gives the sd from spread")
    sd: Literal["auto", "poisson", "split", "residual", "ensemble"] = Field(
        "auto", description="auto: Poisson propagation for raw data; for denoised data 'split' (the counts thinned "
        "into two independent halves, each denoised: any denoiser) when the counts are whole numbers, else "
        "'residual' (blind-spot denoisers only), or 'ensemble' spread when ensemble > 1")
    split_parts: int = Field(2, ge=2, description="sd 'split': independent Poisson parts the counts are thinned "
                             "into (each denoised; the output is their mean)")
    split_repeats: int = Field(2, ge=1, description="sd 'split': independent thinnings of the same counts; output "
                               "and variance are their means (a less noisy, conservative variance)")
    energy_covariance: bool = Field(True, description="sd 'split': propagate the denoised errors' correlation "
                                    "between energies (measured by the split) into sd(x), not independent errors")
    od_smooth_px: float = Field(0.0, ge=0, description="denoised OD before the ratio: Gaussian smoothing (px), "
                                "so x is a thickness-weighted local mean (0: off; 0.7 helped on 96 px phantoms, "
                                "hurt where domains are a few pixels wide: see docs/xray.md)")
    significance: float = Field(3.0, gt=0, description="particle mask: t / sd(t) above this")
    constant: bool = Field(False, description="fit a constant OD term (needs >= 3 energies)")
    seed: int = 0

    @field_validator("energies_ev")
    @classmethod
    def _energies(cls, value: list[float] | None) -> list[float] | None:
        """None (all energies) or one or more finite, distinct energies."""
        if value is not None:
            check_energy_list(value)
        return value

    @field_validator("i0")
    @classmethod
    def _i0(cls, value: str) -> str:
        """'auto' or a region 'y0:y1,x0:x1' with 0 <= y0 < y1 and 0 <= x0 < x1 (the old 'y0:y1:x0:x1' refused)."""
        if value != "auto":
            try:
                parse_region(value, "i0")
            except InputError as exc:  # pydantic names the field and the value: the reason only
                raise ValueError(str(exc).removeprefix(f"i0 {value!r}: ")) from None
        return value


@dataclass
class CompositionRun:
    """What :func:`run_composition` returns.

    Attributes
    ----------
    maps : ndarray, shape (T, 3, Y, X)
        float32 channels x, thickness (um), sd of x; NaN outside the particle mask.
    mask : ndarray of bool, shape (T, Y, X)
    od : ndarray, shape (T, E, Y, X)
        Aligned (and denoised, if asked) optical density used for the unmixing.
    od_raw : ndarray, shape (T, E, Y, X)
        Optical density before denoising and alignment (scan geometry).
    sd_thickness : ndarray, shape (T, Y, X)
    components : ndarray, shape (T, K, Y, X)
        Amount of each phase.
    summary : dict
        JSON-ready record of everything done (energies, I0, shifts, stripes, mask, mean x per frame, config).
    """

    maps: np.ndarray
    mask: np.ndarray
    od: np.ndarray
    od_raw: np.ndarray
    sd_thickness: np.ndarray
    components: np.ndarray
    summary: dict[str, Any] = field(default_factory=dict)


def i0_region(text: str) -> str | Region:
    """Return ``"auto"`` or the I0 region of ``--i0`` text (``"y0:y1,x0:x1"``; the config has checked it)."""
    return "auto" if text == "auto" else parse_region(text, "--i0")


def sd_choice(cfg: CompositionConfig, counts: np.ndarray) -> str:
    """Return the sd source a run uses: ``cfg.sd``, or for ``auto`` the one that fits the data and denoiser."""
    if cfg.sd != "auto":
        return cfg.sd
    if cfg.denoise == "none":
        return "poisson"
    if cfg.ensemble > 1:
        return "ensemble"
    whole = counts.dtype.kind in "iu" or bool(np.all(np.mod(counts[np.isfinite(counts)], 1) == 0))
    return "split" if whole and cfg.denoise_stage == "before" else "residual"


def sd_text(kind: str, cfg: CompositionConfig) -> str:
    """Return the summary's sentence on where sd(x) comes from."""
    return {
        "poisson": "Poisson counting statistics and the I0 estimate, propagated through OD and the unmixing",
        "residual": f"denoised ({cfg.denoise}, {cfg.denoise_stage} the ratio): local blind-spot residual estimate "
                    "mean((raw - denoised)^2) - Poisson variance, propagated through the unmixing",
        "split": f"denoised ({cfg.denoise}, before the ratio): counts thinned into {cfg.split_parts} independent "
                 f"parts ({cfg.split_repeats} independent thinnings), each part denoised, output their mean; its local "
                 "error variance from the cross-residuals (valid for any denoiser; the mean over the thinnings, "
                 "conservative), propagated through the unmixing" + (
                     " with the errors' correlation between energies (split cross moments)" if cfg.energy_covariance
                     else " as independent between energies"),
        "ensemble": f"denoised ({cfg.denoise}): spread of an ensemble of {cfg.ensemble} networks (model spread "
                    "only; it does not include the bias common to all members)",
    }[kind]
