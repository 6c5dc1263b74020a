"""Parse user paths: file type from the extension, ``file.h5:/dataset`` suffixes, globs, atomic writes."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from .._errors import InputError

Kind = Literal["tiff", "zarr", "hdf5", "npy", "frames"]

_SUFFIXES: dict[str, Kind] = {
    ".tif": "tiff", ".tiff": "tiff", ".btf": "tiff", ".tf8": "tiff", ".tf2": "tiff",
    ".zarr": "zarr",
    ".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5", ".nxs": "hdf5", ".nx5": "hdf5", ".he5": "hdf5",
    ".npy": "npy",
}
SUPPORTED = "TIFF/OME-TIFF/BigTIFF (.tif .tiff .btf), Zarr (.zarr), HDF5/NeXus (.h5 .hdf5 .nxs), NPY (.npy), " \
    "a folder or glob of TIFF frames"
_INTERNAL = re.compile(r"^(?P<file>.+?\.(?:h5|hdf5|hdf|nxs|nx5|he5|zarr))(?::(?P<inner>/?.*))?$", re.IGNORECASE)


def split_internal_path(path: str | os.PathLike) -> tuple[Path, str | None]:
    """Split ``file.h5:/group/data`` into the file path and the path inside it."""
    text = os.fspath(path)
    match = _INTERNAL.match(text)
    if match and match.group("inner") is not None:
        return Path(match.group("file")), match.group("inner") or None
    return Path(text), None


def kind_of(path: str | os.PathLike) -> Kind:
    """Return the file type of ``path`` from its extension (or ``"frames"`` for a folder or glob)."""
    file, _ = split_internal_path(path)
    text = os.fspath(file)
    if any(ch in text for ch in "*?["):
        return "frames"
    suffix = file.suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if file.is_dir():
        return "frames"
    raise InputError(f"{text}: unknown file type {suffix or '(no extension)'!r}; operando reads {SUPPORTED}")


def natural_key(text: str) -> list[object]:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", text)]


def frame_files(pattern: str | os.PathLike) -> list[Path]:
    """List the TIFF frames in a folder, or matching a glob, in natural (numbered) order."""
    text = os.fspath(pattern)
    if Path(text).is_dir():
        names = [p for p in Path(text).iterdir() if p.suffix.lower() in (".tif", ".tiff")]
    else:
        names = [Path(p) for p in glob.glob(text)]
    if not names:
        raise InputError(f"{text}: no TIFF frames found; give a folder of .tif files or a glob like 'frames/*.tif'")
    return sorted(names, key=lambda p: natural_key(p.name))


def same_file(a: str | os.PathLike, b: str | os.PathLike | None) -> bool:
    """Return True if ``a`` and ``b`` name the same file (``b`` may be None)."""
    if b is None:
        return False
    fa, _ = split_internal_path(a)
    fb, _ = split_internal_path(b)
    try:
        return fa.resolve() == fb.resolve()
    except OSError:
        return False


@contextlib.contextmanager
def atomic_path(target: Path, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success move it onto ``target`` in one step.

    On error the temporary file is removed and ``target`` is left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    if directory:
        tmp_path.unlink()
    try:
        yield tmp_path
        if directory and target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp_path, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_path, target)
    except BaseException:
        if tmp_path.is_dir():
            shutil.rmtree(tmp_path, ignore_errors=True)
        elif tmp_path.exists():
            tmp_path.unlink()
        raise


def write_json_file(path: str | os.PathLike, value: object, *, indent: int = 2) -> Path:
    """Write ``value`` as JSON atomically (numpy scalars written as floats)."""
    import json

    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(value, indent=indent, default=float), encoding="utf-8")
    return target


def write_csv_file(path: str | os.PathLike, rows: list[dict[str, object]]) -> Path:
    """Write rows of dicts (same keys) as CSV atomically."""
    import csv

    target = Path(path)
    with atomic_path(target) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target
