"""Chunk plans that give every worker of a cluster an equal share, and where a streamed run's time went."""

import json

import numpy as np
import pytest

from operando.io import read
from operando.workflows.scale import plan_chunks, predict_large, time_breakdown
from operando.workflows.scale._run import parallel_chunks


def _lengths(plan):
    return [plan.bounds(i)[1] - plan.bounds(i)[0] for i in range(plan.n_chunks)]


def test_a_stack_that_fits_one_chunk_is_cut_into_equal_shares_for_a_cluster():
    # the case: 120 x 512 x 512 under the default limit (~11 GB here) was planned as 112 + 8 frames, so
    # local:2 ran almost all of it on one worker with one thread
    one = plan_chunks((120, 512, 512), "TYX", halo=2, memory_limit=11 * 10**9)
    assert _lengths(one) == [112, 8]
    two = plan_chunks((120, 512, 512), "TYX", halo=2, memory_limit=11 * 10**9, spread=2)
    assert _lengths(two) == [60, 60]
    three = plan_chunks((120, 512, 512), "TYX", halo=2, memory_limit=11 * 10**9, spread=3)
    assert three.n_chunks == 3 and max(_lengths(three)) - min(_lengths(three)) <= three.store_chunks[0]


@pytest.mark.parametrize("shape,limit,spread", [((120, 512, 512), 5 * 10**8, 2), ((2000, 512, 512), 5 * 10**8, 2),
                                               ((23, 40, 36), 300_000, 2), ((7, 64, 64), 10**9, 4),
                                               ((1000, 256, 256), 2 * 10**8, 3), ((3, 64, 64), 10**9, 8)])
