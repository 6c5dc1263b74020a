"""One chunk of a streamed run: read the frames with their halo, denoise, write, record.

Everything a task needs travels as a :class:`ChunkWork` of paths and plain values, so that the same function
runs in this process, in a thread, or on a Dask worker anywhere. Each process opens the input and loads the
model once (:data:`_CACHE`), not once per chunk.

A chunk changes nothing process-wide in the caller's process: the allocator and torch's thread count are tuned
only in the worker processes of a LocalCluster this library started (``ChunkWork.own_worker``), and a worker's
GPU is chosen for the duration of a chunk only (``torch.cuda.device``), never with ``torch.cuda.set_device``.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..._progress import Progress
from ..._stack import Stack, convert_dtype
from ._manifest import array_digest, record_chunk
from ._plan import ChunkPlan

#: Per-process cache: opened inputs and loaded models, keyed by path (and digest for models). Nothing else.
_CACHE: dict[tuple[str, ...], Any] = {}
#: One network call at a time per process: predict() prepares the module in place (device, memory layout), and
#: torch already uses every core inside one call.
_NETWORK_LOCK = threading.Lock()


@dataclass(frozen=True)
class ChunkWork:
    """The settings shared by every chunk task of a run (picklable: paths and plain values)."""

    source: str
    axes: str | None
    output: str
    plan: ChunkPlan
    method: str
    model: str | None = None
    model_digest: str | None = None
    params: list[dict[str, float]] | None = None
    dtype: str = "float32"
    tta: bool = False
    device: str = "auto"
    tile: int = 256
    threads: int | None = None
    array: str = "data"
    extra: dict[str, Any] = field(default_factory=dict)
    allow_missing: bool = False  # read missing or undecodable chunks of a Zarr input as NaN
    #: True only for the workers of a LocalCluster this library started: they may tune their process (allocator,
    #: torch threads). Never set for chunks run in the caller's process or on a cluster reached by its address.
    own_worker: bool = False


def _stack(work: ChunkWork) -> Stack:
    key = ("input", work.source, work.axes or "", str(work.allow_missing))
    if key not in _CACHE:
        from ...io import read

        with warnings.catch_warnings():  # the notes on the input were given when the run opened it
            warnings.simplefilter("ignore")
            _CACHE[key] = read(work.source, axes=work.axes, lazy=True, allow_missing=work.allow_missing)
    return _CACHE[key]


def cached_model(path: str, digest: str | None) -> tuple[Any, bool]:
    """Return the saved model at ``path`` (loaded once per process) and whether this call loaded it."""
    key = ("model", path, digest or "")
    if key in _CACHE:
        return _CACHE[key], False
    from ...denoise import load_model

    _CACHE[key] = load_model(path)
    return _CACHE[key], True


def gpu_count(device: str) -> int:
    """Return the CUDA GPUs this process may use for ``device``.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        The device asked for.

    Returns
    -------
    int
        ``torch.cuda.device_count()`` for ``auto``/``cuda`` when CUDA is available, else 0.
    """
    if device not in ("auto", "cuda"):
        return 0
    import torch

    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def worker_index(name: Any) -> int:
    """Return a Dask worker's index from its name.

    Parameters
    ----------
    name : int or str
        ``distributed.get_worker().name``: a LocalCluster names its workers 0, 1, ...; dask-jobqueue names a
        job's worker ``<cluster>-<job>`` and, with several processes per job, ``<cluster>-<job>-<i>``.

    Returns
    -------
    int
        The number the name ends with (0 when it ends with none).
    """
    text = str(name)
    tail = text.rsplit("-", 1)[-1]
    return int(text) if text.isdigit() else (int(tail) if tail.isdigit() and "-" in text else 0)


def worker_gpu(device: str) -> int | None:
    """Return the GPU of this Dask worker: on a machine with ``n > 1`` GPUs, worker ``i`` uses GPU ``i mod n``.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        The device of the run.

    Returns
    -------
    int or None
        The GPU index; None outside a Dask worker (``--scheduler threads``: the current device is used), for a
        CPU run, or with fewer than two GPUs.
    """
    n = gpu_count(device)
    if n < 2:
        return None
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        return None
    return worker_index(name) % n


@contextmanager
def _on_worker_gpu(device: str) -> Iterator[str]:
    """Run the block on this worker's GPU (:func:`worker_gpu`): ``cuda`` means it there, and only there.

    ``torch.cuda.device`` makes it the current device for the block and restores the previous one afterwards,
    so the worker's process is left as it was.
    """
    index = worker_gpu(device)
    if index is None:
        yield device
        return
    import torch

    with torch.cuda.device(index):
        yield device


def block_bounds(plan: ChunkPlan, start: int, stop: int) -> tuple[int, int]:
    """Return the frames ``[a, b)`` read for the chunk ``[start, stop)``: the chunk and its halo.

    A block is widened to at least the whole window (``2 halo + 1`` frames) when the stack has them: the
    network needs a full window, and more context never changes a frame's result (mirroring happens only at the
    stack's own ends).
    """
    a, b = max(0, start - plan.halo), min(plan.length, stop + plan.halo)
    short = min(2 * plan.halo + 1, plan.length) - (b - a)
    if short > 0:
        b = min(plan.length, b + short)
        a = max(0, a - (min(2 * plan.halo + 1, plan.length) - (b - a)))
    return a, b


def _take(plan: ChunkPlan, ndim: int, start: int, stop: int) -> tuple[slice, ...]:
    return tuple(slice(start, stop) if i == plan.seq_axis else slice(None) for i in range(ndim))


def stored_order(arr: Any, axes: str) -> tuple[int, ...] | None:
    """Return how the output array stores a stack with ``axes``: stored axis ``i`` is stack axis ``perm[i]``.

    None when it stores them in the stack's order (an output written before OME-Zarr, or axes already in NGFF
    order). Read from the array's ``dimension_names``, so a run resumed on an older output writes as it did.
    """
    from ...io import axes_from_names

    names = getattr(arr.metadata, "dimension_names", None)
    stored = axes_from_names(list(names)) if names and None not in names else None
    if not stored or stored == axes or sorted(stored) != sorted(axes):
        return None
    return tuple(axes.index(a) for a in stored)


def stored_key(key: tuple[slice, ...], perm: tuple[int, ...] | None) -> tuple[slice, ...]:
    """Return a key of the stack's order (slices, one per axis) in the stored order."""
    return key if perm is None else tuple(key[p] for p in perm)


