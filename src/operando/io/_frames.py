"""A folder or glob of numbered TIFF frames, stacked along T in natural order."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._errors import InputError
from . import _tiff
from ._formats import Raw
from ._paths import matching_files


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read every TIFF frame of a folder or glob (``frame2`` before ``frame10``) into one ``T...`` stack."""
    files = matching_files(file, (".tif", ".tiff"), "TIFF frames")
    first = _tiff.read(files[0], None, lazy=False)
    frames = [first.data]
    for path in files[1:]:
        data = _tiff.read(path, None, lazy=False).data
        if data.shape != first.data.shape:
            raise InputError(f"{path}: frame shape {data.shape} differs from the first frame's "
                             f"{first.data.shape}; all frames must have the same size")
        frames.append(data)
    meta = {k: v for k, v in first.meta.items() if k not in ("frame_times",)}
    axes = "T" + first.axes.replace("T", "") if first.axes and len(first.axes) == first.data.ndim else None
    if axes is None and first.data.ndim == 2:
        axes = "TYX"
    return Raw(np.stack(frames), axes, meta)
