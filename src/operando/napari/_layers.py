"""A Stack as napari layer data and back: scale, units and axis labels from the metadata, the record kept.

A layer made here carries

- ``scale`` / ``translate`` / ``units`` per axis: the pixel size and its unit on Y and X, the frame interval (and
  the first frame's time) in seconds on T when the frames are evenly spaced, the energy step (and the first
  energy) in eV on E when the energies are evenly spaced; other axes count planes (unit ``pixel``);
- ``axis_labels``: operando's axis names (``t``, ``energy``, ``c``, ``z``, ``y``, ``x``);
- ``metadata["operando"]``: the Stack's ``metadata.to_dict()`` plus ``"axes"`` (the letters of the layer's
  dimensions), so :func:`layer_to_stack` gives back the same Stack and every energy and frame time stays listed.

Nothing here imports napari: these are plain tuples and dicts that napari (or a test) turns into layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._stack import Metadata, Stack
from ..io import STANDARD_NAMES, LazyArray, assumed_axes, axes_from_names

#: The key of a layer's metadata that holds operando's record (``Metadata.to_dict()`` plus ``"axes"``).
RECORD_KEY = "operando"
#: napari's unit for an axis counted in planes.
PLANE_UNIT = "pixel"
LayerData = tuple[Any, dict[str, Any], str]


def _length_unit(text: str | None) -> str | None:
    """Return a unit napari (pint) understands for a pixel size, or None when there is none to give."""
    if not text or text in ("1", "px", "pixel", "pixels"):
        return None
    from .._units import length_unit

    try:
        return length_unit(text)
    except InputError:
        return None


def _uniform_step(values: tuple[float, ...] | None, n: int) -> tuple[float, float] | None:
    """Return (first, step) when ``values`` holds ``n`` evenly spaced increasing numbers (step 1 for one value)."""
    if not values or len(values) != n:
        return None
    if n == 1:
        return float(values[0]), 1.0
    steps = np.diff(np.asarray(values, dtype=float))
    if steps[0] <= 0 or not np.allclose(steps, steps[0], rtol=1e-4, atol=1e-9):
        return None
    return float(values[0]), float(steps[0])


def axis_calibration(stack: Stack) -> tuple[list[float], list[float], list[str]]:
    """Return napari's ``scale``, ``translate`` and ``units`` for every axis of ``stack``, in its order.

    Parameters
    ----------
    stack : Stack
        The stack; its metadata gives the pixel size (Y, X), frame times (T) and energies (E).

    Returns
    -------
    (list of float, list of float, list of str)
        Per axis: the step, the position of the first plane and the unit (``pixel`` where nothing is known).
    """
    meta = stack.metadata
    scale, translate, units = [], [], []
    pixel_unit = _length_unit(meta.pixel_unit)
    for letter, n in zip(stack.axes, stack.shape, strict=True):
        step, start, unit = 1.0, 0.0, PLANE_UNIT
        if letter in "YX" and meta.pixel_size and meta.pixel_size > 0 and pixel_unit:
            step, unit = float(meta.pixel_size), pixel_unit
        elif letter == "T" and (found := _uniform_step(meta.frame_times, n)) and n > 1:
            (start, step), unit = found, "s"
        elif letter == "E" and (found := _uniform_step(meta.energies, n)):
            (start, step), unit = found, "eV"
        scale.append(step)
        translate.append(start)
        units.append(unit)
    return scale, translate, units


def _napari_order(axes: str, rgb: bool) -> str:
    """Return the axes with Y and X last (then C for an RGB image), the others in their order."""
    tail = "YXC" if rgb else "YX"
    return "".join(a for a in axes if a not in tail) + tail


def _is_rgb(stack: Stack) -> bool:
    """Return True for colour pictures: a C axis of 3 or 4 unnamed channels of 8-bit data."""
    return (stack.has("C") and stack.size("C") in (3, 4) and not stack.metadata.extra.get("channels")
            and stack.dtype == np.uint8)


def _lazy(data: Any, axes: str) -> Any:
    """Return data napari can slice: a numpy array as is, anything on disk as a dask array read a plane at a time."""
    if isinstance(data, np.ndarray) or type(data).__module__.startswith("dask"):
        return data
    import dask.array as da

    if isinstance(data, LazyArray):
        chunks = tuple(n if a in "YXC" else 1 for a, n in zip(axes, data.shape, strict=True))
        return da.from_array(data, chunks=chunks, asarray=True, meta=np.empty((0,) * data.ndim, data.dtype))
    return da.from_array(data, chunks=getattr(data, "chunks", "auto"))


def _ordered(stack: Stack, rgb: bool) -> Stack:
    """Return the stack with napari's axis order (Y, X last), keeping lazy data lazy."""
    target = _napari_order(stack.axes, rgb)
    data = _lazy(stack.data, stack.axes)
    if target == stack.axes:
        return stack.with_data(data)
    order = [stack.axes.index(a) for a in target]
    moved = np.transpose(data, order) if isinstance(data, np.ndarray) else data.transpose(order)
    return Stack(moved, axes=target, metadata=stack.metadata)