def test_spread_plans_keep_the_memory_bound_and_whole_store_chunks(shape, limit, spread):
    base = plan_chunks(shape, "TYX", halo=2, memory_limit=limit)
    plan = plan_chunks(shape, "TYX", halo=2, memory_limit=limit, spread=spread)
    assert plan.chunk_frames <= base.chunk_frames  # never more memory than the limit allows
    assert plan.chunk_frames % plan.store_chunks[0] == 0  # each task writes whole Zarr chunks of its own
    assert sum(_lengths(plan)) == shape[0] and plan.store_chunks[1:] == base.store_chunks[1:]
    worth = max(base.n_chunks, shape[0] // 8)  # no chunk under 4 halo frames
    assert plan.n_chunks >= min(spread, worth) - 1 and plan.n_chunks >= base.n_chunks


def test_many_workers_on_a_short_stack_do_not_recompute_more_halo_than_they_save():
    plan = plan_chunks((120, 512, 512), "TYX", halo=2, memory_limit=11 * 10**9, spread=64)
    assert plan.chunk_frames >= 8 and plan.n_chunks <= 15  # 64 chunks of 2 frames would each read 6
    image = plan_chunks((120, 512, 512), "TYX", halo=0, memory_limit=11 * 10**9, spread=64)
    assert image.n_chunks >= 60  # no halo: about one share per worker (60 chunks of 2 frames)


def test_parallel_chunks_of_each_scheduler():
    assert parallel_chunks("threads", "cpu") == 1
    assert parallel_chunks("local:3", "cpu") == 3


def test_chunk_records_say_where_the_time_went(stream_setup, tmp_path):
    folder, _, expected = stream_setup
    result = predict_large(folder / "in.zarr", tmp_path / "o.zarr", model=folder / "model", memory_limit="300KB",
                           dtype="float32", device="cpu")
    assert np.abs(read(tmp_path / "o.zarr").to_numpy() - expected).max() <= 1e-6
    assert result.manifest["planned_for_workers"] == 1
    chunks = result.timings["chunks"]
    assert len(chunks) == result.n_chunks and sum(c["frames"] for c in chunks) == 23
    record = json.loads((tmp_path / "o.zarr" / "operando_stream" / "chunks" / "000000.json").read_text())
    timing = record["timing"]
    assert {"model_s", "read_s", "compute_s", "write_s", "began", "ended", "threads"} <= set(timing)
    assert timing["ended"] >= timing["began"] and timing["compute_s"] > 0 and timing["threads"] >= 1
    summary = time_breakdown(result.timings, result.seconds)
    assert summary["setup_s"] == 0.0 and summary["frames_per_worker"] == [23]
    busy = summary["model_s"] + summary["read_s"] + summary["compute_s"] + summary["write_s"]
    assert busy <= result.seconds * 1.05 and 0 < summary["busy_share"] <= 1.05


def test_local_cluster_on_a_small_stack_runs_in_this_process_with_a_note(stream_setup, tmp_path, monkeypatch):
    import torch

    from operando.workflows.scale._run import CLUSTER_MIN_VALUES, choose_scheduler

    folder, _, expected = stream_setup
    with pytest.warns(UserWarning, match="too small for a local Dask cluster to pay"):
        result = predict_large(folder / "in.zarr", tmp_path / "o.zarr", model=folder / "model",
                               memory_limit="300KB", dtype="float32", device="cpu", scheduler="local:2")
    assert result.scheduler == "threads" and result.dashboard is None and result.timings["setup_s"] == 0.0
    assert np.abs(read(tmp_path / "o.zarr").to_numpy() - expected).max() <= 1e-6
    big = (64, 512, 512)
    assert choose_scheduler("local:2", big, "cpu") == "local:2"  # the threshold is 64 frames of 512 x 512
    assert choose_scheduler("tcp://127.0.0.1:8786", (3, 8, 8), "cpu") == "tcp://127.0.0.1:8786"  # a user's cluster
    assert int(np.prod(big)) == CLUSTER_MIN_VALUES
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert choose_scheduler("processes", (3, 8, 8), "auto") == "processes"  # one worker per GPU is kept


def test_the_cluster_threshold_is_a_documented_setting(monkeypatch):
    from operando import InputError
    from operando.workflows.scale._run import CLUSTER_MIN_VALUES_ENV, choose_scheduler, cluster_min_values

    small = (3, 8, 8)
    with pytest.warns(UserWarning, match=f"set {CLUSTER_MIN_VALUES_ENV}=0"):
        assert choose_scheduler("local:2", small, "cpu") == "threads"
    monkeypatch.setenv(CLUSTER_MIN_VALUES_ENV, "0")  # what the scale benchmark's children set
    assert cluster_min_values() == 0 and choose_scheduler("local:2", small, "cpu") == "local:2"
    with pytest.warns(UserWarning, match="too small"):
        assert choose_scheduler("local:2", small, "cpu", min_values=10**9) == "threads"
    monkeypatch.setenv(CLUSTER_MIN_VALUES_ENV, "lots")
    with pytest.raises(InputError, match="OPERANDO_CLUSTER_MIN_VALUES='lots' is not a whole number"):
        choose_scheduler("local:2", small, "cpu")


class _LibC:
    """Stands in for glibc: records the allocator calls."""

    calls: list = []

    def __init__(self, name):
        pass

    def __getattr__(self, name):
        return lambda *args: _LibC.calls.append(name)


def test_a_run_in_the_callers_process_changes_nothing_process_wide(stream_setup, tmp_path, monkeypatch):
    import ctypes

    import torch

    from operando.workflows.scale import _chunks

    _LibC.calls = []
    threads = []
    monkeypatch.setattr(ctypes, "CDLL", _LibC)
    monkeypatch.setattr(torch, "set_num_threads", threads.append)
    folder, _, expected = stream_setup
    predict_large(folder / "in.zarr", tmp_path / "o.zarr", model=folder / "model", memory_limit="300KB",
                  dtype="float32", device="cpu")
    assert np.abs(read(tmp_path / "o.zarr").to_numpy() - expected).max() <= 1e-6
    assert "mallopt" not in _LibC.calls and threads == []  # no allocator setting, no thread count in this process
    assert "malloc_trim" in _LibC.calls  # (freed memory is still given back after each chunk)
    assert all(key[0] in ("input", "model") for key in _chunks._CACHE)  # a cache of inputs and models, no flags


def test_a_worker_of_our_own_cluster_tunes_its_process(stream_setup, tmp_path, monkeypatch):
    """What run_chunk does in a LocalCluster worker this library started (called in-process here)."""
    import dataclasses

    import torch

    from operando.workflows.scale import _chunks
    from operando.workflows.scale._plan import plan_chunks

    tuned, threads = [], []
    monkeypatch.setattr(_chunks, "tune_malloc", lambda: tuned.append(1))
    monkeypatch.setattr(torch, "set_num_threads", threads.append)
    folder, _, _ = stream_setup
    predict_large(folder / "in.zarr", tmp_path / "o.zarr", model=folder / "model", memory_limit="300KB",
                  dtype="float32", device="cpu")
    plan = plan_chunks((23, 40, 36), "TYX", halo=2, memory_limit=300_000)
    work = _chunks.ChunkWork(source=str(folder / "in.zarr"), axes=None, output=str(tmp_path / "o.zarr"), plan=plan,
                             method="video", model=str(folder / "model.safetensors"), threads=1)
    _chunks.run_chunk(work, 0)
    assert tuned == [] and threads == []  # a chunk of the caller's (threads) or of someone else's cluster
    _chunks.run_chunk(dataclasses.replace(work, own_worker=True, threads=torch.get_num_threads() + 1), 0)
    assert tuned == [1] and threads == [torch.get_num_threads() + 1]


class _Worker:
    def __init__(self, name):
        self.name = name


@pytest.mark.parametrize(("gpus", "name", "expected"), [
    (4, 0, 0), (4, 3, 3), (4, 5, 1), (2, "SLURMCluster-7-1", 1), (2, "SLURMCluster-4", 0), (2, "tcp-worker", 0),
    (1, 3, None),  # one GPU: nothing to choose
])
def test_each_dask_worker_runs_its_chunks_on_its_own_gpu_without_set_device(monkeypatch, gpus, name, expected):
    """The assignment logic only: no GPU here, so torch.cuda and the Dask worker are stand-ins."""
    import contextlib

    import distributed
    import torch

    from operando.workflows.scale import _chunks

    entered, set_device = [], []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(torch.cuda, "set_device", set_device.append)
    monkeypatch.setattr(torch.cuda, "device", lambda i: contextlib.nullcontext(entered.append(i)))
    monkeypatch.setattr(distributed, "get_worker", lambda: _Worker(name))
    assert _chunks.worker_gpu("auto") == expected and _chunks.worker_gpu("cpu") is None
    with _chunks._on_worker_gpu("auto") as device:
        assert device == "auto"
    with _chunks._on_worker_gpu("cpu") as device:
        assert device == "cpu"
    assert entered == ([] if expected is None else [expected])  # for the chunk only, a CPU run never
    assert set_device == []  # the worker's process-wide current device is never changed
