"""Streamed denoising to Zarr: ``predict_large`` (a saved model) and ``denoise_large`` (train, then stream)."""

from __future__ import annotations

import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._files import refuse_to_overwrite
from ..._progress import Progress, emit
from ..._stack import Stack
from ...denoise import NEURAL, method_entry, method_names, model_files
from ._chunks import ChunkWork
from ._manifest import check_resumable, file_digest, input_fingerprint, write_manifest
from ._plan import ChunkPlan, default_memory_limit, parse_memory, plan_chunks, sequence_axis
from ._run import ScaleResult, choose_scheduler, create_store, execute, parallel_chunks
from ._train import TRAIN_COPIES, calibrated_params, training_sample

logger = logging.getLogger(__name__)

#: Networks trained on a sample and streamed by :func:`denoise_large` (any saved model streams with predict_large):
#: the ``streamed`` networks of the method table.
STREAMED_NETWORKS = tuple(name for name in method_names("streamed") if name in NEURAL)
#: Part of the memory limit a method's chunk plan uses: pixel_shuffle's inference (a first pass, then refinement
#: passes summed) held about twice the memory per frame of a plain network's (peak RSS of apply_pixel_shuffle vs
#: predict on 64-192 frames of 256 x 256), so its chunks are half as long.
PLAN_SHARE = {"pixel_shuffle": 0.5}
MODEL_NAME = "operando_stream/model"  # a model trained by denoise_large: OUT.zarr/operando_stream/model.*


def _warn_chunk_statistics(net: Any) -> None:
    """Warn when a model's inference uses statistics of the whole sequence (computed per chunk when streamed)."""
    if net.config.impulse_filter:
        warnings.warn("this model was trained with the impulse pre-filter: its outlier thresholds and the blend of "
                      "measured pixels use statistics of each chunk when streamed, not of the whole stack, so the "
                      "result differs slightly from the in-memory one", UserWarning, stacklevel=3)


def _open_input(input: str | os.PathLike, output: str | os.PathLike, axes: str | None,
                allow_missing: bool = False) -> tuple[Stack, Path]:
    from ...io import read

    out = Path(output)
    if not out.name.lower().endswith(".zarr"):
        raise InputError(f"{output}: a streamed output is a Zarr store; give an output ending in .zarr")
    refuse_to_overwrite(out, str(input).split(".zarr:")[0] if ".zarr:" in str(input) else input)
    stack = read(input, axes=axes, lazy=True, allow_missing=allow_missing)
    return stack, out


def _limit(memory_limit: str | int | None) -> int:
    return parse_memory(memory_limit) if memory_limit is not None else default_memory_limit()


def _dtype(stack: Stack, dtype: str) -> str:
    return str(stack.dtype) if dtype == "input" else str(np.dtype(dtype))


