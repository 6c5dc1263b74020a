"""What a TIFF says about its stack in the words Fiji and Bio-Formats read: ImageJ hyperstack and OME-XML fields.

Writing, :func:`imagej_kwargs` and :func:`ome_kwargs` return ``tifffile.imwrite`` keyword arguments for a stack, or
None when the layout does not fit (see ``docs/formats.md``, "Units and calibrated TIFF"):

- ImageJ hyperstack: axes an ordered subset of ``TZCYX`` (``E`` written as ``C``, one label per energy such as
  ``"706.0 eV"``), uint8 / uint16 / float32 (or 8-bit RGB); unit, pixel size (resolution), frame interval,
  channel labels, display ranges.
- OME-TIFF: everything else that has at most ``T``, ``Z``, ``C`` (``E`` takes the first free one of ``C``, ``Z``,
  ``T``) before ``YX``: physical pixel size with its unit, time increment, channel names, and an ``operando``
  MapAnnotation with the energies (eV), the frame times (s) and the axes.

Reading, :func:`imagej_fields` and :func:`ome_fields` turn those fields back into metadata, without the operando
record; :func:`apply_record` then lays the record (exact values, non-uniform times, extras) over what agrees.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from typing import Any

import numpy as np

from .._errors import InputError
from .._provenance import versions
from .._stack import Stack
from .._units import convert, from_imagej_unit, imagej_unit, maybe_length_unit, ome_unit, time_unit

#: Pixel types an ImageJ hyperstack holds (besides 8-bit RGB); others go to OME-TIFF, unchanged.
IMAGEJ_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
#: Pixel types tifffile's OME-XML writer names.
OME_DTYPES = tuple(np.dtype(t) for t in ("int8", "int16", "int32", "uint8", "uint16", "uint32", "float32",
                                         "float64", "complex64", "complex128"))
NAMESPACE = "operando"
_ENERGY_LABEL = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(m?eV|keV|MeV)\s*$")


def metadata_record(stack: Stack) -> dict[str, Any]:
    """Return what operando stores in its own files: the metadata (without source), the axes and the versions."""
    record = stack.metadata.to_dict()
    record.pop("source", None)
    record["axes"] = stack.axes
    record["versions"] = versions()
    return record


def energy_label(energy: float) -> str:
    """Return a plane's label for a photon energy: ``"706.0 eV"`` (the float's shortest exact spelling)."""
    return f"{float(energy)!r} eV"


def parse_energy_label(text: Any) -> float | None:
    """Return the energy in eV of a label such as ``"706.0 eV"`` or ``"0.7065 keV"``, else None."""
    match = _ENERGY_LABEL.match(text) if isinstance(text, str) else None
    return convert(float(match.group(1)), match.group(2), "eV") if match else None


def uniform_interval(times: Any, count: int) -> float | None:
    """Return the step of ``count`` evenly spaced increasing times, else None."""
    if not times or len(times) != count or count < 2:
        return None
    steps = np.diff(np.asarray(times, dtype=float))
    if steps[0] > 0 and np.allclose(steps, steps[0], rtol=1e-6, atol=0.0):
        return float(steps[0])
    return None


def _tidy(value: float) -> float:
    """Round a value read through a rational (TIFF resolution) to 10 significant digits: 0.0312, not 0.03119..."""
    return float(f"{value:.10g}")


def _labels(stack: Stack, *, energies: bool = True) -> list[str] | None:
    """Channel labels: one per energy (an ``E`` axis) or ``metadata.extra["channels"]`` along ``C``."""
    meta = stack.metadata
    if stack.has("E") and energies:
        energies = meta.energies or ()
        return [energy_label(e) for e in energies] if len(energies) == stack.size("E") else None
    names = meta.extra.get("channels") if stack.has("C") else None
    if isinstance(names, (list, tuple)) and len(names) == stack.size("C"):
        return [str(n) for n in names]
    return None


def _is_rgb(axes: str, data: np.ndarray, samples: tuple[int, ...], dtypes: tuple[Any, ...]) -> bool:
    return axes.endswith("YXC") and data.shape[-1] in samples and data.dtype in dtypes


def _ranges(data: np.ndarray, axis: int) -> list[float]:
    """ImageJ display ranges: the finite minimum and maximum of each channel (0, 1 when it has none)."""
    out: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel
        for c in range(data.shape[axis]):
            plane = np.take(data, c, axis=axis)
            plane = plane[np.isfinite(plane)] if plane.dtype.kind == "f" else plane
            lo, hi = (float(plane.min()), float(plane.max())) if plane.size else (0.0, 1.0)
            out += [lo, hi if hi > lo else lo + 1.0]
    return out


def imagej_kwargs(stack: Stack, data: np.ndarray) -> dict[str, Any] | None:
    """Return ``tifffile.imwrite`` arguments for an ImageJ hyperstack of ``stack``, or None if it does not fit."""
    axes = stack.axes
    if "E" in axes and "C" in axes:
        return None
    rgb = _is_rgb(axes, data, (3,), (np.dtype(np.uint8),))
    if not rgb and data.dtype not in IMAGEJ_DTYPES:
        return None
    mapped = axes.replace("E", "C")
    mapped = mapped[:-1] + "S" if rgb else mapped
    high = mapped[: mapped.index("Y")]
    if mapped[len(high):] not in ("YX", "YXS") or "".join(a for a in "TZC" if a in high) != high:
        return None
    meta = stack.metadata
    ij: dict[str, Any] = {"axes": mapped}
    kwargs: dict[str, Any] = {"imagej": True, "photometric": "rgb" if rgb else "minisblack", "metadata": ij}
    unit = maybe_length_unit(meta.pixel_unit)
    if meta.pixel_size and unit:
        ij["unit"] = imagej_unit(unit)
        kwargs["resolution"] = (1.0 / meta.pixel_size, 1.0 / meta.pixel_size)
    interval = uniform_interval(meta.frame_times, stack.size("T")) if "T" in axes else None
    if interval:
        ij["finterval"] = interval
    labels = _labels(stack)
    if "C" in high:
        ij["mode"] = "grayscale"  # named channels or energies are separate measurements, not colours to overlay
        ij["Ranges"] = _ranges(data, mapped.index("C"))
        if labels:
            ij["Labels"] = labels * (stack.size("T") * stack.size("Z"))  # C varies fastest in ImageJ's order
    ij["operando"] = json.dumps(metadata_record(stack))
    return kwargs


def ome_kwargs(stack: Stack, data: np.ndarray) -> dict[str, Any] | None:
    """Return ``tifffile.imwrite`` arguments for an OME-TIFF of ``stack``, or None if OME-XML cannot hold it."""
    axes = stack.axes
    rgb = _is_rgb(axes, data, (3, 4), (np.dtype(np.uint8), np.dtype(np.uint16)))
    if data.dtype not in OME_DTYPES:
        return None
    mapped = axes[:-1] + "S" if rgb else axes
    energy_axis = next((a for a in "CZT" if a not in mapped), None) if "E" in axes else None
    if "E" in axes and energy_axis is None:
        return None
    mapped = mapped.replace("E", energy_axis or "E")
    high = mapped[: mapped.index("Y")]
    if mapped[len(high):] not in ("YX", "YXS") or set(high) - set("TZC"):
        return None
    meta = stack.metadata
    ome: dict[str, Any] = {"axes": mapped}
    unit = maybe_length_unit(meta.pixel_unit)
    if meta.pixel_size and unit:
        ome.update(PhysicalSizeX=meta.pixel_size, PhysicalSizeY=meta.pixel_size, PhysicalSizeXUnit=ome_unit(unit),
                   PhysicalSizeYUnit=ome_unit(unit))
    interval = uniform_interval(meta.frame_times, stack.size("T")) if "T" in axes else None
    if interval:
        ome.update(TimeIncrement=interval, TimeIncrementUnit="s")
    labels = _labels(stack, energies=energy_axis == "C")
    if labels and not rgb:
        ome["Channel"] = {"Name": labels}
    notes: dict[str, str] = {"axes": axes}
    if energy_axis and meta.energies:
        notes.update(energy_axis=energy_axis, energies_eV=" ".join(repr(float(e)) for e in meta.energies))
    if meta.frame_times:
        notes["frame_times_s"] = " ".join(repr(float(t)) for t in meta.frame_times)
    notes["record"] = json.dumps(metadata_record(stack))
    ome["MapAnnotation"] = {"Namespace": NAMESPACE, "Value": notes}
    return {"ome": True, "photometric": "rgb" if rgb else "minisblack", "metadata": ome}


def _channel_meta(names: list[Any] | None, axes: str | None, shape: tuple[int, ...]) -> tuple[str | None, dict]:
    """Read a C axis whose every name is an energy (``"706.0 eV"``) as ``E``; other names become channels."""
    if not names or not axes or "C" not in axes or len(names) != shape[axes.index("C")]:
        return axes, {}
    energies = [parse_energy_label(n) for n in names]
    if all(e is not None for e in energies):
        return axes.replace("C", "E"), {"energies": energies}
    return axes, {"extra": {"channels": [str(n) for n in names]}}


def _seconds(value: float, unit: Any) -> float | None:
    text = "s" if unit in (None, "", "sec", "second", "seconds") else str(unit)
    try:
        return convert(value, time_unit(text), "s")
    except InputError:
        return None


def imagej_fields(tif: Any, axes: str | None, shape: tuple[int, ...]) -> tuple[str | None, dict, Any]:
    """Return the axes, metadata and operando record (or None) an ImageJ hyperstack holds."""
    ij = dict(tif.imagej_metadata or {})
    meta: dict[str, Any] = {}
    unit = ij.get("unit")
    tag = tif.pages.first.tags.get("XResolution")
    if unit and tag is not None and tag.value[0]:
        try:
            meta.update(pixel_size=_tidy(tag.value[1] / tag.value[0]), pixel_unit=from_imagej_unit(str(unit)))
        except InputError:  # "pixel" or a unit that is not a length: an uncalibrated image
            meta.clear()
    step = _seconds(float(ij["finterval"]), ij.get("tunit")) if ij.get("finterval") else None
    if step and axes and "T" in axes:
        meta["frame_times"] = [i * step for i in range(shape[axes.index("T")])]
    labels = ij.get("Labels")
    labels = [labels] if isinstance(labels, str) else labels  # tifffile gives one label as a string
    if isinstance(labels, (list, tuple)) and axes and "C" in axes:
        labels = list(labels[: shape[axes.index("C")]])
    axes, found = _channel_meta(labels if isinstance(labels, list) else None, axes, shape)
    meta.update(found)
    return axes, meta, _json(ij.get("operando"))


def _json(text: Any) -> Any:
    if isinstance(text, dict):
        return text
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, list) else [value]


def _annotations(ome: dict[str, Any]) -> dict[str, str]:
    """Return the key/value pairs of the operando MapAnnotation(s)."""
    out: dict[str, str] = {}
    for note in _as_list(ome.get("StructuredAnnotations", {}).get("MapAnnotation")):
        if isinstance(note, dict) and note.get("Namespace") == NAMESPACE:
            for pair in _as_list(note.get("Value", {}).get("M")):
                if isinstance(pair, dict) and "K" in pair:
                    out[str(pair["K"])] = str(pair.get("value", ""))
    return out


def _numbers(text: str | None) -> list[float] | None:
    try:
        return [float(v) for v in text.split()] if text else None
    except ValueError:
        return None


def ome_fields(tif: Any, axes: str | None, shape: tuple[int, ...]) -> tuple[str | None, dict, Any]:
    """Return the axes, metadata and operando record (or None) an OME-TIFF's OME-XML holds."""
    import tifffile

    ome = tifffile.xml2dict(tif.ome_metadata).get("OME", {})
    image = _as_list(ome.get("Image"))
    pixels = image[0].get("Pixels", {}) if image and isinstance(image[0], dict) else {}
    meta: dict[str, Any] = {"extra": {"ome": True}}
    size, unit = pixels.get("PhysicalSizeX"), maybe_length_unit(str(pixels.get("PhysicalSizeXUnit", "µm")))
    if size and unit:
        meta.update(pixel_size=float(size), pixel_unit=unit)
    step = pixels.get("TimeIncrement")
    step = _seconds(float(step), pixels.get("TimeIncrementUnit")) if step else None
    if step and axes and "T" in axes:
        meta["frame_times"] = [i * step for i in range(shape[axes.index("T")])]
    notes = _annotations(ome)
    letter = notes.get("energy_axis")
    energies = _numbers(notes.get("energies_eV"))
    fits = bool(axes and letter and letter in axes and "E" not in axes)
    if fits and energies and len(energies) == shape[axes.index(letter)]:
        axes, meta["energies"] = axes.replace(letter, "E"), energies
    names = [c.get("Name") for c in _as_list(pixels.get("Channel")) if isinstance(c, dict)]
    axes, found = _channel_meta(names if names and all(names) else None, axes, shape)
    meta = {**meta, **found, "extra": {**meta["extra"], **found.get("extra", {})}}
    times = _numbers(notes.get("frame_times_s"))
    if times and axes and "T" in axes and len(times) == shape[axes.index("T")]:
        meta["frame_times"] = times
    return axes, meta, _json(notes.get("record"))


