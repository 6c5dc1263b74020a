"""Ground-floor file helpers: atomic writes, JSON/CSV writers, and never overwriting the input.

Every package that writes a file uses these, so that an interrupted run never leaves a half-written output
under the final name and no run ever replaces the file it read.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import glob
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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
    remove_stale_parts(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".part" + target.suffix,
                               dir=target.parent)
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


# ---------------------------------------------------------------------------------------------------------------
# Leftovers of killed runs
# ---------------------------------------------------------------------------------------------------------------

#: Temporary names made by :func:`atomic_path`: ``.NAME.PID.RANDOM.part[.suffix]``.
_PART = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<rand>[A-Za-z0-9_]+)\.part(?:\..*)?$")


def _process_alive(pid: int) -> bool:
    """Return True if a process with this id runs on this machine (or may: permission to signal it is denied)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_parts(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files and folders that killed runs left in ``folder``.

    :func:`atomic_path` names its temporary output ``.NAME.PID.RANDOM.part...``; one whose process no longer
    runs was left by a run that was killed (SIGKILL, power loss) before it could clean up.

    Parameters
    ----------
    folder : str or path
        The folder to sweep (not recursive).

    Returns
    -------
    list of Path
        What was removed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PART.match(entry.name)
        if match is None or _process_alive(int(match.group("pid"))):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


# ---------------------------------------------------------------------------------------------------------------
# The output guard: every path a command writes, checked against every path it reads, before any work
# ---------------------------------------------------------------------------------------------------------------

#: The file operando keeps in an output folder it made, listing the files it wrote there.
FOLDER_RECORD = ".operando-outputs.json"


@dataclass(frozen=True)
class Target:
    """One path a command will write.

    Parameters
    ----------
    path : path
        The file or folder.
    option : str
        The option that names it (``-o``, ``--json``, ...), for messages.
    kind : {"file", "folder", "store"}
        A file; a folder of outputs (new, or holding only an earlier operando run's outputs); a store that is
        a folder on disk but one output (``.zarr``, which streamed runs resume into).
    suffixes : tuple of str
        File endings accepted (lower case, with the dot); empty accepts any.
    companions : tuple of path
        Other files written with it (a model's ``.json`` beside its ``.safetensors``, a ``.json`` beside a TIFF).
    replace : bool
        Whether an existing ``path`` (or companion) may be replaced. False for outputs that are several files of
        one scan (an STXM ``.hdr`` with its ``.xim`` images), which would mix with another scan's files.
    """

    path: Path
    option: str = "-o"
    kind: Literal["file", "folder", "store"] = "file"
    suffixes: tuple[str, ...] = ()
    companions: tuple[Path, ...] = ()
    replace: bool = True


def _resolve(path: str | os.PathLike) -> Path:
    """Resolve a path, following links, without requiring it to exist."""
    return Path(os.path.realpath(os.fspath(path)))


def _is_pattern(text: str) -> bool:
    return glob.has_magic(text)


def input_files(paths: Iterable[str | os.PathLike | None]) -> tuple[list[Path], list[Path]]:
    """Expand the inputs a command reads into resolved files and folders.

    A glob names the files it matches; a folder is read as a whole (frames); ``file.h5:/inner`` names the file.
    Companion files that a reader opens (an STXM ``.hdr``'s images and spectra, a saved model's two files) are
    included.

    Parameters
    ----------
    paths : iterable of path or None
        The input paths as given; None entries are skipped.

    Returns
    -------
    (list of Path, list of Path)
        The files and the folders read, resolved.
    """
    files: list[Path] = []
    folders: list[Path] = []
    for item in paths:
        if item is None:
            continue
        text = os.fspath(item)
        match = re.match(r"^(.+?\.(?:h5|hdf5|hdf|nxs|nx5|he5|zarr)):/.*$", text, re.IGNORECASE)
        if match:
            text = match.group(1)
        names = glob.glob(text) if _is_pattern(text) else [text]
        for name in names:
            resolved = _resolve(name)
            if resolved.is_dir() and not resolved.name.lower().endswith(".zarr"):
                folders.append(resolved)
                continue
            files.append(resolved)
            lower = resolved.name.lower()
            if lower.endswith(".hdr"):
                stem = resolved.name[: -len(".hdr")]
                files += [_resolve(p) for p in glob.glob(os.path.join(glob.escape(str(resolved.parent)),
                                                                      glob.escape(stem) + "*.x[is][mp]"))]
            elif lower.endswith((".safetensors", ".json")) or not resolved.suffix:
                stem = resolved.with_suffix("") if resolved.suffix else resolved
                files += [stem.with_suffix(".safetensors"), stem.with_suffix(".json")]
    return files, folders


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor or "/")


