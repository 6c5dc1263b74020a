"""The settings of one physics inversion (saved in the result's JSON, so that a fit can be repeated)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._errors import InputError, validation_reason


class InversionConfig(BaseModel):
    """Settings of :func:`operando.inverse.learn_physics` (stored whole in the result's JSON).

    The random seed is not a setting: it is the ``rng`` argument of ``learn_physics``, and the concrete seed
    used is stored beside the configuration (``settings["seed"]``). A fit is repeated with
    ``learn_physics(video, InversionConfig(**doc["settings"]["config"]), rng=doc["settings"]["seed"])``.
    """

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    n_mu: int = Field(4, ge=1, description="Legendre terms of the excess mu_h (a_1..a_n_mu)")
    n_d: int = Field(2, ge=1, description="Legendre terms of ln D (b_0..b_{n_d - 1})")
    kappa: float = Field(0.002, gt=0, description="gradient-energy coefficient (the start when fit_kappa)")
    fit_kappa: bool = False
    dx: float | None = Field(None, gt=0, description="grid spacing (default: the stack's pixel size, else 0.01)")
    frame_interval: float | None = Field(None, gt=0, description="time between frames (default: the stack's)")
    window: int = Field(3, ge=1, description="frames predicted from each starting frame (shooting horizon)")
    stride: int | None = Field(None, ge=1, description="spacing of window starts (default: window)")
    min_std: float = Field(0.05, ge=0, description="windows start once the frames have this much contrast")
    dt: float = Field(5e-5, gt=0, description="largest solver time step (>= 4x the data's: no inverse crime)")
    smoothness: float = Field(0.0, ge=0, description="weight of the penalty sum n(n+1) coefficient^2")
    max_iter: int = Field(30, ge=1, description="Levenberg-Marquardt iterations per fit")
    fit_initial_states: int = Field(0, ge=0, description="errors-in-variables rounds after the fit (0: off)")
    bootstrap: int = Field(0, ge=0, description="bootstrap resamples of windows (0: Gauss-Newton covariance only)")
    bootstrap_iter: int = Field(3, ge=1, description="Gauss-Newton steps per bootstrap resample")
    time_budget_s: float | None = Field(None, gt=0, description="wall-clock budget of fit and bootstrap together")

    @classmethod
    def from_keywords(cls, **settings: object) -> InversionConfig:
        """Build a configuration from keyword settings; an invalid or misspelt one is an :class:`InputError`."""
        try:
            return cls(**settings)
        except ValidationError as exc:
            raise InputError(f"inversion setting {validation_reason(exc)}; see InversionConfig for the settings and "
                             "their ranges") from None
