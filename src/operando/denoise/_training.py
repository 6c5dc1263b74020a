"""Self-supervised training of the video denoiser and the Noise2Void family, CPU first, time-budgeted.

:func:`train_denoiser` runs five named steps: the configuration (:func:`_run_config`, then
:func:`_settle_auto_settings` for the choices left to the diagnosis), the preprocessing (:func:`_prepare`:
normalisation, impulse pre-filters, the supervised oracle's target), the sampler (:class:`Sampler`), the loop
(:func:`_fit`, one :func:`_train_step` at a time, with an exponential moving average of the weights from
``torch.optim.swa_utils``) and the validation (:func:`_validate`, early stopping in :class:`_Checks`).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from .._errors import InputError
from .._progress import Progress, check_cancel, emit
from .._stack import Stack, as_stack
from ._config import TrainConfig, TrainedDenoiser, config_from, make_config, resolve_seed
from ._diagnose import Diagnosis
from ._layout import to_working
from ._measured import exact_impulse_pixels
from ._preprocess import fill_impulses_from_neighbours, remove_impulses
from ._sampler import Sampler
from ._unet import build_model, memory_format, pick_device

logger = logging.getLogger(__name__)

N_VALIDATION_BATCHES = 8


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
    diagnosis: Diagnosis | None = None,
) -> TrainedDenoiser:
    """Train a denoiser on the noisy data itself (no clean data).

    The settings come from ``config`` **or** from the keywords ``method``, ``time_budget_s``, ``max_steps``,
    ``frames`` and ``loss``, never merged: without ``config`` the keywords build a :class:`TrainConfig` (the
    rest at its defaults, or at the resumed model's settings); with ``config`` a keyword may only repeat the
    config's own value, and a different one raises InputError.

    Parameters
    ----------
    data : Stack or ndarray
        Video (``T``), spectral (``E``) or image stack, optionally RGB (``C``).
    method : {"video", "n2v", "n2v2", "structn2v"}, optional
        Temporal masking (predict frame t from its neighbours), or a spatial blind spot. Default ``"video"``
        (a resumed model keeps its own).
    axes : str, optional
        Axes of a plain array (e.g. ``"TYX"``).
    time_budget_s : float, optional
        Stop after this wall-clock time, in seconds (default 300).
    max_steps : int, optional
        Stop after this many optimiser steps. Runs with the same seed reproduce exactly on CPU when
        ``max_steps`` (not the time budget) ends them.
    frames : int, optional
        Window of the video denoiser (odd, default 5).
    loss : {"auto", "mse", "l1", "poisson"}, optional
        ``auto`` picks L1 when the diagnosis finds impulse noise, else squared error.
    config : TrainConfig, optional
        All settings at once (instead of the keywords above).
    rng : int or Generator, optional
        Seed of the run. None: ``config.seed`` when set, else a seed is drawn; a Generator: a seed drawn from
        it. The seed used is recorded in the returned model's ``config.seed``. An ``rng`` that disagrees with a
        set ``config.seed`` raises InputError.
    device : {"auto", "cpu", "cuda"}
        Where to train.
    resume : TrainedDenoiser or path, optional
        Continue training a saved model (same method and window; normalisation and loss are kept).
    clean : Stack or ndarray, optional
        Supervised oracle for benchmarks only: the same network and budget, trained against this clean
        stack instead of the noisy data (no masking). Gives the upper bound a self-supervised run can approach.
    progress : callable, optional
        Receives a :class:`~operando.ProgressEvent` at each validation check (``step``, ``train_loss``,
        ``val_loss``) and at the end; it is also called before every step, so raising
        :class:`~operando.Cancelled` from it stops training within one step.
    diagnosis : Diagnosis, optional
        The noise of ``data`` as already measured (:func:`operando.denoise.diagnose`, or the Diagnosis that
        ``method="auto"`` chose from): the settings left to the data (loss, blind spot, impulse handling) are
        taken from it instead of measuring again. None: measured here when a setting needs it.

    Returns
    -------
    TrainedDenoiser
        The network (weights of the best validation check), its full configuration with the concrete seed
        and the choices the diagnosis made, the normalisation, the loss history and why training stopped.
    """
    stack = as_stack(data, axes=axes)
    if resume is not None and not isinstance(resume, TrainedDenoiser):
        from ._model_io import load_model

        resume = load_model(resume)
    cfg = _run_config(config, resume, rng, method=method, time_budget_s=time_budget_s, max_steps=max_steps,
                      frames=frames, loss=loss)
    work, _ = to_working(stack)
    _check_video_input(work, cfg, stack)
    if resume is not None and work.shape[2] != resume.channels:
        raise InputError(f"the resumed model was trained on {resume.channels} channel(s), the data has "
                         f"{work.shape[2]} (shape {stack.shape}, axes {stack.axes!r}); resume only on data with the "
                         "same channels, or train a new model (leave --resume out)")
    prep = _prepare(stack, work, cfg, resume, clean, diagnosis, progress)
    dev = pick_device(device)
    model = resume.module if resume is not None else build_model(prep.config, work.shape[2])
    model = model.to(dev, memory_format=memory_format(dev))
    data_t, target_t, context_t, shown_t, valid_t = prep.tensors()
    sampler = Sampler(data_t, prep.config, torch.Generator().manual_seed(prep.config.seed), target_t, context_t,
                      shown_t, valid_t)
    start = (resume.steps, list(resume.history)) if resume is not None else (0, [])
    fit = _fit(model, sampler, prep, dev, start_steps=start[0], history=start[1], progress=progress)
    return TrainedDenoiser(module=model.cpu(), config=prep.config, mean=prep.mean, scale=prep.scale,
                           channels=work.shape[2], loss=prep.loss, steps=start[0] + fit.steps, history=fit.history,
                           stop_reason=fit.stop_reason, best_step=fit.best_step)


# --- step 1: the configuration ---------------------------------------------------------------------------------


def _run_config(config: TrainConfig | None, resume: TrainedDenoiser | None, rng, **keywords) -> TrainConfig:
    """Settle the run's configuration (config or keywords, see train_denoiser) with a concrete seed."""
    if config is None and resume is not None:  # keywords update the resumed model's settings, a fresh seed
        base = resume.config.model_copy(update={"seed": None})
        given = {k: v for k, v in keywords.items() if v is not None}
        cfg = make_config(**{**base.model_dump(), **given})
    else:
        cfg = config_from(config, **keywords)
    if resume is not None:
        for key in ("method", "frames"):
            if getattr(cfg, key) != getattr(resume.config, key):
                raise InputError(f"the resumed model has {key}={getattr(resume.config, key)!r}, not "
                                 f"{getattr(cfg, key)!r}; leave {key} out when resuming")
    if cfg.method == "bm3d_refine":
        raise InputError("bm3d_refine trains its network inside denoise(), one per image, and keeps none to save or "
                         "stream; run denoise(method='bm3d_refine') (CLI: operando denoise --method bm3d_refine, "
                         "without --save-model)")
    seed = resolve_seed(rng, cfg.seed)
    return cfg.model_copy(update={"seed": seed})


def _check_video_input(work: np.ndarray, config: TrainConfig, stack: Stack) -> None:
    if config.method == "video" and work.shape[1] < config.frames:
        axis = "T" if "T" in stack.axes else ("E" if "E" in stack.axes else "T")
        raise InputError(
            f"need >= {config.frames} frames along {axis} for a {config.frames}-frame window, got {work.shape[1]} "
            f"(shape {stack.shape}, axes {stack.axes!r}); pass a longer video, frames=3 (--window-frames 3), or "
            "method 'n2v2' (--method n2v2)"
        )


def _settle_auto_settings(stack: Stack, work: np.ndarray, cfg: TrainConfig, loss_kind: str, clean,
                          diagnosis: Diagnosis | None = None, progress=None) -> tuple:
    """Fill the settings left to the data (loss, blind spot, impulse handling): (config, loss, exact impulses)."""
    exact_impulses = None
    if cfg.skip_impulses is not False and clean is None:
        exact_impulses = exact_impulse_pixels(work)
    if cfg.skip_impulses and exact_impulses is None:
        if clean is None:
            logger.warning("skip_impulses: no pixels sit at the data's minimum or maximum; all pixels are scored")
        cfg = cfg.model_copy(update={"skip_impulses": False})
    radius_open = cfg.blind_spot_radius_px is None and cfg.method in ("video", "shaped")
    if (loss_kind == "auto" or cfg.blind_spot is None or cfg.impulse_filter is None or cfg.skip_impulses is None
            or radius_open):
        from ._auto import blind_spot_settings
        from ._diagnose import measure

        if diagnosis is None:  # once: it picks the loss, the blind spot and the impulse pre-filter
            diagnosis = measure(stack, progress=progress)
        video = cfg.method == "video"
        found_impulses = diagnosis.impulse_fraction > 0.005
        if cfg.skip_impulses is None:
            cfg = cfg.model_copy(update={"skip_impulses": found_impulses and exact_impulses is not None})
        if loss_kind == "auto":
            # impulses left out of the loss leave Gaussian/Poisson noise behind: squared error (mean) fits it;
            # impulses in the loss need L1 (median), biased where the rest of the noise is skewed
            loss_kind = "l1" if found_impulses and not cfg.skip_impulses else "mse"
        cfg = cfg.model_copy(update={  # blind spot and its radius from the measured noise correlation
            "blind_spot": False if cfg.blind_spot is None and not video else cfg.blind_spot,
            "impulse_filter": video and found_impulses if cfg.impulse_filter is None else cfg.impulse_filter,
            **blind_spot_settings(cfg, diagnosis),
        })
    return cfg, loss_kind, exact_impulses


# --- step 2: the preprocessing ---------------------------------------------------------------------------------


@dataclass
class _Prepared:
    """The data as the network sees it (normalised float32, (B, S, C, Y, X)) and the settled configuration."""

    config: TrainConfig
    loss: str
    mean: np.ndarray
    scale: np.ndarray
    norm: np.ndarray
    context: np.ndarray | None = None  # the neighbour frames with impulses pre-filtered
    shown: np.ndarray | None = None  # the target frame as the donut may see it
    known: np.ndarray | None = None  # exact impulses, left out of the loss
    target: np.ndarray | None = None  # the supervised oracle's clean target

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """Return (data, target, context, shown, valid) as the sampler takes them (None where absent)."""
        def as_tensor(a):
            return None if a is None else torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        valid = torch.from_numpy(~self.known) if self.known is not None else None
        return as_tensor(self.norm), as_tensor(self.target), as_tensor(self.context), as_tensor(self.shown), valid

    def offset(self, dev: torch.device) -> torch.Tensor:
        """Return mean / scale per channel: shifts normalised values back to the raw scale (for the Poisson loss)."""
        return torch.from_numpy((self.mean / self.scale).astype(np.float32)).to(dev)[None, :, None, None]


def _prepare(stack: Stack, work: np.ndarray, cfg: TrainConfig, resume: TrainedDenoiser | None, clean,
             diagnosis: Diagnosis | None = None, progress=None) -> _Prepared:
    """Normalise, settle the automatic settings, pre-filter impulses and normalise the oracle's target."""
    if resume is not None:
        mean, scale, loss_kind = resume.mean, resume.scale, resume.loss
    else:
        mean = work.mean(axis=(0, 1, 3, 4))
        scale = work.std(axis=(0, 1, 3, 4)) + 1e-8
        loss_kind = cfg.loss
    cfg, loss_kind, exact_impulses = _settle_auto_settings(stack, work, cfg, loss_kind, clean, diagnosis, progress)
    mean, scale = np.asarray(mean, np.float32), np.asarray(scale, np.float32)
    norm = (work - mean[None, None, :, None, None]) / scale[None, None, :, None, None]
    prep = _Prepared(cfg, loss_kind, mean, scale, np.ascontiguousarray(norm, dtype=np.float32))
    prep.known = exact_impulses if cfg.skip_impulses else None
    if cfg.impulse_filter:
        prep.context = remove_impulses(norm, prep.known)
        if cfg.method == "video":
            prep.shown = fill_impulses_from_neighbours(norm, prep.context, cfg.frames // 2, known=prep.known)
    if clean is not None:
        if cfg.method != "video":
            raise InputError("the supervised oracle is defined for the video denoiser; use method='video'")
        clean_work, _ = to_working(as_stack(clean, axes=stack.axes))
        if clean_work.shape != work.shape:
            raise InputError(f"clean stack shape {clean_work.shape} differs from the noisy one's {work.shape}")
        prep.target = (clean_work - mean[None, None, :, None, None]) / scale[None, None, :, None, None]
    return prep


# --- steps 4 and 5: the loop and the validation ------------------------------------------------------------------


def ema_with_warmup(decay: float):
    """``get_ema_multi_avg_fn(decay)`` for ``AveragedModel``, with the decay ramped up over the first steps.

    After n updates the decay is min(decay, (n + 2) / (n + 11)): a short run's average is not dominated by
    the random initial weights (a fixed 0.995 keeps 55 % of the first step's weights after 120 steps).

    Parameters
    ----------
    decay : float
        The decay once warmed up (``TrainConfig.ema_decay``).

    Returns
    -------
    callable
        ``multi_avg_fn(averaged_params, model_params, n_averaged)``.
    """
    def update(averaged, current, n_averaged):
        n = int(n_averaged)
        get_ema_multi_avg_fn(min(decay, (n + 2) / (n + 11)))(averaged, current, n_averaged)

    return update


@dataclass
class _Checks:
    """The validation history and early stopping: keeps the state of the best check."""

    patience: int
    history: list[dict[str, float]] = field(default_factory=list)
    best_state: dict | None = None
    best_val: float = math.inf
    best_step: int | None = None
    since_best: int = 0

    def record(self, row: dict[str, float], state: dict) -> bool:
        """Add a check; return True when ``patience`` checks in a row brought no improvement."""
        self.history.append(row)
        v = row["val_loss"]
        # (the first check always counts: inf - 1e-6 * inf is NaN, and no loss is below NaN)
        if self.best_state is None or v < self.best_val - 1e-6 * abs(self.best_val):
            self.best_val, self.since_best, self.best_step = v, 0, int(row["step"])
            self.best_state = copy.deepcopy(state)
            return False
        self.since_best += 1
        return self.since_best >= self.patience


@dataclass
class _FitResult:
    steps: int
    stop_reason: str
    best_step: int | None
    history: list[dict[str, float]]


def _train_step(model, opt, sampler: Sampler, prep: _Prepared, dev: torch.device, offset: torch.Tensor):
    """One optimiser step on a fresh batch; returns the loss, or None when it was not finite (step skipped)."""
    fmt = memory_format(dev)
    inputs, target, mask = sampler.batch(sampler.train_targets, sampler.gen, augment=prep.config.augment)
    inputs, target = inputs.to(dev).contiguous(memory_format=fmt), target.to(dev)
    mask = mask.to(dev) if mask is not None else None
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        pred = model(inputs)
    loss_val = _loss(pred.float(), target, prep.loss, mask, offset)
    opt.zero_grad(set_to_none=True)
    if not torch.isfinite(loss_val):
        return None
    loss_val.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss_val.item()


def _fit(model, sampler: Sampler, prep: _Prepared, dev: torch.device, *, start_steps: int,
         history: list[dict[str, float]], progress: Progress | None) -> _FitResult:
    """Run the training loop: cosine-decayed AdamW, weight average, validation checks, budget and early stopping."""
    cfg = prep.config
    offset = prep.offset(dev)
    val_gen = torch.Generator().manual_seed(cfg.seed + 1)
    val = [sampler.batch(sampler.val_targets, val_gen, augment=False) for _ in range(N_VALIDATION_BATCHES)]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # Polyak (exponential moving) average of the weights: smooths the SGD noise; validated and returned
    ema = AveragedModel(model, multi_avg_fn=ema_with_warmup(cfg.ema_decay)).eval()
    checks = _Checks(cfg.patience, history=history)
    t0 = time.perf_counter()
    step, run_loss, stop_reason = 0, 0.0, "max_steps"
    emit(progress, 0.0, f"{cfg.method}: training", step=start_steps)
    model.train()
    while step < cfg.max_steps:
        frac = max(step / cfg.max_steps, (time.perf_counter() - t0) / cfg.time_budget_s)
        if frac >= 1.0:
            stop_reason = "time_budget"
            break
        check_cancel(progress)
        for group in opt.param_groups:  # cosine decay over whichever budget binds first
            group["lr"] = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        loss_val = _train_step(model, opt, sampler, prep, dev, offset)
        step += 1
        if loss_val is None:
            logger.warning("non-finite loss at step %d; skipping the step", step - 1)
            continue
        ema.update_parameters(model)
        run_loss += loss_val
        if step % cfg.val_every == 0:
            v = _validate(ema.module, val, prep.loss, offset, dev)
            row = {"step": start_steps + step, "train_loss": run_loss / cfg.val_every, "val_loss": v,
                   "seconds": time.perf_counter() - t0}
            run_loss = 0.0
            if checks.record(row, ema.module.state_dict()):
                stop_reason = "early_stopping"
                break
            emit(progress, frac, f"{cfg.method}: step {start_steps + step}", step=start_steps + step,
                 train_loss=row["train_loss"], val_loss=v)
    model.load_state_dict(checks.best_state if checks.best_state is not None else ema.module.state_dict())
    model.eval()
    logger.info("trained %s for %d steps (%s) in %.1f s", cfg.method, step, stop_reason, time.perf_counter() - t0)
    emit(progress, 1.0, f"{cfg.method}: trained {step} steps ({stop_reason})", step=start_steps + step)
    return _FitResult(step, stop_reason, checks.best_step, checks.history)


def _loss(pred: torch.Tensor, target: torch.Tensor, kind: str, mask: torch.Tensor | None,
          offset: torch.Tensor) -> torch.Tensor:
    """Mean loss of ``kind`` over the scored pixels (``mask``; None: all)."""
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


@torch.no_grad()
def _validate(model, batches, loss_kind: str, offset: torch.Tensor, dev: torch.device) -> float:
    """Mean loss of ``model`` on the fixed validation batches (eval mode, then back to train mode)."""
    model.eval()
    total = 0.0
    for inputs, target, mask in batches:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            pred = model(inputs.to(dev))
        total += float(_loss(pred.float(), target.to(dev), loss_kind, None if mask is None else mask.to(dev), offset))
    model.train()
    return total / len(batches)


__all__ = ["ema_with_warmup", "train_denoiser"]