def denoise_block(block: Stack, work: ChunkWork, model: Any = None, first_frame: int = 0,
                  progress: Progress | None = None) -> np.ndarray:
    """Denoise one float32 block (a chunk with its halo) exactly as the in-memory path would; float32 out.

    ``first_frame`` is the block's first index along the sequence axis in the whole stack: the pixel-shuffle
    refinement draws each frame's random pixels from (seed, frame index). ``progress`` is handed to the network
    (a chunk run in the caller's process can then be stopped between tiles).
    """
    if model is not None and work.method == "pixel_shuffle":
        from ...denoise import apply_pixel_shuffle

        with _NETWORK_LOCK, _on_worker_gpu(work.device) as device:
            return apply_pixel_shuffle(model, block, **work.extra, first_frame=first_frame, device=device,
                                       progress=progress).to_numpy()
    if model is not None:
        from ...denoise import predict

        with _NETWORK_LOCK, _on_worker_gpu(work.device) as device:
            return predict(model, block, device=device, tile=work.tile, tta=work.tta, progress=progress).to_numpy()
    from ...denoise import denoise_with_params

    return denoise_with_params(block, method=work.method, params=work.params).to_numpy()


def compute_chunk(stack: Stack, work: ChunkWork, start: int, stop: int, model: Any = None,
                  timing: dict[str, float] | None = None, progress: Progress | None = None) -> np.ndarray:
    """Return the denoised frames ``[start, stop)`` (float32) of ``stack`` along the plan's sequence axis.

    ``timing``, if given, receives ``read_s`` (reading the block with its halo) and ``compute_s`` (denoising it);
    ``progress`` goes to :func:`denoise_block`.
    """
    from ._train import fill_masked

    plan = work.plan
    t0 = time.perf_counter()
    if plan.seq_axis is None:
        data, mask = fill_masked(np.asarray(stack.data[...]).astype(np.float32))
        t1 = time.perf_counter()
        out = denoise_block(Stack(data, axes=stack.axes, metadata=stack.metadata), work, model, progress=progress)
    else:
        a, b = block_bounds(plan, start, stop)
        data, mask = fill_masked(np.asarray(stack.data[_take(plan, stack.ndim, a, b)]).astype(np.float32,
                                                                                              copy=False))
        t1 = time.perf_counter()
        out = denoise_block(Stack(data, axes=stack.axes, metadata=stack.metadata), work, model, first_frame=a,
                            progress=progress)
    if timing is not None:
        timing.update(read_s=t1 - t0, compute_s=time.perf_counter() - t1)
    if mask is not None:  # masked input pixels (missing chunks read as NaN) stay NaN
        out[mask] = np.nan
    if plan.seq_axis is None:
        return out
    return out[_take(plan, stack.ndim, start - a, stop - a)]


