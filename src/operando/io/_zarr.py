"""Zarr stores (v2 and v3)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import atomic_path
from .._stack import Stack
from ._formats import Raw
from ._tiff import metadata_record


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read an array of a Zarr store (``data.zarr``, or ``data.zarr:/name`` in a group)."""
    import zarr

    try:
        node = zarr.open(str(file), mode="r")
    except Exception as exc:  # zarr raises several types for a missing or broken store
        raise InputError(f"{file}: not a readable Zarr store ({exc})") from None
    group_meta: dict[str, Any] = {}
    if isinstance(node, zarr.Group):
        names = [name for name, _ in node.arrays()]
        name = (inner or "").strip("/") or ("data" if "data" in names else (names[0] if len(names) == 1 else None))
        if name is None or name not in names:
            raise InputError(f"{file}: name the array as '{file}:/name' (arrays found: {', '.join(names) or 'none'})")
        group_meta = dict(node.attrs.get("operando", {}))
        node = node[name]
    meta = dict(node.attrs.get("operando", group_meta))
    axes = meta.pop("axes", None)
    return Raw(node if lazy else node[...], axes, meta)


def write(stack: Stack, data: np.ndarray, file: Path, inner: str | None) -> None:
    """Write (or replace) one array of a Zarr v3 group, keeping its other arrays, atomically."""
    import zarr

    name = (inner or "data").strip("/") or "data"
    with atomic_path(file, directory=True) as tmp:
        if file.exists():
            shutil.copytree(file, tmp)
        group = zarr.open_group(str(tmp), mode="a", zarr_format=3)
        chunks = tuple(1 if a in "TE" else min(n, 512) for a, n in zip(stack.axes, data.shape, strict=True))
        if name in group:
            del group[name]
        arr = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks)
        arr[...] = data
        arr.attrs["operando"] = metadata_record(stack)
