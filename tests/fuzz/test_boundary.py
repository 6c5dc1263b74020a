"""The CLI's one error boundary: every failure is one line and an exit code, never a traceback."""

from __future__ import annotations

import errno
import os
import warnings

import numpy as np
import pytest

import operando.io
from tests.fuzz._harness import assert_refused, run_cli, snapshot


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.random.default_rng(0).random((3, 16, 16), dtype=np.float32))
    return path


def _raiser(exc):
    def read(*args, **kwargs):
        raise exc

    return read


@pytest.mark.parametrize(("exc", "words"), [
    (PermissionError(errno.EACCES, "Permission denied", "/data/a.npy"), "permission denied"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/data/out.tif"), "is a folder"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/data/f/out.tif"), "a file stands"),
    (FileExistsError(errno.EEXIST, "File exists", "/data/out"), "already exists"),
    (OSError(errno.ENOSPC, "No space left on device", "/data/out.tif"), "disk is full"),
    (OSError(errno.EFBIG, "File too large", "/data/out.tif"), "size limit"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/data/none.tif"), "no such file"),
])
def test_os_errors_are_one_line_exit_2(monkeypatch, small, exc, words):
    monkeypatch.setattr(operando.io, "read", _raiser(exc))
    assert_refused(run_cli("info", small), says=words)


def test_validation_errors_name_the_field_without_a_link(monkeypatch, small):
    from pydantic import BaseModel, Field

    class Settings(BaseModel):
        time_budget_s: float = Field(gt=0)

    def read(*args, **kwargs):
        Settings(time_budget_s=-1)

    monkeypatch.setattr(operando.io, "read", read)
    ran = run_cli("info", small)
    assert_refused(ran, says="time-budget-s")
    assert "errors.pydantic.dev" not in ran.stderr


def test_unexpected_errors_are_one_line_exit_1_with_a_pointer_to_v(monkeypatch, small):
    monkeypatch.setattr(operando.io, "read", _raiser(ZeroDivisionError("boom")))
    ran = run_cli("info", small)
    assert_refused(ran, says=("unexpected ZeroDivisionError", "-v"), code=1)
    verbose = run_cli("-v", "info", small)
    assert verbose.code == 1 and "Traceback" in verbose.stderr


def test_interrupt_is_130(monkeypatch, small):
    monkeypatch.setattr(operando.io, "read", _raiser(KeyboardInterrupt()))
    ran = run_cli("info", small)
    assert ran.code == 130 and "interrupted" in ran.stderr and "Traceback" not in ran.stderr


def test_numerical_warnings_are_one_note(monkeypatch, small):
    real = operando.io.read

    def read(*args, **kwargs):
        for _ in range(8):
            warnings.warn("invalid value encountered in divide", RuntimeWarning, stacklevel=1)
        warnings.warn("a library's deprecation", DeprecationWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(operando.io, "read", read)
    ran = run_cli("info", small, "--axes", "TYX")
    assert ran.code == 0, ran
    notes = [line for line in ran.stderr.splitlines() if "invalid value" in line]
    assert len(notes) == 1 and notes[0].startswith("note:") and "(x8)" in notes[0]
    assert "Deprecation" not in ran.stderr and "warnings.warn" not in ran.stderr


@pytest.mark.parametrize("args", [
    ("nope",),
    ("predict", "a.npy", "--model", "m", "-o", "b.npy", "--tile", "abc"),
    ("denoise", "a.npy", "-o", "b.npy", "--no-such-option"),
    ("denoise",),
])
def test_usage_errors_are_one_line(tmp_path, small, args):
    before = snapshot(small)
    ran = run_cli(*[str(small) if a == "a.npy" else a for a in args])
    assert_refused(ran, before=before, says="--help")


def test_readers_log_lines_are_not_shown(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00" + os.urandom(200))
    ran = run_cli("info", bad)
    assert_refused(ran, before=snapshot(bad))
