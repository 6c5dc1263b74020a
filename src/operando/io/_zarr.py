"""Zarr stores (v2 and v3).

Axes are read from operando's own ``operando`` attribute, else from the conventions other tools write: Zarr v3
``dimension_names`` (xarray, tensorstore) and OME-Zarr ``multiscales`` ``axes`` (NGFF 0.4 in the group's
attributes, 0.5 under ``ome``). A group holding OME-Zarr multiscales is read at its full resolution. Written
arrays carry ``dimension_names`` besides operando's attribute.

A store written chunk by chunk (``operando.workflows.scale``) holds :data:`STREAM_MANIFEST`; until its
``complete`` flag is set (last), reading it is refused, so an interrupted output is never taken for a result.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import atomic_path
from .._stack import Stack
from ._formats import Raw
from ._read import STANDARD_NAMES, axes_from_names
from ._tiff import metadata_record

#: The file inside a Zarr store written chunk by chunk: model, config, input and the ``complete`` flag. It sits
#: in a (Zarr) sub-group, so that Zarr itself and other tools listing the store see no unknown files.
STREAM_MANIFEST = "operando_stream/manifest.json"
_UNITS = {"micrometer": "um", "nanometer": "nm", "millimeter": "mm", "centimeter": "cm", "angstrom": "A"}


def _check_complete(file: Path) -> None:
    manifest = file / STREAM_MANIFEST
    if not manifest.is_file():
        return
    try:
        done = bool(json.loads(manifest.read_text(encoding="utf-8")).get("complete"))
    except (OSError, ValueError):
        done = False
    if not done:
        raise InputError(f"{file}: the output of an interrupted run (its manifest is not marked complete); "
                         "run the same command again to finish it")


def _multiscales(attrs: dict[str, Any]) -> dict[str, Any] | None:
    scales = attrs.get("multiscales") or dict(attrs.get("ome") or {}).get("multiscales")
    return dict(scales[0]) if scales else None


def _ome_meta(scales: dict[str, Any], path: str) -> tuple[str | None, dict[str, Any]]:
    """Axes and pixel size of the OME-Zarr dataset ``path`` of a multiscales entry."""
    axes_list = scales.get("axes") or []
    names = [a.get("name") if isinstance(a, dict) else a for a in axes_list]
    axes = axes_from_names(names)
    meta: dict[str, Any] = {}
    datasets = [dict(d) for d in scales.get("datasets") or []]
    found = next((d for d in datasets if str(d.get("path")) == path), None)
    if axes and found and "X" in axes:
        for transform in found.get("coordinateTransformations") or []:
            if transform.get("type") == "scale":
                meta["pixel_size"] = float(transform["scale"][axes.index("X")])
                unit = dict(axes_list[axes.index("X")]).get("unit") if isinstance(axes_list[0], dict) else None
                if unit:
                    meta["pixel_unit"] = _UNITS.get(unit, unit)
    return axes, meta


def _pick_array(node: Any, file: Path, inner: str | None) -> tuple[str, dict[str, Any] | None]:
    names = [name for name, _ in node.arrays()]
    scales = _multiscales(dict(node.attrs))
    name = (inner or "").strip("/")
    if not name and scales and scales.get("datasets"):
        name = str(scales["datasets"][0]["path"])  # full resolution
    if not name:
        name = "data" if "data" in names else (names[0] if len(names) == 1 else "")
    if not name or name not in names:
        raise InputError(f"{file}: name the array as '{file}:/name' (arrays found: {', '.join(names) or 'none'})")
    return name, scales


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read an array of a Zarr store (``data.zarr``, ``data.zarr:/name`` in a group, or an OME-Zarr image)."""
    import zarr

    _check_complete(file)
    try:
        node = zarr.open(str(file), mode="r")
    except Exception as exc:  # zarr raises several types for a missing or broken store
        raise InputError(f"{file}: not a readable Zarr store ({exc})") from None
    group_meta: dict[str, Any] = {}
    ome: tuple[str | None, dict[str, Any]] = (None, {})
    if isinstance(node, zarr.Group):
        name, scales = _pick_array(node, file, inner)
        group_meta = dict(node.attrs.get("operando", {}))
        if scales:
            ome = _ome_meta(scales, name)
        node = node[name]
    meta = dict(node.attrs.get("operando", group_meta))
    axes = meta.pop("axes", None)
    if axes is None:
        names = getattr(node.metadata, "dimension_names", None)
        axes = axes_from_names(list(names)) if names and None not in names else None
        if axes is None and ome[0]:
            axes, meta = ome[0], {**ome[1], **meta}
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
        arr = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks,
                                 dimension_names=[STANDARD_NAMES[a] for a in stack.axes])
        arr[...] = data
        arr.attrs["operando"] = metadata_record(stack)