def record_of(stack: Stack) -> dict[str, Any]:
    """Return the record a layer keeps in ``metadata["operando"]``: the metadata's dict and the axes."""
    return {**stack.metadata.to_dict(), "axes": stack.axes}


def default_name(stack: Stack, name: str | None = None) -> str:
    """Return a layer name: ``name``, else the source file's stem; with the energy when there is one energy."""
    base = name or (Path(str(stack.metadata.source).split(":")[0]).name if stack.metadata.source else "operando")
    for suffix in (".hdr", ".tif", ".tiff", ".zarr", ".nxs", ".h5", ".fits", ".xrm", ".txrm"):
        if name is None and base.lower().endswith(suffix):
            base = base[: -len(suffix)]
    energies = stack.metadata.energies
    if stack.has("E") and energies and len(energies) == 1 and "eV" not in base:
        base = f"{base} {energies[0]:g} eV"
    return base


def stack_to_layer(stack: Stack, name: str | None = None, **kwargs: Any) -> LayerData:
    """Return napari layer data ``(data, kwargs, "image")`` for a Stack.

    Parameters
    ----------
    stack : Stack
        The data and its metadata. Lazy data (Zarr, HDF5, :class:`~operando.io.LazyArray`) becomes a dask array,
        read plane by plane as napari shows it. Axes are reordered so that Y and X come last (a view, no copy).
    name : str, optional
        The layer name (default: the source file's name, with the energy when the stack has one energy).
    **kwargs
        Further layer settings (``colormap``, ``contrast_limits``, ``blending``, ...); they override the
        calibration computed here. A ``metadata`` dict is merged with the operando record.

    Returns
    -------
    (data, dict, str)
        napari layer data: the array, the layer settings (``name``, ``scale``, ``translate``, ``units``,
        ``axis_labels``, ``metadata`` with the record under ``"operando"``, and ``rgb`` for colour pictures),
        and ``"image"``.
    """
    rgb = _is_rgb(stack)
    ordered = _ordered(stack, rgb)
    calibrated = ordered
    scale, translate, units = axis_calibration(calibrated)
    keep = [i for i, a in enumerate(calibrated.axes) if not (rgb and a == "C")]
    extra_meta = dict(kwargs.pop("metadata", None) or {})
    settings: dict[str, Any] = {
        "name": default_name(stack, name),
        "scale": [scale[i] for i in keep],
        "translate": [translate[i] for i in keep],
        "units": [units[i] for i in keep],
        "axis_labels": [STANDARD_NAMES[calibrated.axes[i]] for i in keep],
        "metadata": {**extra_meta, RECORD_KEY: record_of(calibrated)},
    }
    if rgb:
        settings["rgb"] = True
    settings.update(kwargs)
    return calibrated.data, settings, "image"


def stack_to_layers(stack: Stack, name: str | None = None, **kwargs: Any) -> list[LayerData]:
    """Return layer data for a Stack, one layer per named channel (``x``, ``thickness_um``, ``sd_x``, ...).

    A stack whose C axis holds named channels (``metadata.extra["channels"]``) or is not a colour picture becomes
    one layer per channel, each with its own contrast and its record (axes without C, ``extra["channel"]`` its
    name); any other stack becomes the one layer of :func:`stack_to_layer`.

    Parameters
    ----------
    stack : Stack
        The data and metadata.
    name : str, optional
        The layer name, or the prefix of the channel layers' names.
    **kwargs
        Further layer settings, as for :func:`stack_to_layer`.

    Returns
    -------
    list of (data, dict, str)
        napari layer data, one per layer.
    """
    if not stack.has("C") or _is_rgb(stack):
        return [stack_to_layer(stack, name, **kwargs)]
    index = stack.axes.index("C")
    names = [str(c) for c in stack.metadata.extra.get("channels") or []]
    if len(names) != stack.size("C"):
        names = [f"c{i}" for i in range(stack.size("C"))]
    data = _lazy(stack.data, stack.axes)
    base = default_name(stack, name)
    extra = {k: v for k, v in stack.metadata.extra.items() if k != "channels"}
    layers = []
    for i, channel in enumerate(names):
        key = tuple(i if k == index else slice(None) for k in range(stack.ndim))
        meta = stack.metadata.replace(extra={**extra, "channel": channel})
        part = Stack(data[key], axes=stack.axes.replace("C", ""), metadata=meta)
        layers.append(stack_to_layer(part, f"{base} {channel}" if len(names) > 1 else base, **kwargs))
    return layers


