"""The file-format registry: one row per format, naming the module that reads (and maybe writes) it.

Adding a format is one module and one row here. A format module defines

- ``read(file: Path, inner: str | None, *, lazy: bool) -> Raw`` and, if it can write,
- ``write(stack: Stack, data: ndarray, file: Path, inner: str | None) -> None`` (atomically, via
  :func:`operando._files.atomic_path`).

Modules are imported only when a file of their kind is read or written, so ``import operando.io`` stays light
whatever libraries a format needs.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .._errors import InputError
from ._paths import is_pattern, split_internal_path


@dataclass
class Raw:
    """What a format module's ``read`` returns: the data, the axes the file records (or None), metadata."""

    data: Any
    axes: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileFormat:
    """One file format: its name, file-name endings, a description, and the module that handles it."""

    name: str
    suffixes: tuple[str, ...]
    description: str
    module: str
    writable: bool = False

    def load(self) -> ModuleType:
        """Import and return the module that reads and writes this format."""
        return importlib.import_module(self.module, package=__package__)


#: Every format operando reads, most specific ending first. ``frames`` is chosen for folders and globs.
FORMATS: tuple[FileFormat, ...] = (
    FileFormat("tiff", (".ome.tif", ".ome.tiff", ".tif", ".tiff", ".btf", ".tf8", ".tf2"),
               "TIFF / OME-TIFF / BigTIFF", "._tiff", writable=True),
    FileFormat("zarr", (".zarr",), "Zarr v2/v3 (data.zarr or data.zarr:/array)", "._zarr", writable=True),
    FileFormat("nxstxm", (".nxstxm.h5", ".stxm.h5", ".stxm.nxs"), "NeXus NXstxm (any name: io.read_nxstxm)",
               "._nxstxm", writable=True),
    FileFormat("stxm", (".hdr",), "STXM_Control .hdr + .xim images / .xsp spectra", "._stxm", writable=True),
    FileFormat("xrm", (".xrm", ".txrm"), "Xradia TXM .xrm / .txrm", "._xrm"),
    FileFormat("hdf5", (".h5", ".hdf5", ".hdf", ".nxs", ".nx5", ".he5"),
               "HDF5 / NeXus (file.h5:/entry/data)", "._hdf5", writable=True),
    FileFormat("npy", (".npy",), "NumPy .npy", "._npy", writable=True),
    FileFormat("fits", (".fits", ".fit", ".fts"), "FITS images and cubes (astropy)", "._fits", writable=True),
    FileFormat("video", (".mp4", ".m4v", ".avi", ".mov", ".mkv"),
               "movies via PyAV (MP4/AVI/MOV/MKV; writing is lossy H.264)", "._video", writable=True),
    FileFormat("image", (".png", ".jpg", ".jpeg"), "PNG / JPEG images (a folder or glob of them is a video)",
               "._frames"),
    FileFormat("frames", (), "a folder or glob of numbered TIFF/PNG/JPEG frames", "._frames"),
)

#: A folder or glob whose files are all Xradia ``.xrm`` / ``.txrm``: an energy series, read by the Xradia module.
#: Named ``frames`` like every folder or glob (no single file to check, not writable).
XRM_SERIES = FileFormat("frames", (".xrm", ".txrm"), "a folder or glob of Xradia .xrm frames (an energy series)",
                        "._xrm")
_XRADIA_INNER = re.compile(r"^(?P<file>.+\.t?xrm):/?(?P<inner>reference)$", re.IGNORECASE)


def _all_xradia(pattern: Path) -> bool:
    """Return True when a folder or glob names files and every one of them is an Xradia ``.xrm`` / ``.txrm``."""
    import glob

    text = os.fspath(pattern)
    try:
        names = [p.name for p in Path(text).iterdir() if p.is_file()] if Path(text).is_dir() else [
            Path(p).name for p in glob.glob(text)]
    except OSError:
        return False
    names = [n for n in names if not n.startswith(".")]
    return bool(names) and all(n.lower().endswith(XRM_SERIES.suffixes) for n in names)


def supported() -> str:
    """Return a one-line list of the formats operando reads, for error messages.

    Returns
    -------
    str
        Each format's description and file endings, separated by semicolons.
    """
    return "; ".join(f"{f.description} ({' '.join(f.suffixes)})" if f.suffixes else f.description for f in FORMATS)


def format_of(path: str | os.PathLike) -> tuple[FileFormat, Path, str | None]:
    """Return the format of ``path``, the file path and the path inside the file (``file.h5:/inner``).

    Parameters
    ----------
    path : str or path
        A file, a folder or glob of frames, or ``file.h5:/inner``.

    Returns
    -------
    (FileFormat, Path, str or None)
        The format (from the file's ending; folders and globs are frame sequences, read as an Xradia energy
        series when every file in them is ``.xrm`` / ``.txrm``), the file, the inner path (``scan.txrm:/reference``:
        the reference a ``.txrm`` embeds).

    Raises
    ------
    InputError
        For an ending that no registered format reads.
    """
    xradia = _XRADIA_INNER.match(os.fspath(path))
    if xradia:  # scan.txrm:/reference, the reference a .txrm embeds
        return next(f for f in FORMATS if f.name == "xrm"), Path(xradia.group("file")), xradia.group("inner")
    file, inner = split_internal_path(path)
    by_name = {f.name: f for f in FORMATS}
    if is_pattern(file):
        return (XRM_SERIES if _all_xradia(file) else by_name["frames"]), file, inner
    name = file.name.lower()
    for fmt in FORMATS:
        if any(name.endswith(s) for s in fmt.suffixes):
            return fmt, file, inner
    if file.is_dir():
        return (XRM_SERIES if _all_xradia(file) else by_name["frames"]), file, inner
    suffix = file.suffix or "(no extension)"
    raise InputError(f"{file}: unknown file type {suffix!r}; operando reads {supported()}")
