"""Ground-floor file helpers: atomic writes, JSON/CSV writers, and never overwriting the input.

Every package that writes a file uses these, so that an interrupted run never leaves a half-written output
under the final name and no run ever replaces the file it read.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ._errors import InputError


def same_file(a: str | os.PathLike, b: str | os.PathLike | None) -> bool:
    """Return True if the paths ``a`` and ``b`` name the same file (``b`` may be None).

    Parameters
    ----------
    a, b : str or path
        Plain file-system paths (no ``file.h5:/inner`` suffix).

    Returns
    -------
    bool
        Whether both resolve to the same location.
    """
    if b is None:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def refuse_to_overwrite(target: str | os.PathLike, *inputs: str | os.PathLike | None) -> None:
    """Raise :class:`InputError` if ``target`` is one of ``inputs``.

    Parameters
    ----------
    target : str or path
        The file about to be written.
    *inputs : str or path or None
        The files the run read.

    Raises
    ------
    InputError
        If ``target`` names one of the inputs.
    """
    for source in inputs:
        if same_file(target, source):
            raise InputError(f"{target}: refusing to overwrite the input file; choose another output path")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success move it onto ``target`` in one step.

    Parameters
    ----------
    target : str or path
        The final file (or folder, with ``directory=True``).
    directory : bool
        Whether the output is a folder (e.g. a Zarr store) rather than a file.

    Yields
    ------
    Path
        A temporary path in the same folder; write there.

    Notes
    -----
    On error the temporary path is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    if directory:
        tmp_path.unlink()
    try:
        yield tmp_path
        if tmp_path.is_file():  # mkstemp makes 0600 files: give the output the usual permissions
            os.chmod(tmp_path, 0o666 & ~_umask())
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


def _umask() -> int:
    """Return the process's umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_default(value: object) -> object:
    """Write numpy scalars and arrays, paths and tuples as JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return float(value)  # type: ignore[arg-type]


def write_json_file(path: str | os.PathLike, value: object, *, indent: int = 2) -> Path:
    """Write ``value`` as JSON, atomically.

    Parameters
    ----------
    path : str or path
        Output file.
    value : object
        JSON-serialisable data; numpy scalars and arrays and paths are converted.
    indent : int
        Indentation of the JSON text.

    Returns
    -------
    Path
        The file written.
    """
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(value, indent=indent, default=_json_default), encoding="utf-8")
    return target


def write_csv_file(path: str | os.PathLike, rows: list[dict[str, object]]) -> Path:
    """Write rows of dicts (the first row's keys are the columns) as CSV, atomically.

    Parameters
    ----------
    path : str or path
        Output file.
    rows : list of dict
        The rows; every row has the first row's keys.

    Returns
    -------
    Path
        The file written.
    """
    target = Path(path)
    with atomic_path(target) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
    return target
