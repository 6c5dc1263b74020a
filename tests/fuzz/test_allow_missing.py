"""A Zarr input with a missing chunk: refused by every in-memory command, or read as NaN with --allow-missing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from operando import Stack
from operando.io import read, write
from tests.fuzz._harness import assert_ran, assert_refused, run_cli, snapshot


@pytest.fixture
def damaged(tmp_path) -> Path:
    data = (0.5 + 0.1 * np.random.default_rng(0).standard_normal((6, 64, 64))).astype(np.float32)
    path = tmp_path / "in.zarr"
    write(Stack(data, "TYX"), path)
    chunks = sorted(p for p in path.rglob("*") if p.is_file() and "c" in p.relative_to(path).parts)
    assert len(chunks) == 6
    os.remove(chunks[0])  # frame 0
    return path


@pytest.mark.parametrize("args", [("info",), ("diagnose",), ("denoise", "-o", "OUT.tif", "--method", "gaussian")])
def test_a_missing_chunk_is_refused(tmp_path, damaged, args):
    before = snapshot(damaged)
    ran = run_cli(args[0], damaged, *[a.replace("OUT", str(tmp_path / "out")) for a in args[1:]])
    assert_refused(ran, before=before, folder=tmp_path, says=("missing", "--allow-missing"))
    assert not (tmp_path / "out.tif").exists()


def test_allow_missing_denoises_the_rest_and_keeps_the_hole(tmp_path, damaged):
    out = tmp_path / "out.tif"
    ran = run_cli("denoise", damaged, "-o", out, "--method", "gaussian", "--allow-missing")
    assert_ran(ran)
    assert "missing" in ran.stderr and "written as NaN" in " ".join(ran.stderr.split())
    result = read(out, allow_nan=True).to_numpy()
    assert np.isnan(result[0]).all() and np.isfinite(result[1:]).all()
    assert abs(float(result[1:].mean()) - 0.5) < 0.01


def test_allow_missing_diagnoses_the_complete_frames(tmp_path, damaged):
    ran = run_cli("diagnose", damaged, "--allow-missing", "--json", tmp_path / "d.json")
    assert_ran(ran)
    assert "5 of 6 frames" in " ".join(ran.stderr.split())
    assert (tmp_path / "d.json").exists()
