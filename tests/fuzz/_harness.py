"""The fuzz suite's harness: run a command in-process and check what a hostile tester checks.

Every refused case asserts: exit code 2 (or 130), exactly one ``error:`` line on stderr and no traceback, the
inputs byte-identical, and no partial output (``.part`` files) left behind.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from operando.cli import app


@dataclass
class Ran:
    """What one command run gave."""

    code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def __str__(self) -> str:
        return (f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}\n"
                f"--- exception {self.exception!r}")


def run_cli(*args: object, env: dict[str, str] | None = None) -> Ran:
    """Run ``operando ARGS`` in this process (the same entry point as the console script)."""
    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    return Ran(result.exit_code, result.stdout, result.stderr, exc)


def snapshot(*paths: os.PathLike | str) -> dict[str, str]:
    """Hash every file under ``paths`` (files or folders), to prove later that nothing changed."""
    hashes: dict[str, str] = {}
    for root in paths:
        root = Path(root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            hashes[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return hashes


def leftovers(folder: os.PathLike | str) -> list[Path]:
    """Partial files (``*.part*``) anywhere under ``folder``."""
    return [p for p in Path(folder).rglob("*") if ".part" in p.name]


def assert_refused(ran: Ran, *, before: dict[str, str] | None = None, folder: os.PathLike | str | None = None,
                   says: str | tuple[str, ...] = (), code: int = 2) -> None:
    """Assert a clean refusal: the exit code, one error line, no traceback, inputs unchanged, no partial files."""
    assert ran.code == code, str(ran)
    assert ran.exception is None, str(ran)
    text = ran.stdout + ran.stderr
    assert "Traceback" not in text, str(ran)
    errors = [line for line in ran.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, str(ran)
    others = [line for line in ran.stderr.splitlines() if line.strip() and not line.startswith(("error:", "note:"))]
    assert not others, f"stray lines on stderr: {others}\n{ran}"
    for word in (says,) if isinstance(says, str) else says:
        assert word.lower() in errors[0].lower(), str(ran)
    if before is not None:
        after = snapshot(*{Path(p) for p in before})
        assert after == before, f"an input changed\n{ran}"
    if folder is not None:
        assert not leftovers(folder), f"partial files left: {leftovers(folder)}\n{ran}"


def assert_ran(ran: Ran) -> None:
    """Assert a clean success: exit 0, no traceback, no stray warning lines."""
    assert ran.code == 0, str(ran)
    assert ran.exception is None, str(ran)
    assert "Traceback" not in ran.stdout + ran.stderr, str(ran)
    stray = [line for line in ran.stderr.splitlines() if "Warning:" in line or line.lstrip().startswith("warnings.")]
    assert not stray, f"raw warnings on stderr: {stray}\n{ran}"