def recorded_layout(recorded: str, found: str | None, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """Return the shape the record's axes give the file's data, or None when they do not describe it.

    ``E`` may have been written as C, Z or T; ImageJ and OME-TIFF readers drop length-1 axes, which the record
    brings back (a length-1 ``T`` of a ``TCYX`` stack).
    """
    if found is None:
        return shape if len(recorded) == len(shape) else None
    out: list[int] = []
    j = 0
    for letter in recorded:
        if j < len(found) and (letter == found[j] or (letter == "E" and found[j] in "CZT")):
            out.append(shape[j])
            j += 1
        else:
            out.append(1)
    return tuple(out) if j == len(found) == len(shape) else None


def _agrees(found: Any, recorded: Any) -> bool:
    if found is None:
        return True
    if isinstance(found, (list, tuple)):
        return isinstance(recorded, (list, tuple)) and len(found) == len(recorded) and bool(
            np.allclose(np.asarray(found, float), np.asarray(recorded, float), rtol=1e-6, atol=1e-9))
    if isinstance(found, float):
        return isinstance(recorded, (int, float)) and math.isclose(found, recorded, rel_tol=1e-6)
    return found == recorded


def apply_record(record: dict[str, Any], axes: str | None, shape: tuple[int, ...],
                 meta: dict[str, Any]) -> tuple[str | None, dict[str, Any], tuple[int, ...]]:
    """Lay the operando record over the file's own fields where they agree (or the file has none).

    A record that a viewer carried over after changing the image (a channel removed, a new pixel size) loses to
    the file's fields: values whose length or size no longer match are dropped. Returns the axes, the metadata and
    the shape (with the length-1 axes the file's reader dropped).
    """
    record = dict(record)
    recorded = record.pop("axes", None)
    layout = recorded_layout(recorded, axes, shape) if isinstance(recorded, str) else None
    if layout is not None:
        axes, shape = recorded, layout
    out = dict(meta)
    for key in ("pixel_size", "pixel_unit", "frame_times", "energies", "original_dtype"):
        value = record.get(key)
        if value is not None and _agrees(meta.get(key), value):
            out[key] = value
    sizes = dict(zip(axes, shape, strict=False)) if axes else {}
    for key, letter in (("frame_times", "T"), ("energies", "E")):
        if out.get(key) is not None and len(out[key]) != sizes.get(letter, -1):
            out.pop(key)
    extra = {**dict(record.get("extra") or {}), **dict(meta.get("extra") or {})}
    channels = extra.get("channels")
    if channels is not None and (not isinstance(channels, list) or len(channels) != sizes.get("C", -1)):
        extra.pop("channels")
    if extra:
        out["extra"] = extra
    return axes, out, shape
