"""TIFF, OME-TIFF and BigTIFF files (tifffile).

Lazy reads go through ``tifffile``'s Zarr view of the first series (``aszarr``), opening the file for each read
(:class:`LazyArray`): only the pages asked for are read and no handle stays open.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import atomic_path
from .._stack import Stack, validate_axes
from ._formats import Raw
from ._read import LazyArray

# tifffile's axis codes that mean "a sequence of images" with no more detail.
_SEQUENCE_CODES = "QIVRMAPHL"
_BIGTIFF_BYTES = 2**32 - 2**25  # switch to BigTIFF a little below the 4 GiB classic-TIFF limit
_CM_PER_UNIT = {"um": 1e4, "nm": 1e7, "mm": 10.0, "cm": 1.0}


def tiff_axes_to_operando(code: str, ndim: int) -> str | None:
    """Translate tifffile's axes code to operando letters (S -> C, sequence codes -> T), or None if unusable."""
    out: list[str] = []
    for letter in code:
        if letter == "S":
            out.append("C")
        elif letter in _SEQUENCE_CODES:
            out.append("T" if "T" not in code and "T" not in out else "Z")
        else:
            out.append(letter)
    try:
        return validate_axes("".join(out), ndim)
    except InputError:
        return None


def _records_axes(tif: Any, series: Any) -> bool:
    """Whether the file says what its axes are (tifffile otherwise labels stacks 'QYX', 'IYX' or 'SYX')."""
    if tif.is_imagej or tif.is_ome or series.ndim == 2:
        return True
    if tif.is_shaped and tif.shaped_metadata and "axes" in dict(tif.shaped_metadata[0]):
        return True
    page = tif.pages.first  # an RGB(A) image stored as contiguous samples is a colour image, not a stack
    return series.axes.endswith("YXS") and page.photometric == 2 and page.planarconfig == 1


def _ome_pixel_size(ome_xml: str) -> dict[str, Any]:
    import tifffile

    pixels = tifffile.xml2dict(ome_xml).get("OME", {}).get("Image", {})
    if isinstance(pixels, list):
        pixels = pixels[0]
    pixels = pixels.get("Pixels", {})
    size = pixels.get("PhysicalSizeX")
    if not size:
        return {}
    return {"pixel_size": float(size), "pixel_unit": str(pixels.get("PhysicalSizeXUnit", "um")).replace("µ", "u")}


def _resolution_pixel_size(page: Any) -> dict[str, Any]:
    tag = page.tags.get("XResolution")
    unit = page.tags.get("ResolutionUnit")
    if tag is None or unit is None or int(unit.value) != 3:  # 3: centimetre
        return {}
    num, den = tag.value
    return {"pixel_size": 1e4 * den / num, "pixel_unit": "um"} if num else {}


def _metadata(tif: Any, axes: str | None, shape: tuple[int, ...]) -> tuple[str | None, dict[str, Any]]:
    meta: dict[str, Any] = {}
    if tif.is_shaped and tif.shaped_metadata:
        meta = dict(dict(tif.shaped_metadata[0]).get("operando", {}) or {})
        axes = meta.pop("axes", axes)
    elif tif.is_imagej and tif.imagej_metadata:
        ij = tif.imagej_metadata
        if ij.get("finterval") and axes and "T" in axes:
            meta["frame_times"] = [i * float(ij["finterval"]) for i in range(shape[axes.index("T")])]
        if ij.get("unit"):
            meta["pixel_unit"] = ij["unit"]
    if tif.is_ome and tif.ome_metadata:
        meta.setdefault("extra", {})["ome"] = True
        for key, value in _ome_pixel_size(tif.ome_metadata).items():
            meta.setdefault(key, value)
    if "pixel_size" not in meta:
        meta.update(_resolution_pixel_size(tif.pages.first))
    return axes, meta


def read_slab(file: str, key: object) -> np.ndarray:
    """Open a TIFF file, read ``[key]`` of its first series (only the pages needed) and close it again."""
    import tifffile
    import zarr

    with tifffile.TiffFile(file) as tif, tif.series[0].aszarr() as store:
        return zarr.open(store, mode="r")[key]


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read the first series of a TIFF file, with the axes and pixel size it records."""
    import tifffile

    try:
        with tifffile.TiffFile(file) as tif:
            series = tif.series[0]
            shape = tuple(int(n) for n in series.shape)
            if lazy:
                data = LazyArray(functools.partial(read_slab, str(file)), shape, series.dtype)
            else:
                data = series.asarray()
            axes = tiff_axes_to_operando(series.axes, len(shape)) if _records_axes(tif, series) else None
            axes, meta = _metadata(tif, axes, shape)
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as exc:
        raise InputError(f"{file}: not a readable TIFF file ({exc}); check the file is complete") from None
    return Raw(data, axes, meta)


def metadata_record(stack: Stack) -> dict[str, Any]:
    """Return what operando stores in its own files: the metadata (without source) and the axes."""
    record = stack.metadata.to_dict()
    record.pop("source", None)
    record["axes"] = stack.axes
    return record


def write(stack: Stack, data: np.ndarray, file: Path, inner: str | None) -> None:
    """Write a TIFF (OME-TIFF for ``.ome.tif``; BigTIFF for ``.btf`` or above ~4 GiB), atomically."""
    import tifffile

    axes = stack.axes
    rgb = axes.endswith("C") and data.shape[-1] in (3, 4) and data.dtype in (np.uint8, np.uint16)
    tiff_axes = axes[:-1] + "S" if rgb else axes
    bigtiff = data.nbytes > _BIGTIFF_BYTES or file.suffix.lower() in (".btf", ".tf8", ".tf2")
    kwargs: dict[str, Any] = {"photometric": "rgb" if rgb else "minisblack", "bigtiff": bigtiff}
    meta = stack.metadata
    if file.name.lower().endswith((".ome.tif", ".ome.tiff")):
        ome: dict[str, Any] = {"axes": tiff_axes.replace("E", "C") if "C" not in tiff_axes else tiff_axes}
        if meta.pixel_size:
            unit = (meta.pixel_unit or "um").replace("u", "µ")
            ome.update(PhysicalSizeX=meta.pixel_size, PhysicalSizeY=meta.pixel_size,
                       PhysicalSizeXUnit=unit, PhysicalSizeYUnit=unit)
        with atomic_path(file) as tmp:
            tifffile.imwrite(tmp, data, ome=True, metadata=ome, **kwargs)
        return
    scale = _CM_PER_UNIT.get(meta.pixel_unit or "um") if meta.pixel_size else None
    if scale:
        kwargs["resolution"] = (scale / meta.pixel_size, scale / meta.pixel_size)
        kwargs["resolutionunit"] = "CENTIMETER"
    with atomic_path(file) as tmp:
        tifffile.imwrite(tmp, data, metadata={"axes": tiff_axes, "operando": metadata_record(stack)}, **kwargs)
