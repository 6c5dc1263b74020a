"""The scale benchmark: memory, throughput, cluster, kill-and-resume and bad-input checks of streamed runs.

:func:`run_scaling_benchmark` measures frames per second against stack size for one process, a LocalCluster
(``local:N``) and a ``tcp://`` cluster of N workers started by hand on this machine, back to back in
alternating order, with where the time went.

Every streamed or in-memory run happens in a child process, so that the peak resident memory of its whole
process tree (the child and any Dask workers it starts) is measured from outside (psutil, every 50 ms). A
:class:`~operando.Cancelled` raised by ``progress`` kills the running child's process group within 50 ms and
propagates (the outputs of runs already finished stay; the tables are written only at the end).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import Progress, check_cancel, emit
from .._provenance import versions
from ..workflows.scale import CHUNK_RECORDS

_CHILD = """
import json, sys, time
args = json.loads(sys.argv[1])
t0 = time.perf_counter()
if args["mode"] == "memory":
    from operando.denoise import load_model, predict
    from operando.io import read, write
    stack = read(args["input"])
    write(predict(load_model(args["model"]), stack, device="cpu"), args["output"], dtype="float32")
    print(json.dumps({"seconds": time.perf_counter() - t0}))
else:
    from operando import InputError
    from operando.workflows.scale import denoise_large, predict_large
    try:
        if args.get("method"):
            r = denoise_large(args["input"], args["output"], method=args["method"], memory_limit=args["limit"],
                              scheduler=args["scheduler"], dtype="float32", device="cpu")
        else:
            r = predict_large(args["input"], args["output"], model=args["model"], memory_limit=args["limit"],
                              scheduler=args["scheduler"], dtype="float32", device="cpu")
        from operando.workflows.scale import time_breakdown
        print(json.dumps({"seconds": time.perf_counter() - t0, "skipped": r.skipped, "chunks": r.n_chunks,
                          "loads": list(r.model_loads.values()), "run_s": r.seconds,
                          "breakdown": time_breakdown(r.timings, r.seconds)}))
    except InputError as exc:
        print(json.dumps({"error": str(exc)}))
"""


def make_stack(path: Path, *, frames: int, size: int, seed: int = 0, block: int = 16) -> None:
    """Write a float32 ``frames x size x size`` noisy moving pattern to a Zarr store, block by block."""
    import zarr

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    arr = group.create_array("data", shape=(frames, size, size), dtype="float32", chunks=(block, size, size),
                             dimension_names=["t", "y", "x"])
    for t0 in range(0, frames, block):
        t = np.arange(t0, min(t0 + block, frames), dtype=np.float32)[:, None, None]
        clean = 0.5 + 0.3 * np.sin(6.0 * xx + 0.01 * t) * np.cos(5.0 * yy - 0.02 * t)
        arr[t0:t0 + len(t)] = clean + 0.1 * rng.standard_normal(clean.shape, dtype=np.float32)


def _tree_rss(proc: Any) -> int:
    import psutil

    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_child(args: dict[str, Any], *, prefix: tuple[str, ...] = (), kill_when: Any = None,
              progress: Progress | None = None) -> dict[str, Any]:
    """Run one streamed/in-memory child; return its JSON result, wall seconds, peak tree RSS and exit code.

    ``args["force_cluster"]``: the child starts its LocalCluster even on a stack too small for it to pay (the
    documented setting ``OPERANDO_CLUSTER_MIN_VALUES=0`` in its environment). ``progress`` is checked every 50 ms:
    a :class:`~operando.Cancelled` raised by it kills the child's process group and propagates.
    """
    import psutil

    env = {**os.environ, "OPERANDO_CLUSTER_MIN_VALUES": "0"} if args.get("force_cluster") else None
    proc = subprocess.Popen([*prefix, sys.executable, "-c", _CHILD, json.dumps(args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)
    watcher, peak, t0 = psutil.Process(proc.pid), [0], time.perf_counter()
    streams: list[tuple[str, str]] = []
    reader = threading.Thread(target=lambda: streams.append(proc.communicate()), daemon=True)
    reader.start()
    try:
        while proc.poll() is None:
            try:
                peak[0] = max(peak[0], _tree_rss(watcher))
            except psutil.Error:
                pass
            if kill_when is not None and kill_when():
                _kill_group(proc)  # the child and any workers it started
            check_cancel(progress)
            time.sleep(0.05)
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        reader.join()
    out, err = streams[0] if streams else ("", "")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    return {**result, "wall_s": time.perf_counter() - t0, "peak_rss_bytes": peak[0], "returncode": proc.returncode,
            "stderr_tail": err.strip().splitlines()[-1:] if proc.returncode else []}


def _kill_group(proc: Any) -> None:
    """Kill a child's process group (the child and any Dask workers it started)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def train_benchmark_model(stack_path: Path, model_path: Path, *, base: int = 16, seed: int = 0) -> None:
    """Train a small video model on a 16-frame crop of the stack (speed and memory do not depend on its quality)."""
    from ..denoise import TrainConfig, save_model, train_denoiser
    from ..io import read

    stack = read(stack_path, lazy=True)
    crop = np.asarray(stack.data[0:16, 0:128, 0:128])
    from .._stack import Stack

    config = TrainConfig(method="video", base=base, max_steps=20, patch=32, blind_spot=True, impulse_filter=False,
                         skip_impulses=False, loss="mse")
    save_model(train_denoiser(Stack(crop, axes="TYX"), config=config, rng=seed, device="cpu"), model_path)


