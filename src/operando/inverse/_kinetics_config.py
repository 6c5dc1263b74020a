"""Settings of :func:`operando.inverse.learn_kinetics`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class KineticsConfig(BaseModel):
    """How the reaction kinetics are fitted (lengths in pixels, energies in kT, times in the video's unit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["acr", "chr"] = Field("acr", description="Allen-Cahn-reaction or Cahn-Hilliard-reaction.")
    n_mu: int = Field(5, ge=1, le=12, description="Legendre terms of the excess mu_h (a_1..a_n).")
    n_j0: int = Field(4, ge=3, le=10, description="Terms of ln j0: a constant, ln c, ln(1 - c), then Legendre "
                      "P_2, P_3, ...")
    n_d: int = Field(2, ge=1, le=8, description="CHR: Legendre terms of ln D (ignored with ACR).")
    k_modes: int | None = Field(None, ge=1, le=400, description="Rate-map modes per particle (default: area / 8, "
                                "3 to 80).")
    kappa: float = Field(1.0, gt=0, le=100, description="Gradient energy, kT px^2 (start, or fixed).")
    fit_kappa: bool = Field(True, description="Fit kappa (else hold it).")
    alpha: float = Field(0.5, gt=0, lt=1, description="Transfer coefficient.")
    window: int = Field(2, ge=1, le=50, description="Frames predicted from each observed starting frame.")
    steps_per_frame: int | None = Field(None, ge=1, le=10_000, description="Solver steps per frame interval "
                                        "(default: from the rates' stiffness).")
    fit_initial_states: int | None = Field(None, ge=0, le=200, description="Errors-in-variables: iterations of "
                                           "the joint fit of the laws with every window's starting state (default: "
                                           "20 when the noise sd is known, else 0).")
    continuity: float = Field(10.0, ge=0, le=100, description="Errors-in-variables over the whole video: weight (in "
                              "units of the noise) asking each window's start to agree with the earlier window's "
                              "prediction of that frame (0: each window's start alone).")
    current_window: int = Field(5, ge=0, le=101, description="Frames of the Savitzky-Golay smoothing of each "
                                "particle's mean before its current is taken (0: plain differences).")
    min_particle_px: int = Field(30, ge=4, description="Smallest particle, pixels.")
    max_iter: int = Field(40, ge=1, le=1000, description="Levenberg-Marquardt iterations.")
    bootstrap: int = Field(0, ge=0, le=1000, description="Resamples of windows for the bands (0: Gauss-Newton "
                           "covariance only).")
    bootstrap_iter: int = Field(3, ge=1, le=50, description="Gauss-Newton steps per resample.")
    compare_models: bool = Field(True, description="Also fit a uniform k and test a symmetric j0.")
    frame_interval: float | None = Field(None, gt=0, description="Time between frames (default: the video's).")
    time_budget_s: float | None = Field(None, gt=0, description="Wall-clock budget, seconds.")
