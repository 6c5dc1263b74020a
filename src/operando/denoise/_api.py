"""The public ``denoise`` entry point: look the method up in the registry, settle config and seed, run it.

``method="auto"`` takes the choice from a :class:`Diagnosis` (``diagnosis=``, measured once by the caller) or
measures one here (:func:`choose_method`), hands the Diagnosis on to the network's training, and records the
choice with its reason.
"""

from __future__ import annotations

import logging

import numpy as np

from .._errors import InputError
from .._progress import Progress, sub_progress
from .._stack import Stack, as_stack, convert_dtype
from ._auto import record_choice
from ._baselines import denoise_baseline
from ._config import TrainConfig, child_seeds, config_from, resolve_seed
from ._diagnose import Diagnosis
from ._layout import with_record
from ._methods import BASELINES, METHODS, NEURAL, DenoiseMethod, RunSettings, method_entry

logger = logging.getLogger(__name__)


def denoise(
    data: Stack | np.ndarray,
    *,
    method: str | None = None,
    axes: str | None = None,
    frames: int | None = None,
    time_budget_s: float | None = None,
    config: TrainConfig | None = None,
    rng: int | np.random.Generator | None = None,
    device: str = "auto",
    tta: bool = False,
    ensemble: int = 1,
    progress: Progress | None = None,
    diagnosis: Diagnosis | None = None,
) -> Stack | np.ndarray:
    """Denoise an image, video or spectral stack with ``method``, trained on the data itself.

    Parameters
    ----------
    data : Stack or ndarray
        The noisy stack (a plain array needs ``axes`` unless 2-D).
    method : str, optional
        A name of ``METHODS`` (the registry, ``_methods.py``): ``video`` (temporal masking), ``n2v``, ``n2v2``,
        ``structn2v``, ``shaped``, ``pixel_shuffle`` (spatial blind spots), ``gaussian``, ``median``, ``nlm``,
        ``tv`` (calibrated classical filters), ``bm4d`` or ``bm3d`` (optional extra), or ``"auto"``: chosen
        from the measured noise (:func:`choose_from` on ``diagnosis``, else :func:`choose_method` measures it
        here; the choice and its reason are recorded in ``metadata.extra["denoise"]["auto"]``). Default:
        ``config.method``, else ``"video"``.
    axes : str, optional
        Axes of a plain array (e.g. ``"TYX"``).
    frames : int, optional
        Networks: window of the video denoiser (default 5).
    time_budget_s : float, optional
        Networks: training budget in seconds (default 300).
    config : TrainConfig, optional
        Networks: the whole training configuration (``max_steps``, ``batch``, ``lr``, ...). ``method``,
        ``frames`` and ``time_budget_s`` may repeat its values but not contradict them (InputError).
    rng : int or Generator, optional
        Networks: seed (None: ``config.seed`` when set, else drawn). The seed used is recorded.
    device : {"auto", "cpu", "cuda"}
        Networks: where to train and predict.
    tta : bool
        Networks only: average the prediction over the flips and rotations used in training (8x slower
        inference, usually better; see :func:`predict`).
    ensemble : int
        Networks only: train this many networks with child seeds of the seed
        (``numpy.random.SeedSequence(seed).spawn(ensemble)``; each with the full ``time_budget_s``) and average
        their predictions. Each run's error is partly its own, so the average is better (+0.7 dB for 3 runs on
        the physics benchmark's video, docs/benchmarks.md), at ``ensemble`` times the cost.
    progress : callable, optional
        Called with :class:`~operando.ProgressEvent` objects; raise :class:`~operando.Cancelled` in it to stop.
    diagnosis : Diagnosis, optional
        The noise of ``data`` as already measured (:func:`diagnose`): ``auto`` chooses from it and a network's
        training takes its settings from it, so nothing is measured again.

    Returns
    -------
    Stack or ndarray
        Same type, shape and dtype as ``data``. A Stack records in ``metadata.extra["denoise"]`` the method
        and, for networks, the whole training configuration and the concrete seed (so ``config=
        TrainConfig(**record["config"])`` repeats the run), plus the ensemble's member seeds.

    See Also
    --------
    denoise_baseline, train_denoiser, predict
    """
    auto = None
    if method == "auto":
        from . import _auto

        auto = _auto.choose_method(data, axes=axes) if diagnosis is None else _auto.choose_from(diagnosis)
        method, diagnosis = auto.method, auto.diagnosis
    entry = method_entry(method or (config.method if config is not None else "video"))
    if ensemble < 1:
        raise InputError(f"ensemble must be >= 1, got {ensemble}; pass ensemble=1 for a single network")
    if entry.kind == "deterministic":
        if ensemble != 1:
            raise InputError(f"ensemble averages trained networks ({', '.join(NEURAL)}); {entry.name!r} is "
                             "deterministic, use ensemble=1")
        if config is not None:
            raise InputError(f"config sets the training of a network; {entry.name!r} is a deterministic filter, "
                             "leave config out")
        result = entry.run(as_stack(data, axes=axes), RunSettings(entry.name, device=device, progress=progress))
        result = record_choice(result, auto)
        return result if isinstance(data, Stack) else result.data
    cfg = config_from(config, method=entry.name, frames=frames if entry.name == "video" else None,
                      time_budget_s=time_budget_s)
    cfg = cfg.model_copy(update={"seed": resolve_seed(rng, cfg.seed)})
    if auto is not None:  # the choice's settings fill what the configuration leaves to the data
        cfg = cfg.model_copy(update={k: v for k, v in auto.settings.items() if getattr(cfg, k) is None})
    stack = as_stack(data, axes=axes)
    if ensemble == 1:
        result = entry.run(stack, RunSettings(entry.name, cfg, device, tta, progress, diagnosis))
    else:
        result = _ensemble(stack, entry, cfg, ensemble, RunSettings(entry.name, None, device, tta, progress,
                                                                    diagnosis))
    result = record_choice(result, auto)
    return result if isinstance(data, Stack) else result.data


