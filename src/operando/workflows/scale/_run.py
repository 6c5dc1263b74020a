"""Run the chunk tasks of a streamed output: create or resume the store, schedule, report progress, finish.

Schedulers: ``threads`` (default) runs the chunks one after another in this process (torch uses every core
inside a chunk); ``processes`` or ``local:N`` start a Dask ``LocalCluster`` of N worker processes
(``processes``: one per GPU when the run may use GPUs, else one per core; worker ``i`` uses GPU ``i mod n``);
an address (``tcp://host:8786``) connects to a running Dask scheduler (dask-jobqueue, Kubernetes).

A ``local:N`` or ``processes`` run on a stack under :data:`CLUSTER_MIN_VALUES` values runs in this process
instead (with a note); the environment variable ``OPERANDO_CLUSTER_MIN_VALUES`` sets another threshold (``0``:
always start the cluster, as the scale benchmark does to measure what it costs).

Cancel: a :class:`~operando.Cancelled` raised by the ``progress`` callback stops the run. Chunks run in this
process stop between tiles, before anything of the chunk in hand is written; on a cluster no further chunk is
handed out and the pending ones are cancelled. Every finished chunk keeps its data and its record, and the
manifest stays ``complete: false``: the same command resumes.
"""

from __future__ import annotations

import errno
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._progress import Progress, check_cancel, emit
from ..._stack import Stack
from ...io import EVERY_CHUNK, STANDARD_NAMES, ngff_axes, write_ome_image
from ._chunks import ChunkWork, chunk_damage, gpu_count, run_chunk
from ._manifest import chunk_record, write_manifest
from ._plan import ChunkPlan

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScaleResult:
    """What a streamed run did: where, how much, how fast, and on what."""

    output: Path
    shape: tuple[int, ...]
    dtype: str
    n_chunks: int
    skipped: int  # chunks found finished and verified (a resumed run)
    frames_computed: int
    seconds: float
    frames_per_s: float
    scheduler: str
    dashboard: str | None = None
    model_loads: dict[int, int] = field(default_factory=dict)  # process id -> models loaded
    manifest: dict[str, Any] = field(default_factory=dict)
    #: Where the time went: ``setup_s`` (starting or reaching the Dask cluster; 0 in-process), ``submitted``
    #: (wall clock, ``time.time``, when the chunks were handed out), ``workers`` (the processes that ran chunks)
    #: and ``chunks``: per chunk its process, frames and ``timing`` (model_s, read_s, compute_s, write_s, began,
    #: ended, threads; see ``run_chunk``). :func:`time_breakdown` sums it up.
    timings: dict[str, Any] = field(default_factory=dict)