def _start(stack: Stack, out: Path, identity: dict[str, Any], halo: int, limit: int, scheduler: str,
           dtype: str, share: float = 1.0, device: str = "cpu") -> tuple[dict[str, Any], ChunkPlan]:
    """Resume the run recorded in ``out`` or create the store; return its manifest and chunk plan.

    ``share``: the part of the limit the plan's per-frame estimate may fill (less for heavier inference).
    ``device``: the run's device (a ``processes`` cluster has one worker per GPU, else one per core).
    """
    old = check_resumable(out, identity)
    if old is not None:
        plan = ChunkPlan.from_dict(old["plan"])
        create_store(out, old, stack, plan, dtype, resume=True)  # the array, if a first run stopped before it
        return old, plan
    # the limit is per process (each Dask worker holds one chunk). A cluster's workers each get an equal share of
    # the chunks (plan_chunks' spread); the output does not depend on the plan beyond float rounding (~1e-7), and
    # a run resumed under another scheduler keeps the plan it was started with
    spread = parallel_chunks(scheduler, device)
    plan = plan_chunks(stack.shape, stack.axes, halo=halo, memory_limit=int(limit * share),
                       out_itemsize=np.dtype(dtype).itemsize, spread=spread)
    manifest = {"format": "operando-stream", "version": 1, **identity, "plan": plan.to_dict(), "complete": False,
                "planned_for_workers": spread,
                "array": "data", "memory_limit_bytes": limit, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    create_store(out, manifest, stack, plan, dtype)
    return manifest, plan


def predict_large(
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    model: str | os.PathLike,
    axes: str | None = None,
    memory_limit: str | int | None = None,
    scheduler: str = "threads",
    tta: bool = False,
    device: str = "auto",
    tile: int = 256,
    dtype: str = "input",
    allow_missing: bool = False,
    progress: Progress | None = None,
    on_dashboard: Callable[[str], None] | None = None,
) -> ScaleResult:
    """Apply a saved denoiser to a stack of any size, chunk by chunk, into a resumable Zarr store.

    Parameters
    ----------
    input : str or path
        Any file operando reads; it is read lazily (only the frames of the chunk in hand).
    output : str or path
        A ``.zarr`` store. If it holds an unfinished run of the same input, model and settings, the finished
        and verified chunks are kept and only the rest is computed; another run's output is refused.
    model : str or path
        A model saved by :func:`operando.denoise.save_model` (loaded once per process).
    axes : str, optional
        Axis letters when the file does not record them.
    memory_limit : str or int, optional
        Bytes (or ``"2GB"``) for the data in flight in each process (this one, or each Dask worker); sets the
        chunk size. Default: half of the available memory. The Python and torch runtime (~0.3-0.5 GB per
        process) comes on top.
    scheduler : str
        ``threads``, ``processes``, ``local:N`` or a Dask scheduler address.
    tta, device, tile
        As :func:`operando.denoise.predict`.
    dtype : {"input", "float32"}
        Output dtype.
    allow_missing : bool
        A Zarr input with stored chunks missing (or undecodable) is refused; True reads them as NaN, which each
        chunk fills with its median for the network and keeps NaN in the output (with a note).
    progress : callable, optional
        ``progress(fraction, message)``; the message gives frames/s.
    on_dashboard : callable, optional
        Called with the Dask dashboard address when a cluster is used.

    Returns
    -------
    ScaleResult
        The output, chunks computed and skipped, frames/s and the manifest.
    """
    from ...denoise import load_model

    stack, out = _open_input(input, output, axes, allow_missing)
    scheduler = choose_scheduler(scheduler, stack.shape, device)
    weights, settings = model_files(model)
    net = load_model(weights)
    _warn_chunk_statistics(net)
    digest = file_digest(weights, settings)
    halo = net.config.frames // 2 if net.is_video else 0
    seq = sequence_axis(stack.axes)
    identity = {"input": input_fingerprint(stack, seq), "model": {"method": net.config.method, "sha256": digest},
                "settings": {"method": net.config.method, "tta": tta, "tile": tile, "dtype": _dtype(stack, dtype)}}
    limit = _limit(memory_limit)
    manifest, plan = _start(stack, out, identity, halo, limit, scheduler, _dtype(stack, dtype), device=device)
    work = ChunkWork(source=os.path.abspath(os.fspath(input)), axes=axes, output=str(out.resolve()), plan=plan,
                     method=net.config.method, model=str(weights.resolve()), model_digest=digest,
                     dtype=_dtype(stack, dtype), tta=tta, device=device, tile=tile, allow_missing=allow_missing)
    return execute(work, manifest, stack.ndim, stack.shape, scheduler=scheduler, progress=progress,
                   on_dashboard=on_dashboard)


def _train_network(sample: Stack, train: dict[str, Any], device: str, progress: Progress | None,
                   auto: Any = None) -> tuple[Any, dict[str, Any]]:
    """Train the run's network on the sample; return it and what the manifest records besides its digest.

    ``pixel_shuffle`` measures its strides on the sample (unless given) and records them with the refinement's
    settings and seed (``manifest["pixel_shuffle"]``): every chunk applies them. ``auto``: the choice of a
    ``method="auto"`` run, whose Diagnosis the training takes instead of measuring again.
    """
    from ...denoise import TrainConfig, train_denoiser, train_pixel_shuffle

    if train["method"] == "pixel_shuffle":
        budget = {k: train[k] for k in ("time_budget_s", "max_steps") if train[k] is not None}
        shuffle = train["pixel_shuffle"]
        net, found = train_pixel_shuffle(sample, train_stride=shuffle["train_stride"],
                                         infer_stride=shuffle["infer_stride"], config=TrainConfig(**budget),
                                         rng=train["seed"], device=device, progress=progress)
        record = {"train_stride": int(found["train_stride"]), "infer_stride": int(found["infer_stride"]),
                  "refine_passes": shuffle["refine_passes"], "refine_fraction": shuffle["refine_fraction"],
                  "refine_seed": int(net.config.seed) + 1, "strides_measured_on": "training sample"}
        if "neighbour_corr" in found:
            record["neighbour_corr"] = float(found["neighbour_corr"])
        return net, {"pixel_shuffle": record}
    window = train["frames"] if train["method"] == "video" else 1
    net = train_denoiser(sample, method=train["method"], frames=train["frames"] if window > 1 else None,
                         time_budget_s=train["time_budget_s"], max_steps=train["max_steps"], rng=train["seed"],
                         device=device, progress=progress, diagnosis=None if auto is None else auto.diagnosis)
    return net, {}


def _trained_model(stack: Stack, out: Path, manifest: dict[str, Any], train: dict[str, Any], limit: int,
                   device: str, progress: Progress | None, auto: Any = None) -> tuple[Path, str, dict[str, Any]]:
    """Return the model of this run: the one kept in the store by an interrupted run, else trained on a sample now.

    A model trained for ``method="auto"`` records the choice in its JSON (``"auto"``), as the manifest does.
    """
    from ...denoise import save_model

    weights, settings = model_files(out / MODEL_NAME)
    recorded = manifest.get("model_sha256")
    if recorded and weights.exists() and settings.exists() and file_digest(weights, settings) == recorded:
        return weights, recorded, manifest
    window = train["frames"] if train["method"] == "video" else 1
    sample, record = training_sample(stack, budget_bytes=limit // TRAIN_COPIES, window=window)
    net, extra = _train_network(sample, train, device, progress, auto)
    if auto is not None:
        net.auto = auto.to_dict()
    save_model(net, weights)
    _warn_chunk_statistics(net)
    digest = file_digest(weights, settings)
    manifest = {**manifest, **extra, "model_sha256": digest, "training_sample": record}
    write_manifest(out, manifest)
    return weights, digest, manifest


def _shuffle_settings(train_stride: int | None, infer_stride: int | None, passes: int,
                      fraction: float) -> dict[str, Any]:
    """Check and return the pixel-shuffle settings asked for (strides None: measured on the training sample)."""
    strides = [s for s in (train_stride, infer_stride) if s is not None]
    if any(int(s) < 1 for s in strides) or not 0 < fraction < 1 or passes < 0:
        raise InputError(f"pixel_shuffle needs strides >= 1, 0 < refine_fraction < 1 and refine_passes >= 0, got "
                         f"strides {train_stride}, {infer_stride}, refine_fraction {fraction}, refine_passes "
                         f"{passes}; fix the setting")
    return {"train_stride": None if train_stride is None else int(train_stride),
            "infer_stride": None if infer_stride is None else int(infer_stride),
            "refine_passes": int(passes), "refine_fraction": float(fraction)}


def _apply_settings(method: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """Return what each chunk needs besides the model: the pixel-shuffle inference stride and refinement."""
    if method != "pixel_shuffle":
        return {}
    found = manifest["pixel_shuffle"]
    return {"infer_stride": found["infer_stride"], "refine_passes": found["refine_passes"],
            "refine_fraction": found["refine_fraction"], "seed": found["refine_seed"]}


def denoise_large(
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    method: str = "video",
    frames: int = 5,
    time_budget_s: float = 300.0,
    max_steps: int | None = None,
    rng: int = 0,
    axes: str | None = None,
    memory_limit: str | int | None = None,
    scheduler: str = "threads",
    tta: bool = False,
    device: str = "auto",
    tile: int = 256,
    dtype: str = "input",
    save_model: str | os.PathLike | None = None,
    train_stride: int | None = None,
    infer_stride: int | None = None,
    refine_passes: int = 4,
    refine_fraction: float = 0.16,
    allow_missing: bool = False,
    progress: Progress | None = None,
    on_dashboard: Callable[[str], None] | None = None,
) -> ScaleResult:
    """Denoise a stack of any size: train on a bounded sample of its frames, then stream it into Zarr.

    Parameters
    ----------
    input, output, axes, memory_limit, scheduler, tta, device, tile, dtype, allow_missing, progress, on_dashboard
        As :func:`predict_large` (masked pixels of the training sample are set to its median for training).
    method : str
        A method the table marks ``streamed`` (``method_names("streamed")``): a network (``video``, ``n2v``,
        ``n2v2``, ``structn2v``, ``shaped``, ``pixel_shuffle``) or a calibrated baseline (``gaussian``,
        ``median``, ``nlm``, ``tv``); ``bm4d``, ``bm3d`` and ``bm3d_refine`` need whole images or the whole stack
        and are refused. ``"auto"``: the noise is diagnosed once on a bounded sample (the calibration sample) and
        the method chosen among the streamed ones (:func:`operando.denoise.choose_from`; where ``bm3d_refine``
        would be picked in memory, ``pixel_shuffle`` is, and the reason says so); the network's training takes
        that Diagnosis, and the manifest (``"auto"``) and the kept model's JSON record the choice and its reason.
    frames : int
        Window of the video denoiser.
    time_budget_s, max_steps : float, int
        Training budget (networks).
    rng : int
        Seed of the training (recorded in the manifest).
    save_model : str or path, optional
        Also save the trained network here (it is always kept in the store as ``model.*``).
    train_stride, infer_stride, refine_passes, refine_fraction : int, int, int, float
        ``pixel_shuffle`` only, as :func:`operando.denoise.denoise_pixel_shuffle`: strides not given are
        measured once on the training sample; the strides, the refinement and its seed are recorded in the
        manifest (``pixel_shuffle``), and each frame's refinement draws come from (seed, frame index), so the
        chunks give the in-memory result.

    Returns
    -------
    ScaleResult
        As :func:`predict_large`; the manifest records the training sample (the whole stack when it fits
        a sixth of the memory limit, else evenly spaced blocks of frames).
    """
    _check_streams(method)
    stack, out = _open_input(input, output, axes, allow_missing)
    limit = _limit(memory_limit)
    auto = None
    if method == "auto":
        auto = _auto_choice(stack, limit)
        method = auto.method
        emit(progress, 0.0, f"auto -> {method}: {auto.reason}", auto=auto.to_dict())
    settings: dict[str, Any] = {"method": method, "tta": tta, "tile": tile, "dtype": _dtype(stack, dtype)}
    source = {"input": stack, "output": out, "path": os.path.abspath(os.fspath(input)), "axes": axes,
              "allow_missing": allow_missing, "limit": limit, "scheduler": scheduler, "auto": auto}
    if method_entry(method).calibrated:
        return _stream_baseline(source, settings, progress, on_dashboard)
    train = {"method": method, "frames": frames if method == "video" else None, "time_budget_s": time_budget_s,
             "max_steps": max_steps, "seed": int(rng)}
    if method == "pixel_shuffle":
        train["pixel_shuffle"] = _shuffle_settings(train_stride, infer_stride, refine_passes, refine_fraction)
        settings["pixel_shuffle"] = train["pixel_shuffle"]
    return _stream_network(source, settings, train, device, save_model, progress, on_dashboard)


def _check_streams(method: str) -> None:
    """Refuse a method that does not stream chunk by chunk (or is unknown), naming those that do."""
    streamed = method_names("streamed")
    if method != "auto" and method not in streamed:
        method_entry(method)  # an unknown method: its own line
        raise InputError(f"method {method!r} does not stream chunk by chunk; use auto or one of "
                         f"{', '.join(streamed)}, or write a non-Zarr output to run it in memory")


def _auto_choice(stack: Stack, limit: int) -> Any:
    """Choose the method of a streamed ``auto`` run: one diagnosis of a bounded sample, among the streamed methods.

    The sample is the one a calibrated baseline uses (the whole stack when it fits the training share of the
    limit, else a contiguous block of frames in the middle).
    """
    from ...denoise import choose_method

    sample, _ = training_sample(stack, budget_bytes=limit // TRAIN_COPIES, window=1, contiguous=True)
    return choose_method(sample, methods=method_names("streamed"))


def _identity(source: dict[str, Any], model: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """Return what the manifest records about the run (``auto``: the choice and its reason, not compared on resume)."""
    stack = source["input"]
    identity = {"input": input_fingerprint(stack, sequence_axis(stack.axes)), "model": model, "settings": settings}
    if source["auto"] is not None:
        identity["auto"] = source["auto"].to_dict()
    return identity


def _stream_baseline(source: dict[str, Any], settings: dict[str, Any], progress: Progress | None,
                     on_dashboard: Callable[[str], None] | None) -> ScaleResult:
    """Calibrate a baseline on a bounded sample, then stream it (``denoise_large``'s filter branch)."""
    stack, out, method, limit = source["input"], source["output"], settings["method"], source["limit"]
    scheduler = choose_scheduler(source["scheduler"], stack.shape, "cpu")
    params, record = calibrated_params(stack, method, budget_bytes=limit // TRAIN_COPIES)
    settings = {**settings, "params": params, "calibration_sample": record}
    manifest, plan = _start(stack, out, _identity(source, None, settings), baseline_halo(method, params), limit,
                            scheduler, settings["dtype"])
    work = ChunkWork(source=source["path"], axes=source["axes"], output=str(out.resolve()), plan=plan,
                     method=method, params=params, dtype=settings["dtype"], allow_missing=source["allow_missing"])
    return execute(work, manifest, stack.ndim, stack.shape, scheduler=scheduler, progress=progress,
                   on_dashboard=on_dashboard)


def _stream_network(source: dict[str, Any], settings: dict[str, Any], train: dict[str, Any], device: str,
                    save_model: str | os.PathLike | None, progress: Progress | None,
                    on_dashboard: Callable[[str], None] | None) -> ScaleResult:
    """Train a network on a bounded sample (or reuse the one kept in the store), then stream it."""
    stack, out, method, limit = source["input"], source["output"], settings["method"], source["limit"]
    scheduler = choose_scheduler(source["scheduler"], stack.shape, device)
    halo = train["frames"] // 2 if method == "video" else 0
    manifest, plan = _start(stack, out, _identity(source, {"train": train}, settings), halo, limit, scheduler,
                            settings["dtype"], share=PLAN_SHARE.get(method, 1.0), device=device)
    weights, digest, manifest = _trained_model(stack, out, manifest, train, limit, device, progress, source["auto"])
    if save_model is not None:
        for src, dst in zip(model_files(weights), model_files(save_model), strict=True):
            shutil.copyfile(src, dst)
    work = ChunkWork(source=source["path"], axes=source["axes"], output=str(out.resolve()), plan=plan,
                     method=method, model=str(weights.resolve()), model_digest=digest, dtype=settings["dtype"],
                     tta=settings["tta"], device=device, tile=settings["tile"], extra=_apply_settings(method, manifest),
                     allow_missing=source["allow_missing"])
    return execute(work, manifest, stack.ndim, stack.shape, scheduler=scheduler, progress=progress,
                   on_dashboard=on_dashboard)


def baseline_halo(method: str, params: list[dict[str, float]]) -> int:
    """Return the frames a calibrated baseline reads on each side of a frame along the sequence axis.

    The rule is the method table's (``DenoiseMethod.halo``): ``gaussian`` reads the radius of scipy's Gaussian
    (truncated at 4 sigma), ``median`` half its box, per-frame methods nothing.

    Parameters
    ----------
    method : str
        A calibrated baseline.
    params : list of dict
        The per-channel parameters.

    Returns
    -------
    int
        Halo in frames.
    """
    halo = method_entry(method).halo
    return max(halo(p) for p in params) if halo is not None else 0