def _ensemble(stack: Stack, entry: DenoiseMethod, cfg: TrainConfig, k: int, settings: RunSettings) -> Stack:
    """Average ``k`` runs of a network with child seeds of ``cfg.seed``, in float, cast back to the input's dtype."""
    as_float = Stack(stack.to_numpy().astype(np.float32), axes=stack.axes, metadata=stack.metadata)
    seeds = child_seeds(cfg.seed, k)
    total, members = None, []
    for i, seed in enumerate(seeds):
        progress = sub_progress(settings.progress, i / k, (i + 1) / k, f"run {i + 1}/{k}: ")
        member = RunSettings(entry.name, cfg.model_copy(update={"seed": seed}), settings.device, settings.tta,
                             progress, settings.diagnosis)
        out = entry.run(as_float, member)
        members.append(out.metadata.extra.get("denoise", {}))
        arr = out.to_numpy().astype(np.float64)
        total = arr if total is None else total + arr
    config = {**members[0].get("config", cfg.model_dump()), "seed": cfg.seed}  # the member seeds derive from it
    record = {"method": entry.name, "ensemble": k, "seed": cfg.seed, "member_seeds": seeds, "config": config,
              "tta": settings.tta, "members": [{key: m.get(key) for key in ("seed", "steps", "stop_reason",
                                                                         "best_step")} for m in members]}
    return with_record(Stack(convert_dtype(total / k, stack.dtype), axes=stack.axes, metadata=stack.metadata),
                       record)


def run_network(stack: Stack, settings: RunSettings) -> Stack:
    """Run a network (every neural registry row): train on ``stack`` with ``settings.config``, then predict.

    Parameters
    ----------
    stack : Stack
        The noisy stack.
    settings : RunSettings
        ``config`` (with a concrete seed), ``device``, ``tta`` and ``progress``.

    Returns
    -------
    Stack
        The denoised stack, with the model's configuration and seed in ``metadata.extra["denoise"]``.
    """
    from .._progress import sub_progress
    from ._inference import predict
    from ._training import train_denoiser

    model = train_denoiser(stack, config=settings.config, device=settings.device,
                           progress=sub_progress(settings.progress, 0.0, 0.95, ""), diagnosis=settings.diagnosis)
    return predict(model, stack, device=settings.device, tta=settings.tta,
                   progress=sub_progress(settings.progress, 0.95, 1.0, "inference: "))


__all__ = ["BASELINES", "METHODS", "NEURAL", "denoise", "denoise_baseline", "run_network"]
