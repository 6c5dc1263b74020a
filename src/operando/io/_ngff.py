"""OME-Zarr (OME-NGFF 0.5) image metadata for operando's Zarr outputs, and reading it back.

An operando ``.zarr`` output is a Zarr v3 group whose attributes hold ``{"ome": {"version": "0.5",
"multiscales": [...]}}``: one multiscales entry per array written into the group (named like the array, whose
one resolution level is the array itself, ``datasets[0].path``), so that napari-ome-zarr, Fiji (via its
OME-Zarr readers) and ``ome-zarr-py`` open it with its scale.

Axes (names as the array's ``dimension_names``): ``t`` (type ``time``, unit ``second``), ``energy`` (a custom
type ``energy``, unit ``electronvolt``: NGFF allows one axis of a custom type besides ``channel``, and a
``channel`` axis would make viewers split a spectrum into one layer per energy), ``c`` (``channel``), ``z``,
``y``, ``x`` (``space``, the pixel unit as its UDUNITS-2 name: ``micrometer``, ``nanometer``...). NGFF orders
axes time, channel/custom, space: a stack in another order (``TYXC``) is stored transposed (``TCYX``) and read
back in its own order (the order is in operando's record, ``axes``).

Scale: the pixel size on ``y`` and ``x``; the frame interval on ``t`` and the energy step on ``energy`` where
uniform, with a ``translation`` to the first frame time and energy (non-uniform or unknown: 1, no unit); 1 on
``c`` and ``z`` (operando records no depth spacing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import InputError
from .._stack import Metadata
from .._units import convert, energy_unit, length_unit, ngff_unit, time_unit
from ._read import STANDARD_NAMES, axes_from_names

#: NGFF's axis order (time, then the custom and channel axes, then space), as operando letters.
NGFF_ORDER = "TECZYX"
#: The NGFF axis type of each operando letter (``energy``: a custom type, which NGFF allows for one axis).
AXIS_TYPES = {"T": "time", "E": "energy", "C": "channel", "Z": "space", "Y": "space", "X": "space"}
#: The most axes an NGFF 0.5 image has.
MAX_NDIM = 5
#: Relative spread of the steps under which frame times or energies count as uniform.
UNIFORM_RTOL = 1e-6


def ngff_axes(axes: str) -> str | None:
    """Return the order in which an OME-Zarr (NGFF 0.5) image stores a stack's axes.

    Parameters
    ----------
    axes : str
        The stack's axis letters (``"TYXC"``).

    Returns
    -------
    str or None
        The letters in NGFF order: time, energy, channel, then space (``"TCYX"``); None when NGFF cannot
        describe the axes (more than 5).
    """
    if len(axes) > MAX_NDIM:
        return None
    return "".join(sorted(axes, key=NGFF_ORDER.index))


def permutation(source: str, target: str) -> tuple[int, ...]:
    """Return ``perm`` such that ``data.transpose(perm)`` turns axes ``source`` into ``target``."""
    return tuple(source.index(a) for a in target)


def uniform(values: Sequence[float] | None) -> tuple[float, float] | None:
    """Return (first value, step) of evenly spaced values, or None (fewer than two, or uneven, or not increasing)."""
    if values is None or len(values) < 2:
        return None
    steps = np.diff(np.asarray(values, float))
    step = float(np.mean(steps))
    if step <= 0 or float(np.max(np.abs(steps - step))) > UNIFORM_RTOL * step:
        return None
    return float(values[0]), step


def _unit(text: str | None) -> str | None:
    """Return the NGFF name of a unit, or None when it is missing or not a unit (``px``)."""
    if not text:
        return None
    try:
        return ngff_unit(text)
    except InputError:  # an uncalibrated or unknown unit: the axis gets none
        return None


def calibration(letter: str, meta: Metadata) -> tuple[float, float, str | None]:
    """Return the (scale, translation, NGFF unit) of one axis from a stack's metadata."""
    if letter in "YX" and meta.pixel_size:
        return float(meta.pixel_size), 0.0, _unit(meta.pixel_unit)
    values, unit = {"T": (meta.frame_times, "s"), "E": (meta.energies, "eV")}.get(letter, (None, None))
    even = uniform(values)
    if even is not None:
        return even[1], even[0], _unit(unit)
    return 1.0, 0.0, None


def image_entry(axes: str, meta: Metadata, name: str) -> dict[str, Any]:
    """Return the NGFF multiscales entry of the array ``name`` holding a stack with ``axes`` (stored order)."""
    described = []
    scale, translation = [], []
    for letter in axes:
        step, offset, unit = calibration(letter, meta)
        axis = {"name": STANDARD_NAMES[letter], "type": AXIS_TYPES[letter]}
        if unit:
            axis["unit"] = unit
        described.append(axis)
        scale.append(step)
        translation.append(offset)
    transforms: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
    if any(translation):
        transforms.append({"type": "translation", "translation": translation})
    return {"name": name, "axes": described, "datasets": [{"path": name, "coordinateTransformations": transforms}]}


