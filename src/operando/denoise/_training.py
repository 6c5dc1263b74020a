"""Self-supervised training of the video denoiser and the Noise2Void family, CPU first, time-budgeted."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._errors import InputError
from .._stack import Stack, as_stack
from ._layout import to_working
from ._masking import blind_spot_mask, checkerboard, hide_checkerboard
from ._measured import exact_impulse_pixels
from ._robust import robust_sd, subsample
from ._unet import ImageDenoiser, VideoDenoiser

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


class TrainConfig(BaseModel):
    """Settings of one training run (saved as JSON beside the weights)."""

    model_config = ConfigDict(extra="forbid")
    version: int = 2
    method: Literal["video", "n2v", "n2v2", "structn2v"] = "video"
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
    seed: int = 0

    @model_validator(mode="after")
    def _odd_window(self) -> TrainConfig:
        if self.frames % 2 == 0:
            raise ValueError(f"frames must be odd (target in the middle), got {self.frames}")
        if self.donut_size % 2 == 0:
            raise ValueError(f"donut_size must be odd (the hole in the middle), got {self.donut_size}")
        return self


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

    @property
    def is_video(self) -> bool:
        """True for the temporally masked video denoiser."""
        return self.config.method == "video"


def memory_format(dev: torch.device) -> torch.memory_format:
    """Channels-last on CPU (1.2-1.7x faster convolutions there), the default layout elsewhere."""
    return torch.channels_last if dev.type == "cpu" else torch.contiguous_format


def pick_device(device: str) -> torch.device:
    """Resolve ``auto`` to CUDA when available, else CPU; refuse CUDA when there is none."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    if device not in ("cpu", "cuda"):
        raise InputError(f"unknown device {device!r}; use auto, cpu or cuda")
    return torch.device(device)


def neighbour_indices(t: int, n: int, half: int) -> list[int]:
    """Frames t-half..t+half without t; off the ends, the mirror t-d of a missing t+d (never t itself)."""
    out = []
    for d in [*range(-half, 0), *range(1, half + 1)]:
        i = t + d
        out.append(i if 0 <= i < n else t - d)
    return out


