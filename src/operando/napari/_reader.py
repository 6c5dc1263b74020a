"""The napari reader: the instrument formats operando reads, accepted only when the file really is one of them.

``get_reader(path)`` looks at the file (its first bytes, its header, its HDF5 entries) without reading the data
and returns a reader function, or None when operando does not read it: an ENVI ``.hdr`` or any header without
STXM_Control's ``ScanDefinition``, an HDF5 file that is neither NXstxm nor written by operando, a TIFF that
tifffile cannot open, a folder with nothing operando reads. It never raises. An STXM ``.xim`` image or ``.xsp``
spectrum opens its scan's header.

The reader function reads through :func:`operando.io.read` (so every calibration the readers find arrives) and
returns layers made by :func:`operando.napari._layers.stack_to_layers`: scale, units, axis labels, the energies,
the record in ``metadata["operando"]``; Zarr stores and files over :data:`LAZY_BYTES` stay on disk (dask).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._errors import InputError
from .._stack import Stack
from ..io import format_of, read, read_nxstxm
from ._layers import LayerData, stack_to_layers

logger = logging.getLogger(__name__)

#: Files larger than this are read lazily (dask), a plane at a time as napari shows them.
LAZY_BYTES = 256 * 2**20
#: The first bytes of an OLE2 compound file (Xradia ``.xrm`` / ``.txrm``).
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: An STXM data file's name: images ``scan_a.xim``, ``scan_a000.xim`` (one per energy), spectra ``scan_0.xsp``
#: (one per point) -> the header ``scan.hdr``.
_DATA_FILE = re.compile(r"^(?P<stem>.+)_(?:[a-z]\d*\.xim|\d+\.xsp)$", re.IGNORECASE)
_DATA_ENDINGS = (".xim", ".xsp")
_FRAME_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".nxs", ".nx5", ".he5")

PathOrPaths = str | os.PathLike | Sequence[str | os.PathLike]
Reader = Callable[[PathOrPaths], list[LayerData]]


def _head(file: Path, n: int = 4096) -> bytes:
    with open(file, "rb") as f:
        return f.read(n)


def _stxm_header(file: Path) -> bool:
    """Return True for an STXM_Control header (``ScanDefinition = {``); ENVI and other headers are not."""
    head = _head(file).decode("latin-1")
    return not head.lstrip().upper().startswith("ENVI") and re.search(r"ScanDefinition\s*=\s*\{", head) is not None


def header_of(file: Path) -> Path | None:
    """Return the STXM header an ``.xim`` image or ``.xsp`` spectrum belongs to, or None when none is beside it."""
    match = _DATA_FILE.match(file.name)
    if not match:
        return None
    header = file.with_name(match.group("stem") + ".hdr")
    return header if header.is_file() and _stxm_header(header) else None


def _text(value: Any) -> str:
    if hasattr(value, "flat"):
        value = value.flat[0] if value.size else ""
    return value.decode() if isinstance(value, bytes) else str(value)


def hdf5_targets(file: Path) -> list[str] | None:
    """Return what to read from an HDF5 file: ``["nxstxm"]``, operando's datasets (``file:/path``) or None.

    A file with an ``NXentry`` whose ``definition`` is ``NXstxm`` is read as NXstxm; otherwise the image datasets
    operando wrote (those with an ``operando`` attribute) are read; any other HDF5 file is not operando's.
    """
    import h5py

    with h5py.File(file, "r") as f:
        for name in f:
            node = f[name]
            if (isinstance(node, h5py.Group) and _text(node.attrs.get("NX_class", "")) == "NXentry"
                    and "definition" in node and _text(node["definition"][()]) == "NXstxm"):
                return ["nxstxm"]
        found: list[str] = []
        f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) and obj.ndim >= 2
                     and "operando" in obj.attrs else None)
    return [f"{file}:/{name}" for name in sorted(found)] or None


def _is_zarr(file: Path) -> bool:
    return file.is_dir() and any((file / name).is_file() for name in ("zarr.json", ".zgroup", ".zarray"))


def _tiff_opens(file: Path) -> bool:
    import tifffile

    with tifffile.TiffFile(file) as tif:
        return len(tif.series) > 0 and len(tif.series[0].shape) >= 2


def _folder_readable(folder: Path) -> bool:
    """Return True for a Zarr store, or a folder of Xradia frames or numbered TIFF / PNG / JPEG frames."""
    if _is_zarr(folder):
        return True
    names = [p.name.lower() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    if not names:
        return False
    if all(n.endswith((".xrm", ".txrm")) for n in names):
        return True
    return sum(n.endswith(_FRAME_SUFFIXES) for n in names) >= 2


def _sniff(file: Path) -> bool:
    """Return True when operando reads ``file`` (looking at its first bytes or header, not its data)."""
    if file.is_dir():
        return _folder_readable(file)
    if not file.is_file():
        return False
    name = file.name.lower()
    if name.endswith(_DATA_ENDINGS):
        return header_of(file) is not None
    try:
        fmt = format_of(file)[0].name
    except InputError:
        return False
    checks: dict[str, Callable[[Path], bool]] = {
        "stxm": _stxm_header,
        "xrm": lambda f: _head(f, 8) == OLE_MAGIC,
        "fits": lambda f: _head(f, 9) == b"SIMPLE  =",
        "tiff": _tiff_opens,
        "nxstxm": lambda f: hdf5_targets(f) is not None,
        "hdf5": lambda f: hdf5_targets(f) is not None,
    }
    return fmt in checks and checks[fmt](file)


def accepts(path: str | os.PathLike) -> bool:
    """Return True when operando reads ``path``; False (never an exception) otherwise.

    Parameters
    ----------
    path : str or path
        A file or folder.

    Returns
    -------
    bool
        Whether :func:`get_reader` gives a reader for it.
    """
    try:
        return _sniff(Path(os.fspath(path)))
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file makes its library fail in its own way
        logger.debug("operando does not read %s (%s: %s)", path, type(exc).__name__, exc)
        return False


def _size(file: Path) -> int:
    if file.is_dir():
        return sum(p.stat().st_size for p in file.rglob("*") if p.is_file())
    return file.stat().st_size


def read_stacks(path: str | os.PathLike) -> list[tuple[str, Stack]]:
    """Read the stacks napari shows for one accepted file or folder, each with its layer name.

    Parameters
    ----------
    path : str or path
        A file or folder :func:`accepts` takes.

    Returns
    -------
    list of (str, Stack)
        Usually one; an HDF5 file written by operando gives one per dataset (named ``file/dataset``).
    """
    file = Path(os.fspath(path))
    if file.name.lower().endswith(_DATA_ENDINGS):
        file = header_of(file) or file
    name = _stem(file.name)
    if file.name.lower().endswith(_HDF5_SUFFIXES):
        targets = hdf5_targets(file) or []
        if targets == ["nxstxm"]:
            return [(name, read_nxstxm(file))]
        lazy = _size(file) > LAZY_BYTES
        named = [(t.rsplit(":/", 1)[-1], t) for t in targets]
        return [(name if len(named) == 1 else f"{name}/{inner}", read(t, lazy=lazy)) for inner, t in named]
    lazy = _is_zarr(file) or (file.is_file() and _size(file) > LAZY_BYTES)
    return [(name, read(file, lazy=lazy))]


def _stem(file_name: str) -> str:
    """Return a file's name without its format ending."""
    for ending in (".ome.tiff", ".ome.tif", ".stxm.nxs", ".nxstxm.h5", ".stxm.h5", *_HDF5_SUFFIXES, ".hdr",
                   ".tiff", ".tif", ".zarr", ".fits", ".fit", ".fts", ".xrm", ".txrm"):
        if file_name.lower().endswith(ending):
            return file_name[: -len(ending)]
    return file_name


def read_layers(path: PathOrPaths) -> list[LayerData]:
    """Read the layers of one path or of each path of a list.

    Parameters
    ----------
    path : str, path or list of them
        What napari opens.

    Returns
    -------
    list of (data, dict, str)
        Image layer data with scale, units, axis labels and the record in ``metadata["operando"]``; a stack with
        one energy is named with it (``scan 707.8 eV``); named channels become one layer each.
    """
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    files = [Path(os.fspath(p)) for p in paths]
    files = [(header_of(f) or f) if f.name.lower().endswith(_DATA_ENDINGS) else f for f in files]
    layers: list[LayerData] = []
    for one in dict.fromkeys(files):  # the image files of one multi-energy scan open it once
        for name, stack in read_stacks(one):
            layers.extend(stack_to_layers(stack, name))
    return layers


def get_reader(path: PathOrPaths) -> Reader | None:
    """Return napari's reader for ``path`` when operando reads it, else None (never raises).

    Parameters
    ----------
    path : str, path or list of them
        A file or folder (or several, all of which must be operando's).

    Returns
    -------
    callable or None
        :func:`read_layers`, or None.
    """
    paths = [path] if isinstance(path, str | os.PathLike) else list(path or [])
    if not paths or not all(accepts(p) for p in paths):
        return None
    return read_layers
