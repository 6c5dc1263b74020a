"""The training configuration and the trained model's record (no torch import: both are plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .._errors import InputError, validation_reason
from ._methods import NEURAL

if TYPE_CHECKING:
    import torch


#: The networks of the method table (its ``neural`` rows), as the type of ``TrainConfig.method``.
NetworkMethod = Literal[NEURAL]  # type: ignore[valid-type]


class TrainConfig(BaseModel):
    """Settings of one training run (saved as JSON beside the weights and in the denoised Stack's metadata).

    ``seed`` is ``None`` until a run draws one; every trained model's config holds the concrete seed used.
    """

    model_config = ConfigDict(extra="forbid")
    version: int = 2
    method: NetworkMethod = "video"
    frames: int = Field(5, ge=3, description="window of the video denoiser (odd), target frame in the middle")
    blind_spot: bool | None = Field(
        None, description="video: also show the target frame with a checkerboard blind spot (None: on unless "
        "the diagnosis finds spatially correlated noise, which the visible half of the frame would leak)")
    blind_spot_kind: Literal["donut", "checkerboard"] = Field(
        "donut", description="donut: the target frame through a centre-less convolution, one inference pass, every "
        "pixel scored; checkerboard: half the target frame hidden, two inference passes (operando 0.1 models)")
    donut_size: int = Field(9, ge=3, description="donut blind spot: side of the centre-less kernel (odd)")
    loss: Literal["auto", "mse", "l1", "poisson"] = "auto"
    patch: int = Field(64, ge=8)
    batch: int = Field(
        4, ge=1, description="patches per step (on 2 CPU cores training is limited by the number of steps: "
        "4 patches of 64^2 gave 0.6 dB more than 8 and 0.8 dB more than 2 at 300 s)")
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-5, ge=0, description="AdamW's decoupled weight decay")
    max_steps: int = Field(20000, ge=1)
    time_budget_s: float = Field(300.0, gt=0)
    val_every: int = Field(50, ge=1)
    patience: int = Field(
        200, ge=1, description="validation checks without improvement before stopping; the weights of the "
        "best check are returned")
    mask_fraction: float = Field(0.02, gt=0, lt=0.5)
    line_width: int = Field(-1, description="structn2v: pixels masked each side along X (-1: whole row)")
    blind_spot_radius_px: int | None = Field(
        None, ge=0, le=5, description="radius (Chebyshev, pixels) the blind spot hides around each scored pixel: "
        "the video donut's hole and the square that shaped hides (0: the pixel alone). None: the measured noise "
        "correlation length (operando.noise.measure_noise_correlation)")
    augment: bool = True
    ema_decay: float = Field(0.995, ge=0, lt=1, description="weight averaging (0: off)")
    impulse_filter: bool | None = Field(
        None, description="video: replace impulse outliers in the neighbour frames by their 3x3 median before "
        "the network sees them (None: when the diagnosis finds impulse noise)")
    skip_impulses: bool | None = Field(
        None, description="leave pixels that hold impulses out of the loss when they are known exactly (at the "
        "data's minimum or maximum: salt-and-pepper, dead or saturated pixels) and fit the rest with squared "
        "error, whose optimum is the mean (L1's is the median, biased for skewed noise such as Poisson counts). "
        "None: when the diagnosis finds impulse noise that sits at the extremes")
    base: int = Field(16, ge=4)
    depth: int = Field(3, ge=1, le=4)
    seed: int | None = Field(None, ge=0, description="seed of the run (None: drawn; the trained model records it)")

    @model_validator(mode="after")
    def _odd_window(self) -> TrainConfig:
        if self.frames % 2 == 0:
            raise ValueError(f"frames must be odd (target in the middle), got {self.frames}")
        if self.donut_size % 2 == 0:
            raise ValueError(f"donut_size must be odd (the hole in the middle), got {self.donut_size}")
        return self


def make_config(**settings: Any) -> TrainConfig:
    """Build a :class:`TrainConfig`, turning pydantic's validation error into one ``InputError`` line.

    Parameters
    ----------
    **settings
        TrainConfig fields.

    Returns
    -------
    TrainConfig
        The validated configuration.
    """
    try:
        return TrainConfig(**settings)
    except ValidationError as exc:
        raise InputError(f"bad training settings: {validation_reason(exc)}") from None


def config_from(config: TrainConfig | None, **keywords: Any) -> TrainConfig:
    """One configuration from ``config`` *or* keyword settings (the rule of :func:`train_denoiser`).

    Keywords that are ``None`` are not given. Without ``config`` the given keywords build a fresh TrainConfig
    (defaults for the rest). With ``config``, a keyword fills a setting the config left at its default (e.g.
    ``TrainConfig(max_steps=3000)`` with ``method="n2v2"``); a keyword that contradicts a setting the config
    sets explicitly raises InputError instead of being merged silently.

    Parameters
    ----------
    config : TrainConfig or None
        The full configuration, if given.
    **keywords
        Shorthand settings (``method``, ``frames``, ``time_budget_s``, ``max_steps``, ``loss``).

    Returns
    -------
    TrainConfig
        ``config`` itself, or the configuration built from the keywords.
    """
    given = {k: v for k, v in keywords.items() if v is not None}
    if config is None:
        return make_config(**given)
    for key, value in given.items():
        if key in config.model_fields_set and getattr(config, key) != value:
            raise InputError(
                f"{key}={value!r} conflicts with config.{key}={getattr(config, key)!r}; give the settings either "
                f"in config (config.model_copy(update={{{key!r}: {value!r}}})) or as keywords, not both")
    unset = {k: v for k, v in given.items() if k not in config.model_fields_set and getattr(config, k) != v}
    return make_config(**{**config.model_dump(exclude_unset=True), **unset}) if unset else config


def concrete_seed(rng: int | np.random.Generator | None) -> int:
    """Return a concrete non-negative seed from ``rng``: an int is kept, a Generator or None draws one.

    Parameters
    ----------
    rng : int, Generator or None
        The seed source.

    Returns
    -------
    int
        The seed to use and record.
    """
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        if rng < 0:
            raise InputError(f"rng must be a non-negative seed, got {rng}; pass a seed >= 0 or a Generator")
        return int(rng)
    return int(np.random.default_rng(rng).integers(2**31))


def resolve_seed(rng: int | np.random.Generator | None, config_seed: int | None) -> int:
    """Return the run's concrete seed from ``rng`` and a configuration's ``seed`` (which may not disagree).

    Parameters
    ----------
    rng : int, Generator or None
        None: ``config_seed`` when set, else a drawn seed. An int: itself (InputError if ``config_seed`` is set
        and differs). A Generator: a seed drawn from it (``config_seed`` must then be None).
    config_seed : int or None
        ``TrainConfig.seed``.

    Returns
    -------
    int
        The seed to use and record.
    """
    if rng is None:
        return config_seed if config_seed is not None else concrete_seed(None)
    if config_seed is not None and (not isinstance(rng, int | np.integer) or int(rng) != config_seed):
        raise InputError(f"rng={rng!r} conflicts with config.seed={config_seed}; give the seed in one place "
                         "(rng=None to use config.seed)")
    return concrete_seed(rng)


def child_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent child seeds of ``seed`` (``numpy.random.SeedSequence(seed).spawn(n)``).

    Parameters
    ----------
    seed : int
        The parent seed.
    n : int
        Number of children.

    Returns
    -------
    list of int
        One 32-bit seed per child.
    """
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(n)]


