"""A folder or glob of numbered TIFF, PNG or JPEG frames, stacked along T in natural order.

Colour frames (RGB or RGBA) give a ``TYXC`` stack, gray frames ``TYX``. A single PNG or JPEG file is one image
(``YX`` or ``YXC``).
"""

from __future__ import annotations

from pathlib import Path

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


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read every frame of a folder or glob (``frame2`` before ``frame10``) into one ``T...`` stack."""
    if not is_pattern(file) and file.is_file():
        return _read_picture(file)
    files = _frame_files(file)
    first = _read_one(files[0])
    frames = [first.data]
    for path in files[1:]:
        data = _read_one(path).data
        if data.shape != first.data.shape:
            raise InputError(f"{path}: frame shape {data.shape} differs from the first frame's "
                             f"{first.data.shape}; all frames must have the same size")
        frames.append(data)
    meta = {k: v for k, v in first.meta.items() if k not in ("frame_times",)}
    axes = "T" + first.axes.replace("T", "") if first.axes and len(first.axes) == first.data.ndim else None
    if axes is None and first.data.ndim == 2:
        axes = "TYX"
    return Raw(np.stack(frames), axes, meta)
