"""Read TIFF, Zarr, HDF5/NeXus, NPY files and folders of frames into a Stack."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._stack import Metadata, Stack, check_finite, validate_axes
from ._paths import frame_files, kind_of, split_internal_path

logger = logging.getLogger(__name__)

# tifffile's axis codes that mean "a sequence of images" with no more detail.
_SEQUENCE_CODES = "QIVRMAPHL"


def default_axes(shape: tuple[int, ...]) -> str:
    """Axes assumed for files that do not record theirs: YX, TYX, or TYXC for a trailing 3/4 channel axis."""
    ndim = len(shape)
    if ndim == 2:
        return "YX"
    if ndim == 3:
        return "TYX"
    if ndim == 4 and shape[-1] in (3, 4):
        return "TYXC"
    raise InputError(
        f"cannot tell the axes of {ndim}-D data of shape {shape}; pass axes=... (e.g. 'TCYX')"
    )


def _from_tiff_axes(code: str, shape: tuple[int, ...]) -> str:
    """Translate tifffile's axes code to operando letters (S -> C, sequence codes -> T)."""
    out = []
    for letter in code:
        if letter == "S":
            out.append("C")
        elif letter in _SEQUENCE_CODES:
            out.append("T" if "T" not in code and "T" not in out else "Z")
        else:
            out.append(letter)
    axes = "".join(out)
    try:
        return validate_axes(axes, len(shape))
    except InputError:
        return default_axes(shape)


def _read_tiff(path: Path) -> tuple[np.ndarray, str | None, dict[str, Any]]:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            data = series.asarray()
            axes = _from_tiff_axes(series.axes, data.shape)
            meta: dict[str, Any] = {}
            if tif.is_shaped and tif.shaped_metadata:
                stored = dict(tif.shaped_metadata[0])
                meta = stored.get("operando", {}) or {}
                if "axes" in meta:
                    axes = meta["axes"]
            elif tif.is_imagej and tif.imagej_metadata:
                ij = tif.imagej_metadata
                if ij.get("finterval"):
                    n_t = data.shape[axes.index("T")] if "T" in axes else 0
                    meta["frame_times"] = [i * float(ij["finterval"]) for i in range(n_t)]
                if ij.get("unit"):
                    meta["pixel_unit"] = ij["unit"]
            if tif.is_ome and tif.ome_metadata:
                meta.setdefault("extra", {})["ome"] = True
                import xml.etree.ElementTree as ET

                root = ET.fromstring(tif.ome_metadata)
                for el in root.iter():
                    if el.tag.endswith("Pixels"):
                        if el.get("PhysicalSizeX"):
                            meta.setdefault("pixel_size", float(el.get("PhysicalSizeX")))
                            meta.setdefault("pixel_unit", el.get("PhysicalSizeXUnit", "um").replace("µ", "u"))
                        break
            if "pixel_size" not in meta:
                tag = tif.pages.first.tags.get("XResolution")
                unit = tif.pages.first.tags.get("ResolutionUnit")
                if tag is not None and unit is not None and int(unit.value) == 3:  # centimetre
                    num, den = tag.value
                    if num:
                        meta["pixel_size"] = 1e4 * den / num
                        meta["pixel_unit"] = "um"
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as exc:
        raise InputError(f"{path}: not a readable TIFF file ({exc}); check the file is complete") from None
    return data, axes, meta


def _read_npy(path: Path) -> tuple[np.ndarray, str | None, dict[str, Any]]:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npy file ({exc})") from None
    return data, None, {}


def _read_hdf5(path: Path, inner: str | None, lazy: bool) -> tuple[Any, str | None, dict[str, Any]]:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file ({exc})") from None
    datasets: list[str] = []
    f.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) and obj.ndim >= 2 else None)
    if inner is None:
        if len(datasets) != 1:
            f.close()
            listing = ", ".join("/" + d for d in datasets[:8]) or "none"
            raise InputError(
                f"{path}: name the dataset to read as '{path}:/path/to/dataset' "
                f"(image datasets found: {listing})"
            )
        inner = datasets[0]
    if inner not in f or not isinstance(f[inner], h5py.Dataset):
        f.close()
        listing = ", ".join("/" + d for d in datasets[:8]) or "none"
        raise InputError(f"{path}: no dataset {inner!r} (image datasets found: {listing})")
    dset = f[inner]
    meta: dict[str, Any] = {}
    raw = dset.attrs.get("operando")
    if raw is not None:
        meta = json.loads(raw)
    axes = meta.get("axes")
    if axes is None and "axes" in dset.attrs:
        value = dset.attrs["axes"]
        axes = value.decode() if isinstance(value, bytes) else str(value)
    if lazy:
        return dset, axes, meta  # keeps the file open for as long as the dataset is used
    data = dset[()]
    f.close()
    return data, axes, meta


