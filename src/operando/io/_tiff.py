"""TIFF, OME-TIFF and BigTIFF files (tifffile): ImageJ hyperstacks and OME-TIFFs that Fiji opens calibrated.

Which layout goes where, and what Fiji shows, is in ``docs/formats.md`` ("Units and calibrated TIFF") and
:mod:`._tiff_meta`.

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
from .._units import convert, maybe_length_unit
from ._formats import Raw
from ._read import LazyArray
from ._tiff_meta import apply_record, imagej_fields, imagej_kwargs, metadata_record, ome_fields, ome_kwargs

__all__ = ["metadata_record", "read", "read_slab", "tiff_axes_to_operando", "write"]

# tifffile's axis codes that mean "a sequence of images" with no more detail.
_SEQUENCE_CODES = "QIVRMAPHL"
_BIGTIFF_BYTES = 2**32 - 2**25  # switch to BigTIFF a little below the 4 GiB classic-TIFF limit


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


def _resolution_pixel_size(page: Any) -> dict[str, Any]:
    """Pixel size from the TIFF resolution tags when their unit is a length (centimetre or inch), in um."""
    tag = page.tags.get("XResolution")
    unit = page.tags.get("ResolutionUnit")
    length = {2: "inch", 3: "cm"}.get(int(unit.value)) if unit is not None else None
    if tag is None or length is None or not tag.value[0]:
        return {}
    num, den = tag.value
    return {"pixel_size": float(f"{convert(den / num, length, 'um'):.10g}"), "pixel_unit": "um"}


def _metadata(tif: Any, axes: str | None,
              shape: tuple[int, ...]) -> tuple[str | None, dict[str, Any], tuple[int, ...]]:
    """Return the axes, metadata and shape: the ImageJ or OME-XML fields, with operando's record laid over them."""
    meta: dict[str, Any] = {}
    record = None
    if tif.is_imagej and tif.imagej_metadata:
        axes, meta, record = imagej_fields(tif, axes, shape)
    elif tif.is_ome and tif.ome_metadata:
        axes, meta, record = ome_fields(tif, axes, shape)
    elif tif.is_shaped and tif.shaped_metadata:
        record = dict(dict(tif.shaped_metadata[0]).get("operando", {}) or {}) or None
    if isinstance(record, dict):
        axes, meta, shape = apply_record(record, axes, shape, meta)
    if "pixel_size" not in meta:
        meta.update(_resolution_pixel_size(tif.pages.first))
    return axes, meta, shape


def read_slab(file: str, key: object) -> np.ndarray:
    """Open a TIFF file, read ``[key]`` of its first series (only the pages needed) and close it again."""
    import tifffile
    import zarr

    with tifffile.TiffFile(file) as tif, tif.series[0].aszarr() as store:
        return zarr.open(store, mode="r")[key]


def _inserted(shape: tuple[int, ...], stored: tuple[int, ...]) -> tuple[bool, ...]:
    """Mark the length-1 axes of ``shape`` that the file's series dropped (``stored`` is ``shape`` without them)."""
    out, j = [], 0
    for n in shape:
        kept = j < len(stored) and stored[j] == n
        out.append(not kept)
        j += kept
    return tuple(out)


def read_expanded(file: str, inserted: tuple[bool, ...], key: object) -> np.ndarray:
    """Read ``[key]`` of a series whose length-1 axes (``inserted``) the file's reader drops."""
    key = key if isinstance(key, tuple) else (key,)
    if Ellipsis in key:
        at = key.index(Ellipsis)
        key = key[:at] + (slice(None),) * (len(inserted) - len(key) + 1) + key[at + 1:]
    key = key + (slice(None),) * (len(inserted) - len(key))
    part = read_slab(file, tuple(k for k, new in zip(key, inserted, strict=True) if not new))
    index: list[object] = []
    expand: list[int] = []
    for k, new in zip(key, inserted, strict=True):
        if isinstance(k, (int, np.integer)):
            continue  # the axis is gone from the result (an inserted one can only be indexed by 0 or -1)
        if new:
            expand.append(len(index))
        index.append(k if new else slice(None))
    return np.expand_dims(part, expand)[tuple(index)] if expand else part


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read the first series of a TIFF file, with the axes and pixel size it records."""
    import tifffile

    try:
        with tifffile.TiffFile(file) as tif:
            series = tif.series[0]
            stored = tuple(int(n) for n in series.shape)
            axes = tiff_axes_to_operando(series.axes, len(stored)) if _records_axes(tif, series) else None
            axes, meta, shape = _metadata(tif, axes, stored)
            if lazy:
                reader = functools.partial(read_slab, str(file))
                if shape != stored:
                    reader = functools.partial(read_expanded, str(file), _inserted(shape, stored))
                data = LazyArray(reader, shape, series.dtype)
            else:
                data = series.asarray().reshape(shape)
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as exc:
        raise InputError(f"{file}: not a readable TIFF file ({exc}); check the file is complete") from None
    return Raw(data, axes, meta)


def write(stack: Stack, data: np.ndarray, file: Path, inner: str | None) -> None:
    """Write a TIFF that Fiji opens calibrated, atomically.

    An ImageJ hyperstack where the axes and pixel type fit (``.tif``); otherwise, and for ``.ome.tif`` and BigTIFF
    (``.btf`` or above ~4 GiB), an OME-TIFF; a plain TIFF with operando's JSON record for layouts neither holds.
    """
    import tifffile

    bigtiff = data.nbytes > _BIGTIFF_BYTES or file.suffix.lower() in (".btf", ".tf8", ".tf2")
    ome = file.name.lower().endswith((".ome.tif", ".ome.tiff")) or bigtiff
    kwargs = (None if ome else imagej_kwargs(stack, data)) or ome_kwargs(stack, data) or _plain_kwargs(stack, data)
    with atomic_path(file) as tmp:
        tifffile.imwrite(tmp, data, bigtiff=bigtiff, **kwargs)


def _plain_kwargs(stack: Stack, data: np.ndarray) -> dict[str, Any]:
    """Return arguments for a TIFF that only operando's record describes (a JSON description), calibrated in cm."""
    axes = stack.axes
    rgb = axes.endswith("C") and data.shape[-1] in (3, 4) and data.dtype in (np.uint8, np.uint16)
    kwargs: dict[str, Any] = {"photometric": "rgb" if rgb else "minisblack",
                              "metadata": {"axes": axes[:-1] + "S" if rgb else axes,
                                           "operando": metadata_record(stack)}}
    meta = stack.metadata
    unit = maybe_length_unit(meta.pixel_unit)
    if meta.pixel_size and unit:
        per_cm = 1.0 / convert(meta.pixel_size, unit, "cm")
        kwargs.update(resolution=(per_cm, per_cm), resolutionunit="CENTIMETER")
    return kwargs
