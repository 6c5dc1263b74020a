"""HDF5 and NeXus datasets (h5py)."""

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
from ._tiff import metadata_record


def _image_datasets(f: Any) -> list[str]:
    import h5py

    found: list[str] = []
    f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) and obj.ndim >= 2 else None)
    return found


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read one dataset (named as ``file.h5:/path``, or the only image dataset in the file)."""
    import h5py

    try:
        f = h5py.File(file, "r")
    except OSError as exc:
        raise InputError(f"{file}: not a readable HDF5 file ({exc})") from None
    datasets = _image_datasets(f)
    listing = ", ".join("/" + d for d in datasets[:8]) or "none"
    if inner is None and len(datasets) != 1:
        f.close()
        raise InputError(f"{file}: name the dataset to read as '{file}:/path/to/dataset' "
                         f"(image datasets found: {listing})")
    inner = inner or datasets[0]
    if inner not in f or not isinstance(f[inner], h5py.Dataset):
        f.close()
        raise InputError(f"{file}: no dataset {inner!r} (image datasets found: {listing})")
    dset = f[inner]
    meta: dict[str, Any] = json.loads(dset.attrs["operando"]) if "operando" in dset.attrs else {}
    axes = meta.pop("axes", None)
    if axes is None and "axes" in dset.attrs:
        value = dset.attrs["axes"]
        axes = value.decode() if isinstance(value, bytes) else str(value)
    if lazy:
        return Raw(dset, axes, meta)  # keeps the file open for as long as the dataset is used
    data = dset[()]
    f.close()
    return Raw(data, axes, meta)


def write(stack: Stack, data: np.ndarray, file: Path, inner: str | None) -> None:
    """Write (or replace) one dataset, keeping the file's other datasets, atomically."""
    import h5py

    name = (inner or "/data").lstrip("/")
    with atomic_path(file) as tmp:
        if file.exists():
            shutil.copyfile(file, tmp)
        with h5py.File(tmp, "a") as f:
            if name in f:
                del f[name]
            chunks = (1, *data.shape[1:]) if data.ndim >= 3 else True
            dset = f.create_dataset(name, data=data, chunks=chunks)
            dset.attrs["axes"] = stack.axes
            dset.attrs["operando"] = json.dumps(metadata_record(stack))