def _read_zarr(path: Path, inner: str | None, lazy: bool) -> tuple[Any, str | None, dict[str, Any]]:
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:  # zarr raises several types for a missing or broken store
        raise InputError(f"{path}: not a readable Zarr store ({exc})") from None
    if isinstance(node, zarr.Group):
        names = [name for name, _ in node.arrays()]
        name = (inner or "").strip("/") or ("data" if "data" in names else (names[0] if len(names) == 1 else None))
        if name is None or name not in names:
            raise InputError(f"{path}: name the array as '{path}:/name' (arrays found: {', '.join(names) or 'none'})")
        group_meta = dict(node.attrs.get("operando", {}))
        node = node[name]
    else:
        group_meta = {}
    meta = dict(node.attrs.get("operando", group_meta))
    data = node if lazy else node[...]
    return data, meta.get("axes"), meta


def _read_frames(pattern: str) -> tuple[np.ndarray, str | None, dict[str, Any]]:
    files = frame_files(pattern)
    first, first_axes, meta = _read_tiff(files[0])
    frames = [first]
    for file in files[1:]:
        data, _, _ = _read_tiff(file)
        if data.shape != first.shape:
            raise InputError(
                f"{file}: frame shape {data.shape} differs from the first frame's {first.shape}; "
                "all frames must have the same size"
            )
        frames.append(data)
    meta.pop("axes", None)
    meta.pop("frame_times", None)
    return np.stack(frames), "T" + first_axes.replace("T", "") if first_axes else None, meta


def read(path: str | os.PathLike, *, axes: str | None = None, lazy: bool = False, allow_nan: bool = False) -> Stack:
    """Read an image, video or spectral stack from a file.

    Parameters
    ----------
    path : str or path
        A TIFF/OME-TIFF/BigTIFF file, a Zarr store (``data.zarr`` or ``data.zarr:/array``), an HDF5 or NeXus
        dataset (``file.h5:/entry/data``), a ``.npy`` file, or a folder or glob of numbered TIFF frames
        (stacked along ``T`` in natural order: ``frame2`` before ``frame10``).
    axes : str, optional
        Axis letters from ``"TECZYX"``, overriding what the file says. Files that say nothing are read as
        ``YX`` (2-D), ``TYX`` (3-D) or ``TYXC`` (4-D with 3 or 4 trailing channels).
    lazy : bool
        Keep Zarr and HDF5 data on disk and read it on access.
    allow_nan : bool
        Accept NaN or infinite pixels (they are refused by default).

    Returns
    -------
    Stack
        The data as stored (dtype unchanged) with named axes and metadata.

    Raises
    ------
    InputError
        Unknown file type, unreadable file, axes that do not fit, or NaN/inf pixels.
    """
    text = os.fspath(path)
    kind = kind_of(text)
    file, inner = split_internal_path(text)
    if kind not in ("frames",) and not file.exists():
        raise InputError(f"{file}: no such file or folder; check the path")
    if kind == "tiff":
        data, file_axes, meta = _read_tiff(file)
    elif kind == "npy":
        data, file_axes, meta = _read_npy(file)
    elif kind == "hdf5":
        data, file_axes, meta = _read_hdf5(file, inner, lazy)
    elif kind == "zarr":
        data, file_axes, meta = _read_zarr(file, inner, lazy)
    else:
        data, file_axes, meta = _read_frames(text)
    shape = tuple(int(n) for n in data.shape)
    if len(shape) < 2:
        raise InputError(f"{text}: data of shape {shape} is not an image; need at least 2 dimensions")
    chosen = axes or file_axes or default_axes(shape)
    chosen = validate_axes(chosen, len(shape), source=text)
    if not allow_nan and not lazy:
        check_finite(data, source=text)
    known = Metadata.from_dict({k: v for k, v in meta.items() if k != "axes"})
    metadata = known.replace(source=text, original_dtype=str(np.dtype(data.dtype)))
    logger.debug("read %s: shape %s axes %s dtype %s", text, shape, chosen, data.dtype)
    return Stack(data, axes=chosen, metadata=metadata)
