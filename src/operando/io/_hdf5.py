"""HDF5 and NeXus datasets (h5py).

Axes are read from operando's own ``operando`` attribute, else from the NeXus conventions other tools write:
the ``axes`` attribute of the NXdata group whose ``signal`` is the dataset (NeXus 2014), or the older ``axes``
attribute of the dataset itself (``"energy:sample_y:sample_x"``). Written files carry both NeXus forms besides
operando's attribute. Lazy reads open the file for each read (:class:`LazyArray`), so no handle stays open.

Files are built in memory (HDF5's core driver without a backing store) and their bytes written with plain
Python into the atomic temporary path: a full disk then gives one ``OSError`` and nothing half-written, where
HDF5 writing to disk itself raised while flushing and then crashed the interpreter (a segmentation fault when
its objects were freed). Files too large for the memory available are written directly, after checking that
the disk and the file-size limit can hold them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import posixpath
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import atomic_path
from .._stack import Stack
from ._formats import Raw
from ._read import STANDARD_NAMES, LazyArray, axes_from_names
from ._tiff import metadata_record
from ._write import check_room, disk_errors


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _image_datasets(f: Any) -> list[str]:
    import h5py

    found: list[str] = []
    f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) and obj.ndim >= 2 else None)
    return found


def _read_slab(file: str, inner: str, key: Any) -> np.ndarray:
    """Open ``file``, read ``[key]`` of the dataset ``inner`` and close the file again."""
    import h5py

    with h5py.File(file, "r") as f:
        return f[inner][key]


def _nexus_meta(dset: Any, ndim: int) -> tuple[str | None, dict[str, Any]]:
    """Axes and axis values (energies, frame times) from NeXus attributes, when the file has them."""
    group = dset.parent
    names = None
    nx_class = _text(group.attrs.get("NX_class", ""))
    signal = _text(group.attrs.get("signal", posixpath.basename(dset.name)))
    if nx_class == "NXdata" and signal == posixpath.basename(dset.name) and "axes" in group.attrs:
        value = group.attrs["axes"]
        names = [_text(v) for v in np.atleast_1d(value)] if not isinstance(value, (str, bytes)) else _text(value)
    elif "axes" in dset.attrs:
        names = _text(dset.attrs["axes"])
        if names.isalpha() and len(names) == ndim and names.upper() == names:  # operando's own letters "TYX"
            return names, {}
    if isinstance(names, list) and len(names) == 1 and ndim > 1:
        names = names[0]
    axes = axes_from_names(names)
    if axes is None or len(axes) != ndim:
        return None, {}
    listed = names if isinstance(names, list) else names.replace(",", ":").split(":")
    meta: dict[str, Any] = {}
    for letter, name, size in zip(axes, listed, dset.shape, strict=True):
        values = group.get(name) if letter in "ET" and name in group else None
        if values is not None and values.ndim == 1 and values.shape[0] == size and values.dtype.kind in "fiu":
            meta["energies" if letter == "E" else "frame_times"] = [float(v) for v in values[()]]
    return axes, meta


def _dataset_path(f: Any, file: Path, inner: str | None) -> str:
    import h5py

    datasets = _image_datasets(f)
    listing = ", ".join("/" + d for d in datasets[:8]) or "none"
    if inner is None and len(datasets) != 1:
        raise InputError(f"{file}: name the dataset to read as '{file}:/path/to/dataset' "
                         f"(image datasets found: {listing})")
    inner = inner or datasets[0]
    node = f.get(inner)
    if isinstance(node, h5py.Group) and "signal" in node.attrs:  # an NXdata group: read its signal
        inner = posixpath.join(inner, _text(node.attrs["signal"]))
        node = f.get(inner)
    if not isinstance(node, h5py.Dataset):
        raise InputError(f"{file}: no dataset {inner!r} (image datasets found: {listing})")
    return node.name


def _is_nxstxm(f: Any) -> bool:
    """Whether the file's first NXentry is defined as NXstxm."""
    for key in f:
        node = f[key]
        if hasattr(node, "attrs") and node.attrs.get("NX_class") in ("NXentry", b"NXentry") and "definition" in node:
            value = node["definition"][()]
            return (value.decode() if isinstance(value, bytes) else str(value)).strip() == "NXstxm"
    return False


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read one dataset (named as ``file.h5:/path``, an NXdata group, or the only image dataset in the file)."""
    import h5py

    try:
        f = h5py.File(file, "r")
    except OSError as exc:
        raise InputError(f"{file}: not a readable HDF5 file ({exc})") from None
    with f:
        if inner is None and _is_nxstxm(f):  # a beamline's NXstxm file under a plain HDF5 name
            from ._nxstxm import read as read_nxstxm

            return read_nxstxm(file, None, lazy=lazy)
        name = _dataset_path(f, file, inner)
        dset = f[name]
        meta: dict[str, Any] = json.loads(dset.attrs["operando"]) if "operando" in dset.attrs else {}
        axes = meta.pop("axes", None)
        if axes is None:
            axes, nexus = _nexus_meta(dset, dset.ndim)
            meta = {**nexus, **meta}
        if lazy:
            data: Any = LazyArray(functools.partial(_read_slab, str(file), name), dset.shape, dset.dtype)
        else:
            data = dset[()]
    return Raw(data, axes, meta)


def _write_nexus_axes(f: Any, dset: Any, stack: Stack) -> None:
    """Describe the axes the NeXus way: the dataset's ``axes`` and, inside a group, an NXdata group."""
    names = [STANDARD_NAMES[a] for a in stack.axes]
    dset.attrs["axes"] = ":".join(names)
    dset.attrs["signal"] = 1
    group = dset.parent
    if group.name == "/":
        return
    group.attrs["NX_class"] = "NXdata"
    group.attrs["signal"] = posixpath.basename(dset.name)
    group.attrs["axes"] = np.array(names, dtype=object)
    values = {"E": stack.metadata.energies, "T": stack.metadata.frame_times}
    for letter, name in zip(stack.axes, names, strict=True):
        coords = values.get(letter)
        if coords is not None and (name not in group or group[name].ndim == 1):
            if name in group:
                del group[name]
            group.create_dataset(name, data=np.asarray(coords, np.float64))
            group.attrs[f"{name}_indices"] = stack.axes.index(letter)