@dataclass
class TrainedDenoiser:
    """A trained network with everything needed to apply it: config, normalisation and history."""

    module: torch.nn.Module
    config: TrainConfig
    mean: np.ndarray
    scale: np.ndarray
    channels: int
    loss: str
    steps: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    stop_reason: str = ""  # "time_budget", "max_steps" or "early_stopping"
    best_step: int | None = None  # the step whose weight average is returned (best validation loss)
    auto: dict[str, object] | None = None  # what method="auto" chose and why (AutoChoice.to_dict), saved with it

    @property
    def is_video(self) -> bool:
        """True for the temporally masked video denoiser."""
        return self.config.method == "video"


def patch_shape(config: TrainConfig, height: int, width: int) -> tuple[int, int]:
    """Return the training patch: ``config.patch`` cropped to the frame, a multiple of 2**depth.

    Parameters
    ----------
    config : TrainConfig
        The run's settings.
    height, width : int
        Frame size in pixels.

    Returns
    -------
    tuple of int
        (patch height, patch width).
    """
    mult = 2**config.depth
    return min(config.patch, height) // mult * mult, min(config.patch, width) // mult * mult


def augment_rotates(config: TrainConfig, height: int, width: int) -> bool:
    """Tell whether augmentation turns patches by quarter turns (not for structn2v's row masks or oblong patches).

    Parameters
    ----------
    config : TrainConfig
        The run's settings.
    height, width : int
        Frame size in pixels.

    Returns
    -------
    bool
        True when quarter turns are drawn.
    """
    patch_h, patch_w = patch_shape(config, height, width)
    return config.method != "structn2v" and patch_h == patch_w
