"""Write a Stack to TIFF, Zarr, HDF5 or NPY, atomically, keeping shape and dtype."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._errors import InputError
from .._stack import Stack, as_stack
from ._paths import atomic_path, kind_of, same_file, split_internal_path

logger = logging.getLogger(__name__)

_BIGTIFF_BYTES = 2**32 - 2**25  # switch to BigTIFF a little below the 4 GiB classic-TIFF limit


def convert_dtype(data: np.ndarray, target: np.dtype) -> np.ndarray:
    """Convert ``data`` to ``target``; floats going to integers are rounded and clipped to the type's range."""
    target = np.dtype(target)
    if data.dtype == target:
        return data
    if target.kind in "ui" and data.dtype.kind == "f":
        info = np.iinfo(target)
        return np.clip(np.rint(data), info.min, info.max).astype(target)
    if target == np.bool_:
        return data > 0.5
    return data.astype(target)


def output_array(stack: Stack, dtype: Literal["input", "float32"] | str | np.dtype) -> np.ndarray:
    """Return the array to write: the input file's dtype by default, or the dtype asked for."""
    data = stack.to_numpy()
    if isinstance(dtype, str) and dtype == "input":
        original = stack.metadata.original_dtype
        return convert_dtype(data, np.dtype(original)) if original else data
    return convert_dtype(data, np.dtype(dtype))


def _metadata_record(stack: Stack) -> dict[str, Any]:
    record = stack.metadata.to_dict()
    record.pop("source", None)
    record["axes"] = stack.axes
    return record


def _write_tiff(stack: Stack, data: np.ndarray, target: Path) -> None:
    import tifffile

    axes = stack.axes
    rgb = axes.endswith("C") and data.shape[-1] in (3, 4) and data.dtype in (np.uint8, np.uint16)
    tiff_axes = axes[:-1] + "S" if rgb else axes
    bigtiff = data.nbytes > _BIGTIFF_BYTES or target.suffix.lower() in (".btf", ".tf8", ".tf2")
    kwargs: dict[str, Any] = {"photometric": "rgb" if rgb else "minisblack", "bigtiff": bigtiff}
    meta = stack.metadata
    if meta.pixel_size:
        scale = {"um": 1e4, "nm": 1e7, "mm": 10.0, "cm": 1.0}.get(meta.pixel_unit or "um")
        if scale:
            kwargs["resolution"] = (scale / meta.pixel_size, scale / meta.pixel_size)
            kwargs["resolutionunit"] = "CENTIMETER"
    if target.name.lower().endswith((".ome.tif", ".ome.tiff")):
        ome: dict[str, Any] = {"axes": tiff_axes.replace("E", "C") if "C" not in tiff_axes else tiff_axes}
        if meta.pixel_size:
            ome.update(PhysicalSizeX=meta.pixel_size, PhysicalSizeY=meta.pixel_size,
                       PhysicalSizeXUnit=(meta.pixel_unit or "um").replace("u", "µ"),
                       PhysicalSizeYUnit=(meta.pixel_unit or "um").replace("u", "µ"))
        kwargs.pop("resolution", None)
        kwargs.pop("resolutionunit", None)
        with atomic_path(target) as tmp:
            tifffile.imwrite(tmp, data, ome=True, metadata=ome, **kwargs)
        return
    with atomic_path(target) as tmp:
        tifffile.imwrite(tmp, data, metadata={"axes": tiff_axes, "operando": _metadata_record(stack)}, **kwargs)


def _write_npy(data: np.ndarray, target: Path) -> None:
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        np.save(fh, data, allow_pickle=False)


def _write_hdf5(stack: Stack, data: np.ndarray, target: Path, inner: str | None) -> None:
    import h5py

    name = (inner or "/data").lstrip("/")
    with atomic_path(target) as tmp:
        if target.exists():
            shutil.copyfile(target, tmp)  # keep the file's other datasets
        with h5py.File(tmp, "a") as f:
            if name in f:
                del f[name]
            chunks = (1, *data.shape[1:]) if data.ndim >= 3 else True
            dset = f.create_dataset(name, data=data, chunks=chunks)
            dset.attrs["axes"] = stack.axes
            dset.attrs["operando"] = json.dumps(_metadata_record(stack))


def _write_zarr(stack: Stack, data: np.ndarray, target: Path, inner: str | None) -> None:
    import zarr

    name = (inner or "data").strip("/") or "data"
    with atomic_path(target, directory=True) as tmp:
        if target.exists():
            shutil.copytree(target, tmp)
        group = zarr.open_group(str(tmp), mode="a", zarr_format=3)
        chunks = tuple(1 if a in "TE" else min(n, 512) for a, n in zip(stack.axes, data.shape, strict=True))
        if name in group:
            del group[name]
        arr = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks)
        arr[...] = data
        arr.attrs["operando"] = _metadata_record(stack)


def write(
    stack: Stack | np.ndarray,
    path: str | os.PathLike,
    *,
    axes: str | None = None,
    dtype: Literal["input", "float32"] | str = "input",
) -> Path:
    """Write a stack to a file, atomically (a temporary file renamed into place).

    Parameters
    ----------
    stack : Stack or ndarray
        The data. An array needs ``axes`` unless it is 2-D.
    path : str or path
        Output file; its extension picks the format (``.tif``, ``.ome.tif``, ``.btf``, ``.zarr``,
        ``.h5`` / ``.h5:/group/name``, ``.npy``). TIFF switches to BigTIFF for data over ~4 GiB.
    axes : str, optional
        Axis letters when ``stack`` is a plain array.
    dtype : {"input", "float32"} or dtype
        ``"input"`` (default) writes the dtype the data was read as: float results from an integer
        input are rounded and clipped back into that integer type. ``"float32"`` keeps floats.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        If ``path`` is the file the stack was read from (operando never overwrites its input) or has an
        unknown extension.
    """
    stack = as_stack(stack, axes=axes)
    text = os.fspath(path)
    kind = kind_of(text)
    if kind == "frames":
        raise InputError(f"{text}: give an output file with an extension (.tif, .zarr, .h5, .npy)")
    if same_file(text, stack.metadata.source):
        raise InputError(f"{text}: refusing to overwrite the input file; choose another output path")
    file, inner = split_internal_path(text)
    data = output_array(stack, dtype)
    if kind == "tiff":
        _write_tiff(stack, data, file)
    elif kind == "npy":
        _write_npy(data, file)
    elif kind == "hdf5":
        _write_hdf5(stack, data, file, inner)
    else:
        _write_zarr(stack, data, file, inner)
    logger.debug("wrote %s: shape %s dtype %s", text, data.shape, data.dtype)
    return file