def check_writable(target: Target) -> None:
    """Check that ``target`` can be written: kind, ending, parent folder and permission.

    Parameters
    ----------
    target : Target
        The output.

    Raises
    ------
    InputError
        Naming the option, the path and what to do.
    """
    path, opt = Path(target.path), target.option
    if not os.fspath(path).strip():
        raise InputError(f"{opt}: an empty path; give a file or folder name")
    if target.suffixes and not path.name.lower().endswith(target.suffixes):
        raise InputError(f"{path}: {opt} must end in one of {' '.join(target.suffixes)}")
    if target.kind == "file" and path.is_dir():
        raise InputError(f"{path}: {opt} names an existing folder; give a file name")
    if target.kind in ("folder", "store") and path.exists() and not path.is_dir():
        raise InputError(f"{path}: {opt} names an existing file; give a folder name")
    if target.kind != "folder" and path.name in ("", ".", ".."):
        raise InputError(f"{path}: {opt} needs a file name, not a folder")
    for item in (path, *target.companions):
        if item != path and Path(item).is_dir():
            raise InputError(f"{item}: a folder is in the way of a file that {opt} writes beside {path.name}; "
                             "move it or choose another name")
    base = _nearest_existing(path.parent if target.kind == "file" or not path.exists() else path)
    if not base.is_dir():
        raise InputError(f"{path}: cannot create it, {base} is a file, not a folder; choose another path for {opt}")
    if not os.access(base, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write into {base} (permission denied); choose a folder you can write to")
    if not target.replace:
        existing = [Path(p) for p in (path, *target.companions) if os.path.lexists(p)]
        if existing:
            names = ", ".join(p.name for p in existing[:3]) + (" ..." if len(existing) > 3 else "")
            raise InputError(f"{path}: files of another scan are already there ({names}); remove them or choose "
                             f"another name for {opt}")


def check_outputs(targets: Iterable[Target | None], inputs: Iterable[str | os.PathLike | None] = ()) -> None:
    """Refuse, before any work, an output that would overwrite or lose an input (the output guard).

    Every path a command writes (main output, ``--json``, ``--figure``, side files, output folders) is checked
    against every file and folder it reads (resolved, links followed), against the other outputs, for its kind
    (file or folder), its ending, and its parent folder's existence and write permission.

    Parameters
    ----------
    targets : iterable of Target or None
        The outputs (None entries: options not given).
    inputs : iterable of path or None
        The inputs as the user gave them (files, folders, globs, ``file.h5:/inner``).

    Raises
    ------
    InputError
        One line naming the option, the path and what to do.
    """
    outs = [t for t in targets if t is not None]
    in_files, in_folders = input_files(inputs)
    seen: dict[Path, str] = {}
    for target in outs:
        check_writable(target)
        written = [_resolve(target.path), *(_resolve(c) for c in target.companions)]
        for path in written:
            for source in in_files:
                if path == source:
                    raise InputError(f"{target.path}: {target.option} would overwrite the input {source}; operando "
                                     "never overwrites its input: choose another output path")
                if target.kind != "file" and _inside(source, path):
                    raise InputError(f"{target.path}: the output folder of {target.option} holds the input "
                                     f"{source}; choose another folder")
            for folder in in_folders:
                if _inside(path, folder) or (target.kind != "file" and _inside(folder, path)):
                    raise InputError(f"{target.path}: {target.option} would write into the input folder {folder}; "
                                     "choose an output outside it")
            for other, option in seen.items():
                if path == other or _inside(path, other) or _inside(other, path):
                    raise InputError(f"{target.path}: {target.option} and {option} name the same place; give each "
                                     "its own path")
        for path in written:
            seen[path] = target.option


# ---------------------------------------------------------------------------------------------------------------
# Output folders: new, or holding only an earlier operando run's outputs
# ---------------------------------------------------------------------------------------------------------------


def _folder_record(folder: Path) -> dict | None:
    try:
        return json.loads((folder / FOLDER_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _remove_quietly(path: Path) -> bool:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    except FileNotFoundError:
        return False


def _prune_empty_dirs(folder: Path) -> None:
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            sub.rmdir()


def clear_output_folder(folder: str | os.PathLike) -> list[str]:
    """Make ``folder`` ready for a run's outputs: new, or emptied of an earlier operando run's files.

    Parameters
    ----------
    folder : str or path
        The output folder.

    Returns
    -------
    list of str
        Notes for the user (files removed).

    Raises
    ------
    InputError
        If the folder holds files that operando did not write there (they are left untouched).
    """
    folder = Path(folder)
    if not folder.exists():
        return []
    remove_stale_parts(folder)
    entries = [p for p in folder.iterdir() if p.name != FOLDER_RECORD]
    if not entries:
        return []
    record = _folder_record(folder)
    if record is None:
        names = ", ".join(sorted(p.name for p in entries)[:3]) + (" ..." if len(entries) > 3 else "")
        raise InputError(f"{folder}: the output folder already holds files that operando did not write ({names}); "
                         "give a new or empty folder")
    listed = {folder / name for name in record.get("files", [])}
    started = float(record.get("started", 0.0))
    removed = 0
    foreign: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        if path.name == FOLDER_RECORD and path.parent == folder:
            continue
        ours = path in listed or (not record.get("complete", False) and path.lstat().st_mtime >= started - 1)
        if ours:
            removed += _remove_quietly(path)
        else:
            foreign.append(str(path.relative_to(folder)))
    _prune_empty_dirs(folder)
    notes = [f"removed {removed} file(s) of an earlier operando run from {folder}"] if removed else []
    if foreign:
        notes.append(f"kept {len(foreign)} file(s) in {folder} that the earlier run did not write "
                     f"({', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''})")
    return notes


@contextlib.contextmanager
def output_folder(folder: str | os.PathLike, *, command: str = "") -> Iterator[Path]:
    """Claim an output folder for one run and record, at the end, the files the run wrote there.

    Call :func:`clear_output_folder` first. On success the record lists every file written, so that the next
    run into the same folder removes exactly those; if the run is killed the record says so, and the next run
    removes what appeared after it started.

    Parameters
    ----------
    folder : str or path
        The output folder (created if missing).
    command : str
        What ran, for the record.

    Yields
    ------
    Path
        The folder.
    """
    from . import __version__

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    before = {p for p in folder.rglob("*") if p.is_file()}
    record = {"written_by": f"operando {__version__}", "command": command, "started": time.time(),
              "complete": False, "files": []}
    write_json_file(folder / FOLDER_RECORD, record)
    try:
        yield folder
    finally:
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                       if p.is_file() and p not in before and not (p.name == FOLDER_RECORD and p.parent == folder))
        with contextlib.suppress(OSError):
            write_json_file(folder / FOLDER_RECORD, {**record, "files": files, "complete": True})


def describe_os_error(exc: OSError) -> str:
    """Return one line that says what an operating-system error means for the user and what to do.

    Parameters
    ----------
    exc : OSError
        The error.

    Returns
    -------
    str
        The line (without an ``error:`` prefix).
    """
    where = exc.filename if exc.filename is not None else ""
    if exc.filename2:
        where = f"{where} -> {exc.filename2}"
    prefix = f"{where}: " if where else ""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return (f"{prefix}the disk is full or the file is over the size limit ({os.strerror(code)}); nothing was "
                "left half-written: free space or write elsewhere")
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{prefix}permission denied ({os.strerror(code)}); choose a path you can write to or read"
    if code == errno.EISDIR:
        return f"{prefix}is a folder where a file is expected; give a file name"
    if code == errno.ENOTDIR:
        return f"{prefix}a file stands where a folder is expected; choose another path"
    if code == errno.EEXIST:
        return f"{prefix}already exists; remove it or choose another path"
    if code == errno.ENOENT:
        return f"{prefix}no such file or folder; check the path"
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{prefix}{text}"
