"""Ctrl-C and SIGKILL in the middle of a run: exit 130 with one word, nothing half-written, the input intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import tifffile

from tests.fuzz._harness import leftovers, snapshot


def test_ctrl_c_during_training_exits_130_and_leaves_nothing(tmp_path):
    noisy = tmp_path / "noisy.tif"
    tifffile.imwrite(noisy, np.random.default_rng(0).random((8, 64, 64), dtype=np.float32),
                     photometric="minisblack")
    before = snapshot(noisy)
    out = tmp_path / "out.tif"
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "operando.cli", "denoise", str(noisy), "-o", str(out),
                                 "--method", "n2v2", "--time-budget", "120"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        time.sleep(10.0)  # imports done, training under way (rich draws no bar into a file until the end)
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        finally:
            proc.kill()
    text = log.read_text()
    log.unlink()
    assert code == 130, text
    assert "interrupted" in text and "Traceback" not in text
    assert not out.exists() and not leftovers(tmp_path)
    assert snapshot(noisy) == before


def test_sigkill_leftovers_are_removed_by_the_next_run(tmp_path):
    """A run killed outright cannot clean up; the next write into that folder removes what it left."""
    src = tmp_path / "a.npy"
    np.save(src, np.ones((2, 8, 8), np.float32))
    script = ("import os, numpy as np\n"
              "from operando._files import atomic_path\n"
              f"with atomic_path({str(tmp_path / 'out.npy')!r}) as tmp:\n"
              "    np.save(tmp, np.zeros((2, 8, 8)))\n"
              "    os.kill(os.getpid(), 9)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert leftovers(tmp_path), "a killed write leaves its temporary file"
    ran = subprocess.run([sys.executable, "-m", "operando.cli", "convert", str(src), "-o", str(tmp_path / "b.npy")],
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert not leftovers(tmp_path)
    assert not (tmp_path / "out.npy").exists()