def build_model(config: TrainConfig, channels: int) -> torch.nn.Module:
    """Create the network for ``config`` with seeded initial weights (no global seeding)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.method == "video":
            return VideoDenoiser(config.frames - 1, channels, base=config.base, depth=config.depth,
                                 blind_spot=config.blind_spot_kind if config.blind_spot else None,
                                 donut_size=config.donut_size)
        return ImageDenoiser(channels, base=config.base, depth=config.depth, n2v2=config.method == "n2v2")


def _loss(pred: torch.Tensor, target: torch.Tensor, kind: str, mask: torch.Tensor | None,
          offset: torch.Tensor) -> torch.Tensor:
    if kind == "poisson":
        # pred and target are shifted back to the raw (non-negative) intensity scale
        lam = (pred + offset).clamp_min(1e-4)
        per = lam - (target + offset).clamp_min(0) * torch.log(lam)
    elif kind == "l1":
        per = (pred - target).abs()
    else:
        per = (pred - target) ** 2
    if mask is None:
        return per.mean()
    m = mask.expand_as(per).float()
    return (per * m).sum() / m.sum().clamp_min(1.0)


def patch_shape(config: TrainConfig, height: int, width: int) -> tuple[int, int]:
    """Training patch for frames of this size: ``config.patch`` cropped to the frame, a multiple of 2**depth."""
    mult = 2**config.depth
    return min(config.patch, height) // mult * mult, min(config.patch, width) // mult * mult


def augment_rotates(config: TrainConfig, height: int, width: int) -> bool:
    """Whether augmentation turns patches by quarter turns (not for structn2v's row masks or oblong patches)."""
    patch_h, patch_w = patch_shape(config, height, width)
    return config.method != "structn2v" and patch_h == patch_w


class _Sampler:
    """Draws training and validation batches from the working array (B, S, C, Y, X)."""

    def __init__(self, data: torch.Tensor, config: TrainConfig, generator: torch.Generator,
                 targets: torch.Tensor | None = None, context: torch.Tensor | None = None,
                 shown: torch.Tensor | None = None, valid: torch.Tensor | None = None) -> None:
        self.data = data
        self.valid = None if targets is not None else valid  # loss pixels (False: impulses), or None for all
        self.context = data if context is None else context  # what the neighbour frames show
        self.shown = data if shown is None else shown  # what the donut sees of the target frame
        self.targets = data if targets is None else targets
        self.supervised = targets is not None
        self.cfg = config
        self.gen = generator
        n_b, n_s, _, h, w = data.shape
        self.patch_h, self.patch_w = patch_shape(config, h, w)
        self.rotate = augment_rotates(config, h, w)
        mult = 2**config.depth
        if self.patch_h < mult or self.patch_w < mult:
            raise InputError(f"images of {h} x {w} pixels are too small for this network; need >= {mult} x {mult}")
        self.half = config.frames // 2
        if config.method == "video":
            targets = [(b, t) for b in range(n_b) for t in range(n_s)]
        else:
            targets = [(b, s) for b in range(n_b) for s in range(n_s)]
        # hold out every 10th frame (or image) as validation targets when there are enough
        if len(targets) >= 10:
            self.val_targets = targets[5::10]
            self.train_targets = [tg for i, tg in enumerate(targets) if (i - 5) % 10 != 0]
        else:
            self.val_targets = targets
            self.train_targets = targets

    def _crop(self, b: int, s: int, y: int, x: int) -> tuple[torch.Tensor, ...]:
        """(network inputs, loss target, noisy target frame as the network may see it, loss pixels) of a patch."""
        ph, pw = self.patch_h, self.patch_w
        noisy = self.data[b, s, :, y:y + ph, x:x + pw]
        if self.cfg.method == "video" and self.cfg.blind_spot_kind == "donut":
            noisy = self.shown[b, s, :, y:y + ph, x:x + pw]
        target = self.targets[b, s, :, y:y + ph, x:x + pw]
        if self.cfg.method == "video":
            idx = neighbour_indices(s, self.data.shape[1], self.half)
            inputs = self.context[b, idx, :, y:y + ph, x:x + pw].reshape(-1, ph, pw)
        else:
            inputs = noisy
        valid = self.valid[b, s, :, y:y + ph, x:x + pw] if self.valid is not None else torch.ones((), dtype=bool)
        return inputs, target, noisy, valid

    def batch(self, targets: list[tuple[int, int]], gen: torch.Generator, augment: bool):
        """Return (inputs, targets, loss mask or None) for one batch."""
        _, _, _, h, w = self.data.shape
        picks = torch.randint(0, len(targets), (self.cfg.batch,), generator=gen).tolist()
        ys = torch.randint(0, h - self.patch_h + 1, (self.cfg.batch,), generator=gen).tolist()
        xs = torch.randint(0, w - self.patch_w + 1, (self.cfg.batch,), generator=gen).tolist()
        crops = [self._crop(*targets[p], y, x) for p, y, x in zip(picks, ys, xs, strict=True)]
        inputs, target, centre, valid = (torch.stack([c[i] for c in crops]) for i in range(4))
        if augment:
            flips = torch.randint(0, 2, (2,), generator=gen).tolist()
            dims = [d for d, f in zip((-2, -1), flips, strict=True) if f]
            if dims:
                inputs, target, centre = inputs.flip(dims), target.flip(dims), centre.flip(dims)
                valid = valid.flip(dims) if self.valid is not None else valid
            if self.rotate:
                k = int(torch.randint(0, 4, (1,), generator=gen))
                inputs, target, centre = (torch.rot90(t, k, (-2, -1)) for t in (inputs, target, centre))
                valid = torch.rot90(valid, k, (-2, -1)) if self.valid is not None else valid
        valid = valid if self.valid is not None else None
        inputs, mask = self._hide(inputs, target, centre, gen)
        if valid is not None:
            mask = valid if mask is None else mask & valid
        return inputs, target, mask

    def _hide(self, inputs, target, centre, gen):
        """(network inputs, mask of the scored pixels or None for all) under the method's masking."""
        if self.cfg.method == "video":
            if not self.cfg.blind_spot:
                return inputs, None
            if self.cfg.blind_spot_kind == "donut":  # the network itself never sees the scored pixel
                return torch.cat([inputs, centre], dim=1), None
            # J-invariant checkerboard: half of the target frame is hidden, and only that half is scored
            parity = torch.randint(0, 2, (inputs.shape[0],), generator=gen)
            mask = checkerboard(target.shape[-2], target.shape[-1], parity)
            return torch.cat([inputs, hide_checkerboard(centre, mask)], dim=1), mask
        if self.supervised:
            return inputs, None
        line = self.cfg.line_width if self.cfg.method == "structn2v" else 0
        return blind_spot_mask(inputs, fraction=self.cfg.mask_fraction, generator=gen,
                               replacement="median" if self.cfg.method == "n2v2" else "neighbour",
                               line_width=line)


def fill_impulses_from_neighbours(norm: np.ndarray, context: np.ndarray, half: int, threshold: float = 3.0,
                                  known: np.ndarray | None = None) -> np.ndarray:
    """The target frames as the donut may see them: impulses replaced by the mean of the two nearest frames.

    A pixel is replaced when it differs from that temporal mean (of the impulse-filtered ``context``) by more
    than ``threshold`` robust SDs. The decision and the fill use only the pixel itself and other frames, never
    its spatial neighbours, so the blind spot stays exact (a spatial median here would leak the hidden pixel).
    ``known`` marks impulses known exactly (:func:`exact_impulse_pixels`, also a per-pixel decision): replaced too.
    """
    n_s = norm.shape[1]
    near = np.empty_like(norm)
    for s in range(n_s):
        idx = neighbour_indices(s, n_s, half)
        near[:, s] = 0.5 * (context[:, idx[half - 1]] + context[:, idx[half]])
    resid = norm - near
    scale = max(robust_sd(subsample(resid)), 1.4826e-6)
    outlier = np.abs(resid) > threshold * scale
    if known is not None:
        outlier |= known
    return np.where(outlier, near, norm).astype(np.float32)


def remove_impulses(norm: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Replace impulse outliers of (B, S, C, Y, X) data by their per-frame 3x3 median (float32 copy).

    ``known`` marks impulses known exactly (fixed values), replaced whether or not they stand out.
    """
    from scipy import ndimage

    med = ndimage.median_filter(norm, size=(1, 1, 1, 3, 3), mode="reflect")
    resid = norm - med
    outlier = np.abs(resid) > 3 * max(robust_sd(resid), 1.4826e-6)
    if known is not None:
        outlier |= known
    return np.where(outlier, med, norm).astype(np.float32)


def _check_video_input(work: np.ndarray, config: TrainConfig, stack: Stack) -> None:
    if config.method == "video" and work.shape[1] < config.frames:
        axis = "T" if "T" in stack.axes else ("E" if "E" in stack.axes else "T")
        raise InputError(
            f"need >= {config.frames} frames along {axis} for a {config.frames}-frame window, got {work.shape[1]} "
            f"(shape {stack.shape}, axes {stack.axes!r}); pass a longer video, --frames 3, or use n2v2"
        )


def train_denoiser(
    data: Stack | np.ndarray,
    *,
    method: str | None = None,
    axes: str | None = None,
    time_budget_s: float | None = None,
    max_steps: int | None = None,
    frames: int | None = None,
    loss: str | None = None,
    config: TrainConfig | None = None,
    rng: int | np.random.Generator | None = None,
    device: str = "auto",
    resume: TrainedDenoiser | str | Path | None = None,
    clean: Stack | np.ndarray | None = None,
    progress: Progress | None = None,
) -> TrainedDenoiser:
    """Train a denoiser on the noisy data itself (no clean data).

    Parameters
    ----------
    data : Stack or ndarray
        Video (``T``), spectral (``E``) or image stack, optionally RGB (``C``).
    method : {"video", "n2v", "n2v2", "structn2v"}, optional
        Temporal masking (predict frame t from its neighbours), or a spatial blind spot. Default: the
        method of ``config`` (or of the resumed model), else ``"video"``.
    time_budget_s, max_steps : optional
        Stop after this wall-clock time or number of steps (whichever comes first). Runs with the same seed
        reproduce exactly on CPU when ``max_steps`` (not the time budget) ends them.
    frames : int, optional
        Window of the video denoiser (odd, default 5).
    loss : {"auto", "mse", "l1", "poisson"}, optional
        ``auto`` picks L1 when the diagnosis finds impulse noise, else squared error.
    config : TrainConfig, optional
        All other settings; the explicit arguments above override it.
    rng : int or Generator, optional
        Seed (a concrete seed is drawn and recorded if none is given).
    device : {"auto", "cpu", "cuda"}
    resume : TrainedDenoiser or path, optional
        Continue training a saved model.
    clean : Stack or ndarray, optional
        Supervised oracle for benchmarks only: the same network and budget, trained against this clean
        stack instead of the noisy data (no masking). Gives the upper bound a self-supervised run can approach.
    progress : callable, optional
        ``progress(fraction, message)``.
    """
    stack = as_stack(data, axes=axes)
    if resume is not None and not isinstance(resume, TrainedDenoiser):
        from ._model_io import load_model

        resume = load_model(resume)
    base_cfg = config or (resume.config if resume is not None else TrainConfig())
    seed = rng if isinstance(rng, int) else int(np.random.default_rng(rng).integers(2**31))
    if rng is None and config is not None:
        seed = config.seed
    updates: dict[str, object] = {"seed": seed}
    for key, value in (("method", method), ("time_budget_s", time_budget_s), ("max_steps", max_steps),
                       ("frames", frames), ("loss", loss)):
        if value is not None:
            updates[key] = value
    if resume is not None:
        for key in ("method", "frames"):
            if key in updates and updates[key] != getattr(resume.config, key):
                raise InputError(f"the resumed model has {key}={getattr(resume.config, key)!r}, not "
                                 f"{updates[key]!r}; leave {key} out when resuming")
    try:
        cfg = TrainConfig(**{**base_cfg.model_dump(), **updates})
    except ValueError as exc:
        raise InputError(f"bad training settings: {str(exc).splitlines()[-1].strip()}") from None
    work, _ = to_working(stack)
    _check_video_input(work, cfg, stack)
    n_c = work.shape[2]
    if resume is not None:
        mean, scale = resume.mean, resume.scale
        loss_kind = resume.loss
    else:
        mean = work.mean(axis=(0, 1, 3, 4))
        scale = work.std(axis=(0, 1, 3, 4)) + 1e-8
        loss_kind = cfg.loss
    exact_impulses = None
    if cfg.skip_impulses is not False and clean is None:
        exact_impulses = exact_impulse_pixels(work)
    if cfg.skip_impulses and exact_impulses is None:
        if clean is None:
            logger.warning("skip_impulses: no pixels sit at the data's minimum or maximum; all pixels are scored")
        cfg = cfg.model_copy(update={"skip_impulses": False})
    if loss_kind == "auto" or cfg.blind_spot is None or cfg.impulse_filter is None or cfg.skip_impulses is None:
        from ._diagnose import diagnose

        diagnosis = diagnose(stack)  # once: it picks the loss, the blind spot and the impulse pre-filter
        video = cfg.method == "video"
        found_impulses = diagnosis.impulse_fraction > 0.005
        if cfg.skip_impulses is None:
            cfg = cfg.model_copy(update={"skip_impulses": found_impulses and exact_impulses is not None})
        if loss_kind == "auto":
            # impulses left out of the loss leave Gaussian/Poisson noise behind: squared error (mean) fits it;
            # impulses in the loss need L1 (median), biased where the rest of the noise is skewed
            loss_kind = "l1" if found_impulses and not cfg.skip_impulses else "mse"
        cfg = cfg.model_copy(update={
            "blind_spot": video and diagnosis.spatially_white if cfg.blind_spot is None else cfg.blind_spot,
            "impulse_filter": (video and diagnosis.impulse_fraction > 0.005 if cfg.impulse_filter is None
                               else cfg.impulse_filter),
        })
    dev = pick_device(device)
    norm = (work - mean[None, None, :, None, None]) / scale[None, None, :, None, None]
    tensor = torch.from_numpy(np.ascontiguousarray(norm, dtype=np.float32))
    known = exact_impulses if cfg.skip_impulses else None
    context = torch.from_numpy(remove_impulses(norm, known)) if cfg.impulse_filter else None
    shown = None
    if context is not None and cfg.method == "video":
        shown = torch.from_numpy(fill_impulses_from_neighbours(norm, context.numpy(), cfg.frames // 2, known=known))
    offset = torch.from_numpy((mean / scale).astype(np.float32)).to(dev)[None, :, None, None]
    model = resume.module if resume is not None else build_model(cfg, n_c)
    fmt = memory_format(dev)
    model = model.to(dev, memory_format=fmt)
    gen = torch.Generator().manual_seed(cfg.seed)
    target_tensor = None
    if clean is not None:
        if cfg.method != "video":
            raise InputError("the supervised oracle is defined for the video denoiser")
        clean_work, _ = to_working(as_stack(clean, axes=axes or stack.axes))
        if clean_work.shape != work.shape:
            raise InputError(f"clean stack shape {clean_work.shape} differs from the noisy one's {work.shape}")
        target_tensor = torch.from_numpy(
            ((clean_work - mean[None, None, :, None, None]) / scale[None, None, :, None, None]).astype(np.float32))
    valid = torch.from_numpy(~known) if known is not None else None
    sampler = _Sampler(tensor, cfg, gen, target_tensor, context, shown, valid)
    val_gen = torch.Generator().manual_seed(cfg.seed + 1)
    n_val_batches = 8
    val = [sampler.batch(sampler.val_targets, val_gen, augment=False) for _ in range(n_val_batches)]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # Polyak (exponential moving) average of the weights: smooths the SGD noise; validated and returned
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    use_amp = dev.type == "cuda"
    best_state, best_val, since_best, best_step = None, math.inf, 0, None
    history: list[dict[str, float]] = list(resume.history) if resume is not None else []
    start_steps = resume.steps if resume is not None else 0
    t0 = time.perf_counter()
    step = 0
    run_loss = 0.0
    stop_reason = "max_steps"
    model.train()
    while step < cfg.max_steps:
        elapsed = time.perf_counter() - t0
        frac = max(step / cfg.max_steps, elapsed / cfg.time_budget_s)
        if frac >= 1.0:
            stop_reason = "time_budget"
            break
        for group in opt.param_groups:  # cosine decay over whichever budget binds first
            group["lr"] = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        inputs, target, mask = sampler.batch(sampler.train_targets, gen, augment=cfg.augment)
        inputs, target = inputs.to(dev).contiguous(memory_format=fmt), target.to(dev)
        mask = mask.to(dev) if mask is not None else None
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            pred = model(inputs)
        loss_val = _loss(pred.float(), target, loss_kind, mask, offset)
        opt.zero_grad(set_to_none=True)
        if not torch.isfinite(loss_val):
            logger.warning("non-finite loss at step %d; skipping the step", step)
            step += 1
            continue
        loss_val.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                pe.lerp_(pm, 1 - decay)
        run_loss += loss_val.item()
        if step % cfg.val_every == 0:
            v = _validate(ema, val, loss_kind, offset, dev, use_amp)
            history.append({"step": start_steps + step, "train_loss": run_loss / cfg.val_every, "val_loss": v,
                            "seconds": time.perf_counter() - t0})
            run_loss = 0.0
            # (the first check always counts: inf - 1e-6 * inf is NaN, and no loss is below NaN)
            if best_state is None or v < best_val - 1e-6 * abs(best_val):
                best_val, since_best, best_step = v, 0, start_steps + step
                best_state = copy.deepcopy(ema.state_dict())
            else:
                since_best += 1
                if since_best >= cfg.patience:
                    stop_reason = "early_stopping"
                    break
            if progress is not None:
                progress(min(frac, 1.0), f"{cfg.method}: step {step}, val loss {v:.4g}")
    model.load_state_dict(best_state if best_state is not None else ema.state_dict())
    model.eval()
    logger.info("trained %s for %d steps (%s) in %.1f s", cfg.method, step, stop_reason, time.perf_counter() - t0)
    if progress is not None:
        progress(1.0, f"{cfg.method}: trained {step} steps ({stop_reason})")
    return TrainedDenoiser(module=model.cpu(), config=cfg, mean=np.asarray(mean, np.float32),
                           scale=np.asarray(scale, np.float32), channels=n_c, loss=loss_kind,
                           steps=start_steps + step, history=history, stop_reason=stop_reason,
                           best_step=best_step if best_state is not None else None)


@torch.no_grad()
def _validate(model, batches, loss_kind, offset, dev, use_amp) -> float:
    model.eval()
    total = 0.0
    for inputs, target, mask in batches:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            pred = model(inputs.to(dev))
        total += float(_loss(pred.float(), target.to(dev), loss_kind, None if mask is None else mask.to(dev), offset))
    model.train()
    return total / len(batches)


__all__ = ["TrainConfig", "TrainedDenoiser", "neighbour_indices", "pick_device", "train_denoiser"]
