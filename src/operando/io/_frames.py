"""A folder or glob of numbered TIFF, PNG or JPEG frames, stacked along T in natural order.

Colour frames (RGB or RGBA) give a ``TYXC`` stack, gray frames ``TYX``. A single PNG or JPEG file is one image
(``YX`` or ``YXC``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from . import _tiff
from ._formats import Raw
from ._paths import is_pattern, matching_files

_TIFF = (".tif", ".tiff")
_PICTURES = (".png", ".jpg", ".jpeg")


def _read_picture(path: Path) -> Raw:
    """Read one PNG or JPEG (Pillow) as YX (gray) or YXC (RGB / RGBA)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.mode in ("P", "PA", "CMYK", "YCbCr", "LA", "1"):
                image = image.convert("RGBA" if "A" in image.mode else "RGB")
            data = np.asarray(image)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable image ({exc}); check the file is complete") from None
    return Raw(data, "YXC" if data.ndim == 3 else "YX", {})


def _read_one(path: Path) -> Raw:
    return _tiff.read(path, None, lazy=False) if path.suffix.lower() in _TIFF else _read_picture(path)


def _frame_files(file: Path) -> list[Path]:
    """List the frame files of a folder or glob, all of one kind (TIFF, or PNG/JPEG)."""
    files = matching_files(file, _TIFF + _PICTURES, "TIFF, PNG or JPEG frames")
    kinds = {"tiff" if p.suffix.lower() in _TIFF else p.suffix.lower().replace("jpeg", "jpg") for p in files}
    if len(kinds) > 1:
        raise InputError(f"{file}: the folder mixes {' and '.join(sorted(kinds))} frames; give a glob of one "
                         f"kind, e.g. '{Path(file) / '*.png'}'")
    return files


def _read_frame(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """Read one frame and check it has the first frame's shape."""
    data = _read_one(path).data
    if data.shape != shape:
        raise InputError(f"{path}: frame shape {data.shape} differs from the first frame's {shape}; all "
                         "frames must have the same size")
    return data


def _read_frames(files: tuple[Path, ...], shape: tuple[int, ...], dtype: str, key: Any) -> np.ndarray:
    """Return ``stack[key]`` of the frame files, reading only the frames the key selects along T."""
    key = key if isinstance(key, tuple) else (key,)
    if key and key[0] is not Ellipsis:
        picked, rest = np.arange(len(files))[key[0]], key[1:]
    else:
        picked, rest = np.arange(len(files)), key
    frames = [_read_frame(files[i], shape) for i in np.atleast_1d(picked)]
    data = np.stack(frames) if frames else np.empty((0, *shape), dtype)
    if np.ndim(picked) == 0:
        return data[0][rest] if rest else data[0]
    return data[(slice(None), *rest)] if rest else data


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read every frame of a folder or glob (``frame2`` before ``frame10``) into one ``T...`` stack.

    With ``lazy`` only the first frame is read now; the others are read when they are indexed.
    """
    if not is_pattern(file) and file.is_file():
        return _read_picture(file)
    files = tuple(_frame_files(file))
    first = _read_one(files[0])
    shape = tuple(first.data.shape)
    meta = {k: v for k, v in first.meta.items() if k not in ("frame_times",)}
    axes = "T" + first.axes.replace("T", "") if first.axes and len(first.axes) == first.data.ndim else None
    if axes is None and first.data.ndim == 2:
        axes = "TYX"
    if lazy:
        from ._read import LazyArray

        reader = functools.partial(_read_frames, files, shape, str(first.data.dtype))
        return Raw(LazyArray(reader, (len(files), *shape), first.data.dtype), axes, meta)
    frames = [first.data] + [_read_frame(path, shape) for path in files[1:]]
    return Raw(np.stack(frames), axes, meta)
