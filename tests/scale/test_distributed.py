"""A Dask LocalCluster of two processes, and a run killed with SIGKILL then resumed (subprocesses)."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from operando.io import read
from operando.workflows.scale import predict_large

TINY = "300KB"


@pytest.mark.slow
def test_local_cluster_of_two_processes_gives_the_same_output(stream_setup, monkeypatch):
    monkeypatch.setenv("OPERANDO_CLUSTER_MIN_VALUES", "0")  # a real cluster, although this stack is too small to pay
    folder, _, expected = stream_setup
    seen = []
    result = predict_large(folder / "in.zarr", folder / "cluster.zarr", model=folder / "model", memory_limit=TINY,
                           dtype="float32", device="cpu", scheduler="local:2", on_dashboard=seen.append)
    assert result.n_chunks > 2 and result.dashboard and seen == [result.dashboard]
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))  # a worker's share: the same sums in the same order
    try:
        single = predict_large(folder / "in.zarr", folder / "single.zarr", model=folder / "model", memory_limit=TINY,
                               dtype="float32", device="cpu")
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(read(folder / "cluster.zarr").to_numpy(), read(folder / "single.zarr").to_numpy())
    assert single.manifest["plan"] == result.manifest["plan"]
    assert np.abs(read(folder / "cluster.zarr").to_numpy() - expected).max() <= 1e-6
    assert os.getpid() not in result.model_loads and len(result.model_loads) <= 2
    assert all(n == 1 for n in result.model_loads.values())  # once per worker, not once per chunk


def test_sigkill_then_rerun_finishes_with_identical_output(stream_setup):
    folder, _, expected = stream_setup
    script = textwrap.dedent(f"""
        import os, signal
        from operando.workflows.scale import predict_large

        def die_halfway(event):
            if event.fraction >= 0.5:
                os.kill(os.getpid(), signal.SIGKILL)

        predict_large({str(folder / "in.zarr")!r}, {str(folder / "killed.zarr")!r}, model={str(folder / "model")!r},
                      memory_limit={TINY!r}, dtype="float32", device="cpu", progress=die_halfway)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL
    resumed = predict_large(folder / "in.zarr", folder / "killed.zarr", model=folder / "model", memory_limit=TINY,
                            dtype="float32", device="cpu")
    assert resumed.skipped == 3 and resumed.frames_computed == 11  # 12 of 23 frames were done when it died
    assert np.abs(read(folder / "killed.zarr").to_numpy() - expected).max() <= 1e-6