def read_output(path: Path) -> np.ndarray:
    """Read a streamed or in-memory output array (an empty array when there is none or it is unfinished)."""
    from .._errors import InputError
    from ..io import read

    try:
        return read(path).to_numpy()
    except InputError:
        return np.empty(0, np.float32)


def records_done(output: Path) -> int:
    """Return the number of finished-chunk records in a streamed output."""
    folder = output / CHUNK_RECORDS
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


def _row(name: str, frames: int, res: dict[str, Any], **extra: Any) -> dict[str, Any]:
    seconds = res.get("seconds", float("nan"))
    row = {"case": name, "frames": frames, "seconds": round(seconds, 2), "frames_per_s": round(frames / seconds, 3),
           "peak_rss_mb": round(res["peak_rss_bytes"] / 1e6), "returncode": res["returncode"], **extra}
    return {**row, "error": res["error"]} if res.get("error") else row


def _throughput_rows(folder: Path, frames: int, limit: str, workers: int, in_memory: bool,
                     progress: Progress | None = None) -> list[dict[str, Any]]:
    """Streamed in one process, in memory, and on a LocalCluster: speed, peak memory, equality."""
    base = {"input": str(folder / "big.zarr"), "model": str(folder / "model"), "limit": limit}
    rows = []
    one = run_child({**base, "mode": "stream", "output": str(folder / "s1.zarr"), "scheduler": "threads"},
                    progress=progress)
    ref = read_output(folder / "s1.zarr")
    rows.append(_row("streamed, threads", frames, one, memory_limit=limit))
    if in_memory:
        mem = run_child({**base, "mode": "memory", "output": str(folder / "mem.zarr")}, progress=progress)
        got = read_output(folder / "mem.zarr")
        diff = float(np.abs(got - ref).max()) if got.shape == ref.shape else None
        rows.append(_row("in memory (predict)", frames, mem, max_abs_diff_vs_streamed=diff))
    if workers > 1:
        many = run_child({**base, "mode": "stream", "output": str(folder / "s2.zarr"), "scheduler": f"local:{workers}"},
                         progress=progress)
        got = read_output(folder / "s2.zarr")
        same = bool(np.array_equal(got, ref))
        diff = float(np.abs(got - ref).max()) if got.shape == ref.shape else None
        rows.append(_row(f"streamed, local:{workers}", frames, many, memory_limit=limit, identical=same,
                         max_abs_diff_vs_streamed=diff,
                         model_loads_per_worker=many.get("loads")))
    return rows