def with_image(attrs: dict[str, Any], entry: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """Return the group's ``ome`` attribute with the entry of array ``name`` replaced by ``entry`` (None: removed)."""
    ome = dict(attrs.get("ome") or {})
    kept = [dict(s) for s in ome.get("multiscales") or [] if s.get("name") != name]
    scales = kept + ([entry] if entry is not None else [])
    return {**ome, "version": "0.5", "multiscales": scales} if scales else {}


def write_ome_image(group: Any, axes: str, meta: Metadata, name: str = "data") -> None:
    """Describe an array of a Zarr v3 group as an OME-Zarr (NGFF 0.5) image in the group's ``ome`` attribute.

    The multiscales entry of the array (named like it) is added or replaced; the other arrays' entries stay. An
    array whose axes are not in NGFF order (:func:`ngff_axes`) gets no entry (a stale one is removed).

    Parameters
    ----------
    group : zarr.Group
        The group holding the array, open for writing.
    axes : str
        The axis letters of the array as stored.
    meta : Metadata
        The stack's metadata: pixel size and unit, frame times (s), energies (eV).
    name : str
        The array's name in the group, also its one resolution level's path.

    Returns
    -------
    None
    """
    attrs = dict(group.attrs)
    ome = with_image(attrs, image_entry(axes, meta, name) if ngff_axes(axes) == axes else None, name)
    if ome:
        group.attrs["ome"] = ome
    elif "ome" in attrs:
        del group.attrs["ome"]


def multiscales(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the multiscales entries of a group's attributes (NGFF 0.4 at the top, 0.5 under ``ome``)."""
    scales = attrs.get("multiscales") or dict(attrs.get("ome") or {}).get("multiscales") or []
    return [dict(s) for s in scales if isinstance(s, dict)]


def _values(kind: str, unit: str | None, start: float, step: float, n: int) -> tuple[float, ...] | None:
    """Return ``n`` evenly spaced values in operando's unit (s, eV), or None when the unit is not of ``kind``."""
    target = {"time": "s", "energy": "eV"}[kind]
    check = time_unit if kind == "time" else energy_unit
    try:
        check(unit)
        first, delta = convert(start, unit, target), convert(step, unit, target)
    except InputError:  # no unit, or not a time / an energy: the values are not known
        return None
    return tuple(round(first + i * delta, 12) for i in range(n))


def read_image(entry: dict[str, Any], path: str, shape: Sequence[int]) -> tuple[str | None, dict[str, Any]]:
    """Return the axes (stored order) and the metadata an NGFF multiscales entry gives the dataset ``path``.

    The pixel size and unit from the ``x`` scale; frame times and energies from the ``t`` and ``energy`` scale and
    translation when their unit is a time or an energy.
    """
    listed = [a if isinstance(a, dict) else {"name": a} for a in entry.get("axes") or []]
    axes = axes_from_names([a.get("name") for a in listed])
    found = next((dict(d) for d in entry.get("datasets") or [] if str(d.get("path")) == path), None)
    if not axes or found is None or len(axes) != len(shape):
        return axes, {}
    scale, offset = [1.0] * len(axes), [0.0] * len(axes)
    for transform in found.get("coordinateTransformations") or []:
        if transform.get("type") == "scale":
            scale = [float(v) for v in transform["scale"]]
        elif transform.get("type") == "translation":
            offset = [float(v) for v in transform["translation"]]
    meta: dict[str, Any] = {}
    if "X" in axes:
        i = axes.index("X")
        meta["pixel_size"] = scale[i]
        unit = listed[i].get("unit")
        try:
            meta["pixel_unit"] = length_unit(unit) if unit else None
        except InputError:  # a unit operando does not know is kept as written
            meta["pixel_unit"] = unit
    for letter, key, kind in (("T", "frame_times", "time"), ("E", "energies", "energy")):
        if letter in axes:
            i = axes.index(letter)
            values = _values(kind, listed[i].get("unit"), offset[i], scale[i], int(shape[i]))
            if values is not None:
                meta[key] = values
    return axes, {k: v for k, v in meta.items() if v is not None}


class Transposed:
    """Read ``data[key]`` in one axis order from a reader of the stored (NGFF) order; picklable.

    Parameters
    ----------
    reader : callable
        ``reader(key)`` returns the stored array's ``[key]``.
    perm : tuple of int
        Stored axis ``i`` is axis ``perm[i]`` of the order read.
    """

    def __init__(self, reader: Any, perm: tuple[int, ...]) -> None:
        self.reader = reader
        self.perm = tuple(perm)

    def _items(self, key: Any) -> tuple[Any, ...] | None:
        items = key if isinstance(key, tuple) else (key,)
        if sum(item is Ellipsis for item in items) > 1:
            return None
        if any(item is Ellipsis for item in items):
            at = next(i for i, item in enumerate(items) if item is Ellipsis)
            items = items[:at] + (slice(None),) * (len(self.perm) - len(items) + 1) + items[at + 1:]
        items = items + (slice(None),) * (len(self.perm) - len(items))
        if len(items) != len(self.perm) or not all(isinstance(i, (slice, int, np.integer)) for i in items):
            return None
        return items

    def __call__(self, key: Any) -> np.ndarray:
        items = self._items(key)
        if items is None:  # fancy indexing: read everything in the order read, then index with numpy
            return self(...)[key]
        stored = tuple(items[p] for p in self.perm)
        kept = [p for p in self.perm if isinstance(items[p], slice)]
        values = np.asarray(self.reader(stored))
        return np.ascontiguousarray(values.transpose(np.argsort(kept))) if values.ndim > 1 else values
