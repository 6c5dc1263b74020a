"""Xradia / Zeiss TXM ``.xrm`` (one image) and ``.txrm`` (many) files: OLE2 compound documents (olefile).

Streams: ``ImageInfo/ImageWidth`` / ``ImageHeight`` / ``NoOfImages`` (uint32), ``ImageInfo/DataType`` (5: uint16,
10: float32), ``ImageDataK/ImageN`` (row-major, 100 images per ``ImageDataK`` folder), ``ImageInfo/ExpTimes``
(float32 s per image), ``ImageInfo/PixelSize`` (float32 um), ``ImageInfo/Energy`` (float32 eV per image; 0 in some
series, where the energy is in the file name, ``..._08324.0_eV_...``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from ._formats import Raw

_DTYPES = {5: np.dtype("<u2"), 10: np.dtype("<f4")}
_ENERGY_IN_NAME = re.compile(r"_(\d+(?:\.\d+)?)_?eV", re.IGNORECASE)


def _values(ole: Any, stream: str, dtype: str, n: int | None = None) -> np.ndarray | None:
    if not ole.exists(stream):
        return None
    raw = ole.openstream(stream).read()
    values = np.frombuffer(raw[: len(raw) - len(raw) % np.dtype(dtype).itemsize], dtype=dtype)
    return values if n is None else values[:n]


def energy_from_name(name: str) -> float | None:
    """Return the energy written in an Xradia file name (``..._08324.0_eV_...``), or None.

    Parameters
    ----------
    name : str
        The file name.

    Returns
    -------
    float or None
        The energy in eV.
    """
    match = _ENERGY_IN_NAME.search(name)
    return float(match.group(1)) if match else None


def _image_stream(ole: Any, i: int) -> str:
    return f"ImageData{i // 100 + 1}/Image{i + 1}"


def _open(file: Path) -> Any:
    import olefile

    if not olefile.isOleFile(str(file)):
        raise InputError(f"{file}: not an OLE2 compound file; is this an Xradia .xrm/.txrm file?")
    return olefile.OleFileIO(str(file))


def _read_images(ole: Any, file: Path, width: int, height: int, n_images: int, dtype: np.dtype) -> np.ndarray:
    frames = []
    for i in range(n_images):
        stream = _image_stream(ole, i)
        if not ole.exists(stream):
            raise InputError(f"{file}: stream {stream} is missing ({n_images} images announced); the file is "
                             "incomplete")
        raw = ole.openstream(stream).read()
        if len(raw) < width * height * dtype.itemsize:
            raise InputError(f"{file}: image {i + 1} holds {len(raw)} bytes, {width}x{height} {dtype} needs "
                             f"{width * height * dtype.itemsize}; the file is truncated")
        frames.append(np.frombuffer(raw[: width * height * dtype.itemsize], dtype=dtype).reshape(height, width))
    return np.stack(frames).astype(dtype.newbyteorder("="))


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read every image of an Xradia file as ``EYX`` (energy series or a single frame) or ``TYX`` (same energy)."""
    try:
        return _read(file)
    except InputError:
        raise
    except (OSError, ValueError, IndexError, KeyError, TypeError, EOFError) as exc:  # olefile on a damaged file
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # permission, a folder, ...: the error boundary words these
        raise InputError(f"{file}: a damaged Xradia file ({exc}); check the file is complete") from None


def _read(file: Path) -> Raw:
    ole = _open(file)
    try:
        size = [_values(ole, f"ImageInfo/{k}", "<u4", 1) for k in ("ImageWidth", "ImageHeight", "DataType")]
        if any(v is None or v.size == 0 for v in size):
            raise InputError(f"{file}: ImageInfo/ImageWidth, ImageHeight or DataType is missing; not an Xradia image")
        width, height, code = (int(v[0]) for v in size)  # type: ignore[index]
        if code not in _DTYPES:
            raise InputError(f"{file}: ImageInfo/DataType {code} is not supported (5 = uint16, 10 = float32)")
        count = _values(ole, "ImageInfo/NoOfImages", "<u4", 1)
        n_images = int(count[0]) if count is not None and count.size and count[0] > 0 else 1
        data = _read_images(ole, file, width, height, n_images, _DTYPES[code])
        energies = _values(ole, "ImageInfo/Energy", "<f4", n_images)
        exposure = _values(ole, "ImageInfo/ExpTimes", "<f4", n_images)
        pixel = _values(ole, "ImageInfo/PixelSize", "<f4", 1)
        current = _values(ole, "ImageInfo/Current", "<f4", n_images)
    finally:
        ole.close()
    extra: dict[str, Any] = {"format": "Xradia .xrm/.txrm"}
    energy_list = [float(e) for e in energies] if energies is not None and energies.size == n_images else []
    if not energy_list or all(e == 0 for e in energy_list):
        from_name = energy_from_name(file.name)
        energy_list = [from_name] * n_images if from_name is not None else []
        extra["energy_source"] = "file name" if from_name is not None else "none (ImageInfo/Energy is 0)"
    else:
        extra["energy_source"] = "ImageInfo/Energy"
    if exposure is not None and exposure.size:
        extra["exposure_s"] = [round(float(v), 6) for v in exposure]
    if current is not None and current.size == n_images and np.any(current != 0):
        extra["current"] = [float(v) for v in current]
    axes = "TYX" if n_images > 1 and len(set(energy_list)) == 1 else "EYX"
    meta: dict[str, Any] = {"extra": extra}
    if axes == "EYX" and energy_list:
        meta["energies"] = energy_list
    elif energy_list:
        extra["energy_ev"] = energy_list[0]
    if pixel is not None and pixel.size and pixel[0] > 0:
        meta.update(pixel_size=round(float(pixel[0]), 6), pixel_unit="um")
    return Raw(data, axes, meta)