def _settings_of(layer: Any) -> tuple[Any, Mapping[str, Any]]:
    """Return (data, settings) of a napari layer or a layer data tuple."""
    if isinstance(layer, tuple):
        data, settings = layer[0], (layer[1] if len(layer) > 1 and layer[1] else {})
        return data, settings
    settings = {"name": getattr(layer, "name", None), "metadata": getattr(layer, "metadata", {}),
                "scale": list(getattr(layer, "scale", [])), "translate": list(getattr(layer, "translate", [])),
                "units": [str(u) for u in getattr(layer, "units", [])],
                "axis_labels": list(getattr(layer, "axis_labels", [])), "rgb": getattr(layer, "rgb", False),
                "multiscale": getattr(layer, "multiscale", False)}
    return layer.data, settings


def _rebuilt_metadata(axes: str, settings: Mapping[str, Any], shape: tuple[int, ...]) -> Metadata:
    """Return metadata rebuilt from a layer's scale, translate and units (a layer operando did not make)."""
    ndim = len(shape)
    scale = list(settings.get("scale") or [1.0] * ndim)
    translate = list(settings.get("translate") or [0.0] * ndim)
    units = [str(u) for u in (settings.get("units") or [PLANE_UNIT] * ndim)]
    values: dict[str, Any] = {}
    spatial = [i for i, a in enumerate(axes) if a in "YX" and i < len(scale)]
    unit = _length_unit(units[spatial[-1]]) if spatial and len(units) == ndim else None
    if spatial and unit:
        values.update(pixel_size=float(scale[spatial[-1]]), pixel_unit=unit)
    for letter, key, wanted in (("T", "frame_times", "s"), ("E", "energies", "eV")):
        if letter in axes and len(scale) == ndim:
            i = axes.index(letter)
            if _same_unit(units[i], wanted):
                values[key] = tuple(float(translate[i] + k * scale[i]) for k in range(shape[i]))
    return Metadata(**values)


def _same_unit(unit: str, wanted: str) -> bool:
    """Return True when napari's unit name ``unit`` is ``wanted`` (``second`` is ``s``, ``electron_volt`` is eV)."""
    names = {"s": ("s", "second", "sec"), "eV": ("ev", "electron_volt", "electronvolt")}
    return unit.strip().lower() in names[wanted]


def layer_to_stack(layer: Any) -> Stack:
    """Return the Stack a napari image layer (or a layer data tuple) holds.

    Parameters
    ----------
    layer : napari.layers.Image or (data, dict, str)
        A layer; when its metadata holds operando's record (``metadata["operando"]`` with ``"axes"`` that fit the
        data) that record gives the axes and metadata; otherwise the axes come from ``axis_labels`` (operando's
        or other tools' names), then ``rgb``, then the usual assumption for the number of dimensions, and the pixel
        size, frame times and energies from ``scale``, ``translate`` and ``units``.

    Returns
    -------
    Stack
        The data (not copied; dask stays lazy) with axes and metadata.

    Raises
    ------
    InputError
        When the layer's axes cannot be told (more than 4 dimensions and no labels).
    """
    data, settings = _settings_of(layer)
    if settings.get("multiscale") or isinstance(data, list | tuple):
        data = data[0]
    shape = tuple(int(n) for n in data.shape)
    record = dict((settings.get("metadata") or {}).get(RECORD_KEY) or {})
    axes = record.get("axes")
    if isinstance(axes, str) and len(axes) == len(shape):
        return Stack(data, axes=axes, metadata=Metadata.from_dict(record))
    rgb = bool(settings.get("rgb"))
    labels = list(settings.get("axis_labels") or [])
    axes = axes_from_names(labels + (["c"] if rgb else [])) if labels else None
    if axes is None or len(axes) != len(shape):
        axes = ("TYXC" if len(shape) == 4 else "YXC") if rgb else assumed_axes(shape)
    if axes is None:
        raise InputError(f"layer {settings.get('name')!r}: cannot tell the axes of its {len(shape)}-D data of "
                         f"shape {shape}; label them (layer.axis_labels such as ('t', 'y', 'x'))")
    metadata = _rebuilt_metadata(axes.replace("C", "") if rgb else axes, settings, shape[:-1] if rgb else shape)
    return Stack(data, axes=axes, metadata=metadata.replace(original_dtype=str(np.dtype(data.dtype))))
