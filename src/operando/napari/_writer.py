"""The napari writer: image layers to operando's formats (``.tif``, ``.zarr``, ``.nxs``) via :func:`operando.io.write`.

Each layer becomes a Stack (:func:`operando.napari._layers.layer_to_stack`): its record in ``metadata["operando"]``
when it has one, else axes, pixel size, frame times and energies rebuilt from its axis labels, scale and units.
Several layers of one shape (the ``x``, ``thickness_um``, ``sd_x`` channels of a composition read back) are
written as one file with a C axis naming them; layers of different shapes as one file each (``name_layer.tif``).
The data is written in the layer's dtype. The file a layer was read from is never overwritten.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import refuse_to_overwrite
from .._stack import Stack
from ..io import write
from ._layers import RECORD_KEY, LayerData, layer_to_stack

#: The endings napari offers for this writer (``napari.yaml``); a path without one gets ``.tif``.
ENDINGS = (".tif", ".tiff", ".zarr", ".nxs")


def _channel_name(layer: LayerData, stack: Stack) -> str:
    """Return the name a layer's plane gets in a C axis: its record's channel, else the layer name."""
    channel = stack.metadata.extra.get("channel")
    return str(channel) if channel else str((layer[1] or {}).get("name") or "c")


def combined(layers: Sequence[LayerData]) -> Stack:
    """Return one Stack of several image layers of one shape and axes, stacked along a new C axis.

    Parameters
    ----------
    layers : sequence of (data, dict, str)
        napari layer data, same shape and axes, no C axis.

    Returns
    -------
    Stack
        Axes with C after T and E (``CYX``, ``TCYX``), ``metadata.extra["channels"]`` naming the planes; the
        other metadata are the first layer's.
    """
    stacks = [layer_to_stack(layer) for layer in layers]
    first = stacks[0]
    names = [_channel_name(layer, stack) for layer, stack in zip(layers, stacks, strict=True)]
    lead = len(first.axes) - len(first.axes.lstrip("TE"))
    axes = first.axes[:lead] + "C" + first.axes[lead:]
    data = np.stack([np.asarray(s.to_numpy()) for s in stacks], axis=lead)
    extra = {k: v for k, v in first.metadata.extra.items() if k != "channel"}
    return Stack(data, axes=axes, metadata=first.metadata.replace(extra={**extra, "channels": names}))


def _target(path: str, name: str | None = None) -> str:
    """Return the output path (``.tif`` added when it has no ending), per layer when ``name`` is given."""
    text = os.fspath(path)
    ending = next((e for e in ENDINGS if text.lower().endswith(e)), None)
    if ending is None and os.path.splitext(text)[1]:
        raise InputError(f"{text}: the napari writer of operando writes {', '.join(ENDINGS)}; choose one of them")
    if ending is None:
        text, ending = text + ".tif", ".tif"
    if name is None:
        return text
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "layer"
    return f"{text[: -len(ending)]}_{safe}{ending}"


def _write_stack(stack: Stack, path: str) -> str:
    """Write one Stack in its own dtype; refuse its source file (operando's output guard, in io.write)."""
    return os.fspath(write(stack, path, dtype=str(stack.dtype)))


def _same_grid(stacks: Sequence[Stack]) -> bool:
    first = stacks[0]
    return all(s.shape == first.shape and s.axes == first.axes and not s.has("C") for s in stacks)


def write_layers(path: str, layer_data: list[tuple[Any, dict, str]]) -> list[str]:
    """Write napari image layers to ``path`` in the format its ending names; return the files written.

    Parameters
    ----------
    path : str
        ``.tif`` / ``.tiff`` (ImageJ or OME-TIFF, as :func:`operando.io.write` chooses), ``.zarr`` or ``.nxs``.
    layer_data : list of (data, dict, str)
        napari's layer data tuples; only image layers are written.

    Returns
    -------
    list of str
        The files written (napari shows them).

    Raises
    ------
    InputError
        When there is no image layer, when ``path`` is a layer's source file, or when the data does not fit the
        format.
    """
    images = [layer for layer in layer_data if len(layer) > 2 and layer[2] == "image"]
    if not images:
        raise InputError(f"{path}: operando writes image layers; select at least one")
    stacks = [layer_to_stack(layer) for layer in images]
    if len(images) == 1:
        return [_write_stack(stacks[0], _target(path))]
    if _same_grid(stacks):
        refuse_to_overwrite(_target(path), *(s.metadata.source for s in stacks))  # any layer's source
        return [_write_stack(combined(images), _target(path))]
    names = [str((layer[1] or {}).get("name") or f"layer{i}") for i, layer in enumerate(images)]
    return [_write_stack(stack, _target(path, name)) for stack, name in zip(stacks, names, strict=True)]


__all__ = ["RECORD_KEY", "combined", "write_layers"]