def _resume_rows(folder: Path, frames: int, limit: str, progress: Progress | None = None) -> list[dict[str, Any]]:
    """SIGKILL a streamed run once half its chunks are recorded, rerun it: time and identity."""
    base = {"input": str(folder / "big.zarr"), "model": str(folder / "model"), "limit": limit, "mode": "stream",
            "output": str(folder / "s3.zarr"), "scheduler": "threads"}
    manifest = json.loads((folder / "s1.zarr" / "operando_stream" / "manifest.json").read_text())
    n_chunks = -(-manifest["plan"]["length"] // manifest["plan"]["chunk_frames"])
    killed = run_child(base, kill_when=lambda: records_done(folder / "s3.zarr") >= n_chunks / 2, progress=progress)
    kept = records_done(folder / "s3.zarr")
    resumed = run_child(base, progress=progress)
    same = bool(np.array_equal(read_output(folder / "s3.zarr"), read_output(folder / "s1.zarr")))
    return [
        {**_row("killed at ~50 % (SIGKILL)", frames, {**killed, "seconds": killed["wall_s"]}), "chunks_kept": kept,
         "of_chunks": n_chunks},
        _row("same command again (resumed)", frames, resumed, skipped=resumed.get("skipped"), identical=same),
    ]


def _bad_input_rows(folder: Path, limit: str, base: int, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Another run's output is refused untouched; an unwritable output gives one line and keeps its chunks."""
    other = folder / "other_model"
    train_benchmark_model(folder / "big.zarr", other, base=base, seed=1)
    before = read_output(folder / "s1.zarr")
    args = {"input": str(folder / "big.zarr"), "model": str(other), "limit": limit, "mode": "stream",
            "output": str(folder / "s1.zarr"), "scheduler": "threads"}
    refused = run_child(args, progress=progress)
    untouched = bool(np.array_equal(read_output(folder / "s1.zarr"), before))
    rows = [{"case": "output holds another run's manifest", "error": refused.get("error"),
             "error_lines": len(str(refused.get("error", "")).splitlines()), "output_unchanged": untouched}]
    out = folder / "s4.zarr"
    args = {**args, "model": str(folder / "model"), "output": str(out)}
    lock = out / "data" / "c"
    state = {"locked": False}

    manifest = json.loads((folder / "s1.zarr" / "operando_stream" / "manifest.json").read_text())
    at = min(2, -(-manifest["plan"]["length"] // manifest["plan"]["chunk_frames"]) - 1)

    def lock_after_two() -> bool:
        if not state["locked"] and records_done(out) >= at:
            state["locked"] = subprocess.run(["chattr", "+i", str(lock)], capture_output=True).returncode == 0
        return False

    unwritable = run_child(args, kill_when=lock_after_two, progress=progress)
    subprocess.run(["chattr", "-i", str(lock)], capture_output=True)
    rows.append({"case": f"output becomes unwritable (chattr +i) after {at} chunk(s)", "error": unwritable.get("error"),
                 "error_lines": len(str(unwritable.get("error", "")).splitlines()), "chunks_kept": records_done(out),
                 "locked": state["locked"]})
    return rows


def run_scale_benchmark(folder: str | os.PathLike, *, frames: int = 2000, size: int = 512,
                        memory_limit: str = "500MB", workers: int = 2, in_memory: bool = True,
                        capped_frames: int = 0, cap_bytes: int = 0, cap: str = "cgroup",
                        capped_method: str | None = None, base: int = 16,
                        progress: Progress | None = None) -> list[dict[str, Any]]:
    """Run the scale benchmark in ``folder`` and return its rows (also in ``folder/scale.json``, with versions).

    Parameters
    ----------
    folder : str or path
        Working folder (the stacks are generated there).
    frames, size : int
        The stack: ``frames x size x size`` float32.
    memory_limit : str
        ``--memory-limit`` of the streamed runs.
    workers : int
        Workers of the LocalCluster run (0 or 1: skipped).
    in_memory : bool
        Also run the in-memory path (the stack must fit in memory).
    capped_frames, cap_bytes : int
        If both > 0: a ``capped_frames x size x size`` stack denoised with its memory capped at ``cap_bytes``.
    cap : {"cgroup", "prlimit"}
        How the memory is capped (:func:`cap_prefix`).
    capped_method : str, optional
        Denoise the capped stack with this method (trained or calibrated on a bounded sample) instead of the
        saved video model.
    base : int
        Width of the benchmark's video network (16 is the default network).
    progress : callable, optional
        Receives a :class:`~operando.ProgressEvent` per group of cases and is checked every 50 ms while a child
        runs; a :class:`~operando.Cancelled` raised by it kills the child and propagates.

    Returns
    -------
    list of dict
        One row per case.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    make_stack(folder / "big.zarr", frames=max(frames, 16), size=size)
    train_benchmark_model(folder / "big.zarr", folder / "model", base=base)
    rows = []
    if frames:
        emit(progress, 0.1, "throughput")
        rows += _throughput_rows(folder, frames, memory_limit, workers, in_memory, progress)
        emit(progress, 0.4, "kill and resume")
        rows += _resume_rows(folder, frames, memory_limit, progress)
        emit(progress, 0.6, "bad inputs")
        rows += _bad_input_rows(folder, memory_limit, base, progress)
    if capped_frames and cap_bytes:
        emit(progress, 0.8, "capped memory")
        rows.append(capped_row(folder, capped_frames, size, memory_limit, cap_bytes, cap, capped_method, progress))
    config = {"frames": frames, "size": size, "memory_limit": memory_limit, "workers": workers, "in_memory": in_memory,
              "capped_frames": capped_frames, "cap_bytes": cap_bytes, "cap": cap, "capped_method": capped_method,
              "base": base}
    (folder / "scale.json").write_text(json.dumps({"rows": rows, "config": config, "versions": versions()}, indent=2))
    return rows


def cap_prefix(cap: str, cap_bytes: int) -> tuple[str, ...]:
    """Return the command prefix that caps a child's memory: ``prlimit --as`` or a cgroup-v1 memory limit.

    The cgroup (``/sys/fs/cgroup/memory/operando_scale_bench``, needs root) limits resident memory plus page
    cache, the closest to a machine with that much RAM; ``prlimit --as`` limits virtual address space.
    """
    if cap == "prlimit":
        return ("prlimit", f"--as={cap_bytes}")
    group = Path("/sys/fs/cgroup/memory/operando_scale_bench")
    group.mkdir(exist_ok=True)
    (group / "memory.limit_in_bytes").write_text(str(cap_bytes))
    return ("sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh")


def capped_row(folder: Path, frames: int, size: int, limit: str, cap_bytes: int, cap: str,
               method: str | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Denoise a stack larger than the memory a capped child may use; return its row.

    The child applies the saved model, or ``method`` trained or calibrated on a bounded sample by
    :func:`denoise_large`.
    """
    make_stack(folder / "capped_in.zarr", frames=frames, size=size, seed=1)
    args = {"input": str(folder / "capped_in.zarr"), "model": str(folder / "model"), "limit": limit,
            "mode": "stream", "output": str(folder / "capped.zarr"), "scheduler": "threads", "method": method}
    res = run_child(args, prefix=cap_prefix(cap, cap_bytes), progress=progress)
    done = read_output(folder / "capped.zarr").shape == (frames, size, size)
    name = (f"stack {frames * size * size * 4 / 1e9:.2f} GB, memory capped at {cap_bytes / 1e9:.2f} GB ({cap}), "
            f"{method or 'saved video model'}")
    return _row(name, frames, res, memory_limit=limit, finished=done, stderr=res["stderr_tail"])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HandStartedCluster:
    """A ``dask scheduler`` and ``dask worker --nworkers N --nthreads 1`` started on 127.0.0.1, as a user would.

    Used as a context manager: the address is ready (all N workers connected, at most ``timeout`` s) on entry,
    and both process groups are killed on exit. Its start is not part of a run's time (it is started ahead).
    """

    def __init__(self, workers: int, *, timeout: float = 180.0) -> None:
        self.workers, self.timeout, self.procs = workers, timeout, []
        self.address = f"tcp://127.0.0.1:{_free_port()}"

    def __enter__(self) -> HandStartedCluster:
        from distributed import Client

        port = self.address.rsplit(":", 1)[1]
        dask = [sys.executable, "-m", "dask"]
        common = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
        self.procs.append(subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", port,
                                            "--dashboard-address", ":0"], **common))
        self.procs.append(subprocess.Popen([*dask, "worker", self.address, "--nworkers", str(self.workers),
                                            "--nthreads", "1", "--memory-limit", "0", "--death-timeout", "60"],
                                           **common))
        try:
            with Client(self.address, timeout=f"{int(self.timeout)}s") as client:
                client.wait_for_workers(self.workers, timeout=self.timeout)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        self.procs = []


def _scaling_run(folder: Path, frames: int, scheduler: str, tag: str, limit: str | None,
                 force_cluster: bool, progress: Progress | None = None) -> dict[str, Any]:
    out = folder / f"out_{tag}.zarr"
    load = os.getloadavg()[0]
    res = run_child({"input": str(folder / "big.zarr"), "model": str(folder / "model"), "limit": limit,
                     "mode": "stream", "output": str(out), "scheduler": scheduler, "force_cluster": force_cluster},
                    progress=progress)
    seconds = res.get("seconds", float("nan"))
    return {"frames": frames, "scheduler": scheduler.split("://")[0] + ("://" if "://" in scheduler else ""),
            "seconds": round(seconds, 2), "frames_per_s": round(frames / seconds, 3), "chunks": res.get("chunks"),
            "model_loads": res.get("loads"), "breakdown": res.get("breakdown"), "load_avg_1min": round(load, 2),
            "peak_rss_mb": round(res["peak_rss_bytes"] / 1e6), "error": res.get("error") or res["stderr_tail"],
            "output": str(out)}


def run_scaling_benchmark(folder: str | os.PathLike, *, sizes: tuple[int, ...] = (30, 60, 120), size: int = 512,
                          workers: int = 2, repeats: int = 2, memory_limit: str | None = None, base: int = 16,
                          tcp: bool = True, force_cluster: bool = False,
                          progress: Progress | None = None) -> list[dict[str, Any]]:
    """Frames per second against stack size: one process, ``local:N`` and a hand-started ``tcp://`` cluster.

    For each stack of ``frames x size x size`` float32 (a saved video network of width ``base``; 16 is the
    default network), the schedulers run back to back, their order rotated at every repetition (the machine may
    be shared: each row records the 1-minute load average when it started). Every run is a child process timed
    from its start to its end (imports, cluster start, model loads and all), as a user's command is; a
    ``tcp://`` cluster's scheduler and workers are started fresh before each of its runs and that start is not
    counted (they would be running already). Each row says where the time went (``breakdown``, from the chunk
    records) and the max abs difference of its output from the one-process run of the same repetition.

    Parameters
    ----------
    folder : str or path
        Working folder (a sub-folder per stack size).
    sizes : tuple of int
        Frames of the stacks.
    size : int
        Frame side in pixels.
    workers : int
        Workers of ``local:N`` and of the ``tcp://`` cluster.
    repeats : int
        Repetitions (the order of the schedulers rotates).
    memory_limit : str, optional
        ``--memory-limit`` (default: half the available memory, as the CLI).
    base : int
        Width of the video network.
    tcp : bool
        Also run the hand-started ``tcp://`` cluster.
    force_cluster : bool
        Start the LocalCluster even for stacks under ``CLUSTER_MIN_VALUES`` (which otherwise run in one process,
        with a note): measures what the cluster would cost there (``OPERANDO_CLUSTER_MIN_VALUES=0`` in the
        children's environment).
    progress : callable, optional
        Receives a :class:`~operando.ProgressEvent` per run and is checked every 50 ms while a child runs; a
        :class:`~operando.Cancelled` raised by it kills the child and propagates.

    Returns
    -------
    list of dict
        One row per run (also written to ``folder/scaling.json``: rows, config and versions).
    """
    folder = Path(folder)
    rows: list[dict[str, Any]] = []
    config = {"sizes": list(sizes), "size": size, "workers": workers, "repeats": repeats, "memory_limit": memory_limit,
              "base": base, "tcp": tcp, "force_cluster": force_cluster}
    for frames in sizes:
        sub = folder / f"f{frames}"
        sub.mkdir(parents=True, exist_ok=True)
        make_stack(sub / "big.zarr", frames=frames, size=size)
        train_benchmark_model(sub / "big.zarr", sub / "model", base=base)
        kinds = ["threads", f"local:{workers}"] + (["tcp"] if tcp else [])
        for rep in range(repeats):
            order = kinds[rep % len(kinds):] + kinds[:rep % len(kinds)]
            got: dict[str, dict[str, Any]] = {}
            for kind in order:
                tag = f"{kind.replace(':', '')}_{rep}"
                emit(progress, len(rows) / (len(sizes) * repeats * len(kinds)), f"{frames} frames, {kind}, "
                     f"repeat {rep + 1}/{repeats}")
                if kind == "tcp":
                    with HandStartedCluster(workers) as cluster:
                        row = _scaling_run(sub, frames, cluster.address, tag, memory_limit, force_cluster, progress)
                else:
                    row = _scaling_run(sub, frames, kind, tag, memory_limit, force_cluster, progress)
                got[kind] = {**row, "repeat": rep}
            ref = read_output(Path(got["threads"]["output"]))
            for kind in order:
                out = read_output(Path(got[kind].pop("output")))
                diff = float(np.abs(out - ref).max()) if out.shape == ref.shape and ref.size else None
                rows.append({**got[kind], "max_abs_diff_vs_one_process": diff})
            (folder / "scaling.json").write_text(json.dumps({"rows": rows, "config": config, "versions": versions()},
                                                            indent=2))
    return rows


def scaling_table(rows: list[dict[str, Any]]) -> str:
    """Return a Markdown table of frames/s by stack size and scheduler: median, and every run, with load."""
    by: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault((row["frames"], row["scheduler"]), []).append(row)
    kinds = list(dict.fromkeys(row["scheduler"] for row in rows))
    lines = ["| frames | " + " | ".join(f"{k} frames/s: median (runs)" for k in kinds) + " | load avg |",
             "|---|" + "---|" * len(kinds) + "---|"]
    for frames in sorted({row["frames"] for row in rows}):
        cells = []
        for kind in kinds:
            fps = [r["frames_per_s"] for r in by.get((frames, kind), [])]
            cells.append(f"{np.median(fps):.2f} ({', '.join(f'{v:.2f}' for v in fps)})" if fps else "-")
        loads = [r["load_avg_1min"] for r in rows if r["frames"] == frames]
        lines.append(f"| {frames} | " + " | ".join(cells) + f" | {min(loads):.1f}-{max(loads):.1f} |")
    return "\n".join(lines)