def tune_malloc() -> None:
    """Set this worker process's glibc allocator for streamed chunks (before its I/O threads allocate).

    Process-wide: called only in the worker processes of a LocalCluster this library started (``run_chunk`` with
    ``ChunkWork.own_worker``), at the start of every chunk (setting the same values again changes nothing).

    - One malloc arena: Zarr decodes chunks in worker threads; with glibc's default of one arena per thread the
      memory freed there is kept, and a streamed run's resident memory crept up by ~150 MB over 900 frames of
      512 x 512 (measured; ``MALLOC_ARENA_MAX=1`` keeps it flat).
    - Where ``MALLOC_TRIM_THRESHOLD_`` or ``MALLOC_MMAP_THRESHOLD_`` is set in the environment (a Dask nanny sets
      ``MALLOC_TRIM_THRESHOLD_=65536`` in every worker it spawns), glibc stops raising its mmap threshold, every
      large network buffer is mapped and unmapped again, and CPU inference ran 1.7x slower (0.37 against 0.22
      s per 512 x 512 frame, one thread, measured). The thresholds are then set to glibc's own steady state
      (mmap 32 MiB, trim 64 MiB); :func:`release_memory` still trims after each chunk.

    No effect outside glibc.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 1)  # M_ARENA_MAX
        if "MALLOC_TRIM_THRESHOLD_" in os.environ or "MALLOC_MMAP_THRESHOLD_" in os.environ:
            libc.mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD
            libc.mallopt(-1, 64 * 2**20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def release_memory() -> None:
    """Give freed memory back to the system (glibc keeps freed large blocks otherwise, and RSS creeps up)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        pass


def run_chunk(work: ChunkWork, index: int, progress: Progress | None = None) -> dict[str, Any]:
    """Denoise chunk ``index``, write it into the output store and record it; return what was done.

    The record (returned, and in the chunk's record file) carries where the chunk's time went: ``timing`` with
    ``model_s`` (loading the model: once per process), ``read_s`` (the block and its halo), ``compute_s``
    (denoising), ``write_s`` (writing, hashing and recording), the wall-clock ``began``/``ended`` (``time.time``)
    and the torch threads the chunk ran with. ``progress`` (a chunk run in the caller's process) is called
    between tiles: a :class:`~operando.Cancelled` raised there stops the chunk before anything of it is written.
    """
    import zarr

    began, t0 = time.time(), time.perf_counter()
    if work.own_worker:  # a worker process this library started: tune it (never the caller's process)
        tune_malloc()
    threads = None
    if work.model is not None:  # a baseline needs no torch (a worker would import it for nothing)
        import torch

        if work.own_worker and work.threads and torch.get_num_threads() != work.threads:
            torch.set_num_threads(work.threads)
        threads = int(torch.get_num_threads())
    model, loaded = (None, False) if work.model is None else cached_model(work.model, work.model_digest)
    timing: dict[str, float] = {"model_s": time.perf_counter() - t0}
    start, stop = work.plan.bounds(index)
    stack = _stack(work)
    out = convert_dtype(compute_chunk(stack, work, start, stop, model, timing=timing, progress=progress),
                        np.dtype(work.dtype))
    t1 = time.perf_counter()
    with zarr.config.set({"array.write_empty_chunks": True}):  # every chunk stored: a missing one is damage
        arr = zarr.open_array(str(Path(work.output)), path=work.array, mode="r+")
    perm = stored_order(arr, stack.axes)
    arr[stored_key(_take(work.plan, stack.ndim, start, stop), perm)] = out if perm is None else out.transpose(perm)
    digest = array_digest(out)
    del out
    release_memory()
    timing = {k: round(v, 4) for k, v in {**timing, "write_s": time.perf_counter() - t1}.items()}
    timing = {**timing, "began": round(began, 3), "ended": round(time.time(), 3), "threads": threads}
    record_chunk(Path(work.output), index, start, stop, digest, timing=timing)
    return {"index": index, "start": start, "stop": stop, "sha256": digest, "pid": os.getpid(),
            "loaded_model": loaded, "seconds": time.perf_counter() - t0, "timing": timing}


def chunk_damage(work: ChunkWork, record: dict[str, Any], ndim: int) -> str | None:
    """Return why the stored frames of a recorded chunk are damaged, or None when they hash to the record.

    A stored Zarr chunk that cannot be decoded (truncated or overwritten on disk) or whose bytes no longer give
    the recorded SHA-256 is damaged; reading never raises for it.
    """
    import zarr

    try:
        start, stop, digest = int(record["start"]), int(record["stop"]), str(record["sha256"])
    except (KeyError, TypeError, ValueError):
        return "its record is incomplete"
    arr = zarr.open_array(str(Path(work.output)), path=work.array, mode="r")
    axes = dict(arr.attrs.get("operando") or {}).get("axes")  # the stack's order, recorded by create_store
    perm = stored_order(arr, axes) if isinstance(axes, str) and len(axes) == ndim else None
    try:
        data = np.asarray(arr[stored_key(_take(work.plan, ndim, start, stop), perm)])
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # numcodecs / zarr raise RuntimeError, ValueError, ... for a broken chunk
        return f"it cannot be decoded: {exc}"
    if perm is not None:  # the digest is of the chunk in the stack's order, as written
        data = data.transpose(np.argsort(perm))
    if array_digest(data) != digest:
        return "its bytes differ from the recorded checksum"
    return None


def verify_chunk(work: ChunkWork, record: dict[str, Any], ndim: int) -> bool:
    """Return True when the stored frames of a recorded chunk still hash to the recorded digest."""
    return chunk_damage(work, record, ndim) is None