def _fits_in_memory(nbytes: int) -> bool:
    """Return True when a file of ``nbytes`` can be built in memory (three copies fit in the available memory)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with dask.distributed
        return nbytes <= 2**30
    return 3 * nbytes < psutil.virtual_memory().available


@contextlib.contextmanager
def built_file(file: Path, nbytes: int, *, keep: bool = False) -> Iterator[Any]:
    """Yield an open HDF5 file to fill; on success its bytes replace ``file`` atomically.

    Parameters
    ----------
    file : Path
        The output.
    nbytes : int
        The data's size, to choose between building in memory and writing directly.
    keep : bool
        Start from the existing ``file`` (to replace one dataset and keep the others) instead of an empty file.

    Yields
    ------
    h5py.File
        The file, writable.
    """
    import h5py

    keep = keep and file.exists()
    total = nbytes + (file.stat().st_size if keep else 0)
    with disk_errors(file), atomic_path(file) as tmp:
        if _fits_in_memory(total):
            f = h5py.File(file if keep else tmp, "a" if keep else "w", driver="core", backing_store=False)
            with f:
                yield f
                f.flush()
                image = f.id.get_file_image()
            with open(tmp, "wb") as fh:
                fh.write(image)
            return
        check_room(tmp, total)
        if keep:
            shutil.copyfile(file, tmp)
        with h5py.File(tmp, "a") as f:
            yield f


def write(stack: Stack, data: np.ndarray, file: Path, inner: str | None) -> None:
    """Write (or replace) one dataset, keeping the file's other datasets, atomically."""
    name = (inner or "/data").lstrip("/")
    with built_file(file, data.nbytes, keep=True) as f:
        if name in f:
            del f[name]
        chunks = (1, *data.shape[1:]) if data.ndim >= 3 else True
        dset = f.create_dataset(name, data=data, chunks=chunks)
        dset.attrs["operando"] = json.dumps(metadata_record(stack))
        _write_nexus_axes(f, dset, stack)
