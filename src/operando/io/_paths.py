"""Parse user paths: ``file.h5:/dataset`` suffixes, globs and numbered frame files."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .._errors import InputError
from .._files import same_file

_INTERNAL = re.compile(r"^(?P<file>.+?\.(?:h5|hdf5|hdf|nxs|nx5|he5|zarr))(?::(?P<inner>/?.*))?$", re.IGNORECASE)


def split_internal_path(path: str | os.PathLike) -> tuple[Path, str | None]:
    """Split ``file.h5:/group/data`` into the file path and the path inside it (None when absent)."""
    text = os.fspath(path)
    match = _INTERNAL.match(text)
    if match and match.group("inner") is not None:
        return Path(match.group("file")), match.group("inner") or None
    return Path(text), None


def is_pattern(path: str | os.PathLike) -> bool:
    """Return True if ``path`` is a glob pattern (holds ``*``, ``?`` or ``[``)."""
    return any(ch in os.fspath(path) for ch in "*?[")


def matching_files(pattern: str | os.PathLike, suffixes: tuple[str, ...], what: str) -> list[Path]:
    """List the files in a folder, or matching a glob, with one of ``suffixes``, in natural (numbered) order.

    Raises :class:`InputError` naming ``what`` was looked for when nothing matches.
    """
    import glob

    import tifffile

    text = os.fspath(pattern)
    if Path(text).is_dir():
        names = [str(p) for p in Path(text).iterdir() if p.suffix.lower() in suffixes]
    else:
        names = [p for p in glob.glob(text) if Path(p).suffix.lower() in suffixes]
    if not names:
        raise InputError(f"{text}: no {what} found; give a folder of them or a glob like 'frames/*{suffixes[0]}'")
    return [Path(p) for p in tifffile.natural_sorted(names)]


def same_path(a: str | os.PathLike, b: str | os.PathLike | None) -> bool:
    """Return True if ``a`` and ``b`` name the same file, ignoring ``:/inner`` dataset suffixes."""
    if b is None:
        return False
    return same_file(split_internal_path(a)[0], split_internal_path(b)[0])