_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _why(exc: OSError) -> str:
    """Say what an OSError met while writing the output means."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in _FULL:
        return f"the disk is full or a file is over the size limit ({reason})"
    return reason


def create_store(output: Path, manifest: dict[str, Any], stack: Stack, plan: ChunkPlan, dtype: str, *,
                 resume: bool = False) -> None:
    """Create the output: the manifest first (``complete: false``), then the empty Zarr array, an OME-Zarr image.

    The array is stored in NGFF's axis order (:func:`~operando.io.ngff_axes`; the chunks write into it through
    ``stored_key``) and described in the group's ``ome`` attribute. With ``resume`` the manifest is kept and only a
    missing array is created (a first run stopped between them).
    """
    import zarr

    stored = ngff_axes(stack.axes) or stack.axes
    perm = [stack.axes.index(a) for a in stored]
    try:
        output.mkdir(parents=True, exist_ok=True)
        if not resume:
            write_manifest(output, manifest)
        group = zarr.open_group(str(output), mode="a", zarr_format=3)
        group.require_group("operando_stream")
        if "data" not in group:
            arr = group.create_array("data", shape=[stack.shape[p] for p in perm], dtype=dtype,
                                     chunks=[plan.store_chunks[p] for p in perm],
                                     dimension_names=[STANDARD_NAMES[a] for a in stored], fill_value=0)
            record = {k: v for k, v in stack.metadata.to_dict().items() if k != "source"}
            record["extra"] = {**record.get("extra", {}), "denoise": manifest.get("record", {})}
            arr.attrs.update({"operando": {**record, "axes": stack.axes, "original_dtype": dtype}, EVERY_CHUNK: True})
            write_ome_image(group, stored, stack.metadata, "data")
    except OSError as exc:
        raise InputError(f"{output}: cannot create the output ({_why(exc)}); choose a writable location with free "
                         "space, then run the same command again") from None


def _parse_scheduler(scheduler: str) -> tuple[str, int | None, str | None]:
    """Return (kind, workers, address) for a ``--scheduler`` value."""
    text = scheduler.strip()
    if text == "threads":
        return "threads", 1, None
    if text == "processes":
        return "local", os.cpu_count() or 1, None
    if text.startswith("local:") and text[6:].isdigit() and int(text[6:]) >= 1:
        return "local", int(text[6:]), None
    if "://" in text or (":" in text and text.rsplit(":", 1)[1].isdigit()):
        return "address", None, text
    raise InputError(f"unknown scheduler {scheduler!r}; use threads, processes, local:N (N worker processes) "
                     "or a Dask scheduler address such as tcp://host:8786")


def scheduler_workers(scheduler: str) -> int:
    """Return how many chunks run at once under ``scheduler`` (1 for a remote cluster's per-worker budget)."""
    kind, workers, _ = _parse_scheduler(scheduler)
    return workers or 1


#: Values (frames x values per frame) below which ``local:N`` runs in this process instead: a LocalCluster's fixed
#: cost (starting N worker processes that each import torch and operando's denoisers: 4-5 s, then 7-11 s more per
#: worker on the shared 2-core machine, measured by benchmarks/scale_benchmark.py --scaling) is then more than its
#: workers save. 64 frames of 512 x 512 (docs/large-data.md, "Does a cluster pay on one machine?"). The environment
#: variable :data:`CLUSTER_MIN_VALUES_ENV` overrides it (read at each run).
CLUSTER_MIN_VALUES = 64 * 512 * 512
#: Name of the environment variable that sets another threshold than :data:`CLUSTER_MIN_VALUES` (``0``: always
#: start the cluster asked for).
CLUSTER_MIN_VALUES_ENV = "OPERANDO_CLUSTER_MIN_VALUES"


def cluster_min_values() -> int:
    """Return the stack size (values) from which ``local:N`` starts its cluster: the setting, else the default.

    Returns
    -------
    int
        ``OPERANDO_CLUSTER_MIN_VALUES`` when set (a whole number >= 0), else :data:`CLUSTER_MIN_VALUES`.

    Raises
    ------
    InputError
        When the variable is set to something else than a whole number >= 0.
    """
    text = os.environ.get(CLUSTER_MIN_VALUES_ENV, "").strip()
    if not text:
        return CLUSTER_MIN_VALUES
    if not text.isdigit():
        raise InputError(f"{CLUSTER_MIN_VALUES_ENV}={text!r} is not a whole number of values >= 0; set it to e.g. "
                         f"0 (always start the cluster) or unset it (default {CLUSTER_MIN_VALUES})")
    return int(text)


def choose_scheduler(scheduler: str, shape: tuple[int, ...], device: str, *, min_values: int | None = None) -> str:
    """Return the scheduler a run uses: ``threads`` instead of a LocalCluster too costly for the stack (with a note).

    Parameters
    ----------
    scheduler : str
        The scheduler asked for.
    shape : tuple of int
        The stack's shape.
    device : {"auto", "cpu", "cuda"}
        The device of the run: a run that may use GPUs keeps its cluster (one worker per GPU).
    min_values : int, optional
        The threshold; None: :func:`cluster_min_values` (``OPERANDO_CLUSTER_MIN_VALUES``, else
        :data:`CLUSTER_MIN_VALUES`).

    Returns
    -------
    str
        ``scheduler``, or ``threads`` when it asks for a LocalCluster (``local:N``, ``processes``) on the CPU and the
        stack has fewer than ``min_values`` values. A cluster reached by its address is always used.
    """
    kind, _, _ = _parse_scheduler(scheduler)
    values = int(np.prod(shape))
    threshold = cluster_min_values() if min_values is None else int(min_values)
    if kind != "local" or values >= threshold or gpu_count(device) > 0:
        return scheduler
    warnings.warn(f"--scheduler {scheduler}: this stack ({' x '.join(map(str, shape))}) is too small for a local Dask "
                  f"cluster to pay (its worker processes take 5-15 s to start and import torch; under "
                  f"{threshold / 2**18:g} frames of 512 x 512 that is more than they save), so it runs in this "
                  f"process, as --scheduler threads; the output is the same (set {CLUSTER_MIN_VALUES_ENV}=0 to "
                  "start the cluster anyway)", UserWarning, stacklevel=3)
    return "threads"


def parallel_chunks(scheduler: str, device: str) -> int:
    """Return how many chunks ``scheduler`` runs at the same time: the chunk plan gives each an equal share.

    Parameters
    ----------
    scheduler : str
        ``threads`` (1), ``processes`` or ``local:N`` (the LocalCluster's workers, :func:`local_workers`), or a
        Dask scheduler address (its worker processes now; a worker runs one network call at a time).
    device : {"auto", "cpu", "cuda"}
        The device of the run.

    Returns
    -------
    int
        At least 1.
    """
    kind, _, address = _parse_scheduler(scheduler)
    if kind == "threads":
        return 1
    if kind == "local":
        return local_workers(scheduler, device)
    with _client(kind, None, address) as client:
        return max(1, len(client.nthreads()))


def local_workers(scheduler: str, device: str) -> int:
    """Return the worker processes of the LocalCluster that ``scheduler`` starts.

    Parameters
    ----------
    scheduler : str
        ``processes`` or ``local:N``.
    device : {"auto", "cpu", "cuda"}
        The device of the run.

    Returns
    -------
    int
        N for ``local:N`` (worker ``i`` then uses GPU ``i mod n`` on a machine with n GPUs); for ``processes``
        one worker per GPU when the run may use the machine's GPUs, else one per CPU core.
    """
    _, workers, _ = _parse_scheduler(scheduler)
    if scheduler.strip() == "processes":
        return gpu_count(device) or workers or 1
    return workers or 1


@contextmanager
def _client(kind: str, workers: int | None, address: str | None) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if kind == "address":
        try:
            client = Client(address, timeout="20s")
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler at {address} ({exc}); start it (dask scheduler, "
                             "dask-jobqueue) or use --scheduler threads") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=0,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client


def _pending(work: ChunkWork, ndim: int) -> list[int]:
    """Return the chunks still to do: those without a record, or whose stored bytes are damaged (with a note).

    A finished chunk is verified against its record's SHA-256 (a chunk truncated on disk cannot even be decoded);
    a damaged one is recomputed.
    """
    todo = []
    damaged: list[str] = []
    for i in range(work.plan.n_chunks):
        record = chunk_record(Path(work.output), i)
        why = None if record is None else chunk_damage(work, record, ndim)
        if record is None or why is not None:
            todo.append(i)
        if why is not None:
            start, stop = work.plan.bounds(i)
            damaged.append(f"chunk {i} (frames {start}-{stop - 1}: {why})")
    if damaged:
        listed = "; ".join(damaged[:3]) + (f"; and {len(damaged) - 3} more" if len(damaged) > 3 else "")
        warnings.warn(f"{work.output}: {len(damaged)} finished chunk(s) are damaged on disk and are recomputed: "
                      f"{listed}", UserWarning, stacklevel=3)
    return todo


def _frames_of(work: ChunkWork, todo: list[int]) -> int:
    return sum(work.plan.bounds(i)[1] - work.plan.bounds(i)[0] for i in todo)


#: Seconds between two cancel checks while a cluster computes (the callback hears of no chunk in between).
POLL_S = 0.25


def _run_tasks(work: ChunkWork, todo: list[int], scheduler: str, report: Callable[[dict[str, Any]], None],
               on_dashboard: Callable[[str], None] | None, timings: dict[str, Any],
               progress: Progress | None = None) -> str | None:
    """Run the chunk tasks ``todo``; return the dashboard address of a Dask cluster (None in-process).

    ``timings`` receives ``setup_s`` (starting or reaching the cluster) and ``submitted`` (wall clock).
    ``progress`` is checked between tiles (in this process) or every :data:`POLL_S` seconds (on a cluster); a
    :class:`~operando.Cancelled` raised by it cancels the chunks not yet finished and propagates.
    """
    kind, workers, address = _parse_scheduler(scheduler)
    t0 = time.perf_counter()
    if kind == "threads":
        timings.update(setup_s=0.0, submitted=time.time())
        check = None if progress is None else (lambda event: check_cancel(progress))
        for i in todo:
            check_cancel(progress)
            report(run_chunk(work, i, progress=check))
        return None
    if kind == "local":
        workers = local_workers(scheduler, work.device if work.model else "cpu")  # baselines: CPU only
        # the workers are this library's own processes: they may tune their allocator and torch threads (the cores
        # shared among them); a cluster reached by its address keeps its workers' own settings
        work = replace(work, own_worker=True, threads=work.threads or max(1, (os.cpu_count() or 1) // workers))
    with _client(kind, workers, address) as client:
        timings.update(setup_s=time.perf_counter() - t0, submitted=time.time())
        dashboard = client.dashboard_link
        logger.info("Dask dashboard: %s", dashboard)
        if on_dashboard is not None:
            on_dashboard(dashboard)
        futures = client.map(run_chunk, [work] * len(todo), todo, pure=False)
        try:
            _collect(futures, report, progress)
        except BaseException:  # Cancelled, KeyboardInterrupt or a failed chunk: hand out nothing more
            client.cancel(futures)
            raise
    return dashboard


def _collect(futures: list[Any], report: Callable[[dict[str, Any]], None], progress: Progress | None) -> None:
    """Report the chunks as they finish; give ``progress`` a chance to cancel every :data:`POLL_S` seconds."""
    from distributed import as_completed

    finished = as_completed(futures)
    while not finished.is_empty():
        batch = finished.next_batch(block=False)
        for future in batch:
            report(future.result())
        if not batch:
            check_cancel(progress)
            time.sleep(POLL_S)


def time_breakdown(timings: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Sum up where a streamed run's time went, from :attr:`ScaleResult.timings`.

    Parameters
    ----------
    timings : dict
        ``ScaleResult.timings``.
    seconds : float
        The run's wall time (``ScaleResult.seconds``).

    Returns
    -------
    dict
        ``setup_s`` (cluster start), ``first_chunk_wait_s`` (from handing out the chunks to the first one starting
        on any worker: worker imports, scheduling), ``model_s``, ``read_s``, ``compute_s``, ``write_s`` (summed
        over chunks, so over workers), ``busy_share`` (chunk time summed over workers / (workers x wall time)),
        ``tail_s`` (from the first worker going idle for good to the last chunk's end: unequal shares), and the
        per-worker ``frames``.
    """
    chunks = timings.get("chunks", [])
    if not chunks:
        return {"setup_s": round(timings.get("setup_s", 0.0), 2)}
    sums = {k: round(sum(c["timing"].get(k, 0.0) for c in chunks), 2)
            for k in ("model_s", "read_s", "compute_s", "write_s")}
    per: dict[int, dict[str, float]] = {}
    for c in chunks:
        w = per.setdefault(c["pid"], {"frames": 0, "busy": 0.0, "ended": 0.0})
        w["frames"] += c["frames"]
        w["busy"] += c["timing"]["ended"] - c["timing"]["began"]
        w["ended"] = max(w["ended"], c["timing"]["ended"])
    began = min(c["timing"]["began"] for c in chunks)
    ends = sorted(w["ended"] for w in per.values())
    return {"setup_s": round(timings.get("setup_s", 0.0), 2),
            "first_chunk_wait_s": round(began - timings.get("submitted", began), 2), **sums,
            "busy_share": round(sum(w["busy"] for w in per.values()) / max(len(per) * seconds, 1e-9), 3),
            "tail_s": round(ends[-1] - ends[0], 2), "frames_per_worker": [int(w["frames"]) for w in per.values()],
            "threads": sorted({c["timing"].get("threads") for c in chunks}, key=str)}


def execute(work: ChunkWork, manifest: dict[str, Any], ndim: int, shape: tuple[int, ...], *, scheduler: str,
            progress: Progress | None = None, on_dashboard: Callable[[str], None] | None = None) -> ScaleResult:
    """Run every chunk not yet finished and verified, then mark the manifest complete (last).

    A :class:`~operando.Cancelled` raised by ``progress`` propagates with the finished chunks kept and recorded
    and the manifest left incomplete (resumable); no chunk is half written and recorded.
    """
    output = Path(work.output)
    todo = _pending(work, ndim)
    total = _frames_of(work, todo)
    done, loads, t0 = [0], {}, time.perf_counter()
    timings: dict[str, Any] = {"chunks": []}

    def report(record: dict[str, Any]) -> None:
        done[0] += record["stop"] - record["start"]
        timings["chunks"].append({"index": record["index"], "pid": record["pid"],
                                  "frames": record["stop"] - record["start"], "timing": record.get("timing", {})})
        loads[record["pid"]] = loads.get(record["pid"], 0) + int(record["loaded_model"])
        rate = done[0] / max(time.perf_counter() - t0, 1e-9)
        emit(progress, done[0] / max(total, 1), f"{done[0]}/{total} frames, {rate:.1f} frames/s",
             frames_per_s=rate, chunks_done=len(timings["chunks"]))

    try:
        dashboard = _run_tasks(work, todo, scheduler, report, on_dashboard, timings, progress) if todo else None
    except OSError as exc:
        kept = work.plan.n_chunks - len(todo) + sum(1 for i in todo if chunk_record(output, i) is not None)
        raise InputError(f"{output}: cannot write a chunk ({_why(exc)}); the {kept} finished chunk(s) are kept: "
                         "free space or fix permissions and run the same command again to resume") from None
    seconds = time.perf_counter() - t0
    manifest = {**manifest, "complete": True, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        write_manifest(output, manifest)  # last: only now is the output a finished one
    except OSError as exc:
        raise InputError(f"{output}: every chunk is written but the manifest cannot be marked complete ({_why(exc)}); "
                         "free space and run the same command again to finish") from None
    return ScaleResult(output=output, shape=shape, dtype=work.dtype, n_chunks=work.plan.n_chunks,
                       skipped=work.plan.n_chunks - len(todo), frames_computed=total, seconds=seconds,
                       frames_per_s=total / seconds if seconds > 0 else float(np.inf), scheduler=scheduler,
                       dashboard=dashboard, model_loads=loads, manifest=manifest,
                       timings={**timings, "workers": len(loads)})
