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
