"""Bring any Stack into the working layout (B, S, C, Y, X) float32 and back to its own axes and dtype."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from .._stack import Stack, check_finite, convert_dtype


@dataclass(frozen=True)
class Layout:
    """How a stack was rearranged: the sequence axis, the batch axes and the original order."""

    axes: str
    order: str
    shape: tuple[int, ...]
    sequence_axis: str | None
    dtype: np.dtype


def sequence_axis_of(axes: str) -> str | None:
    """Return the axis a video denoiser slides its window along: T, else E, else Z (None for single images).

    Parameters
    ----------
    axes : str
        Axis letters of a Stack.

    Returns
    -------
    str or None
        T, E or Z; None for single images.
    """
    for a in "TEZ":
        if a in axes:
            return a
    return None


def to_working(stack: Stack, *, min_size: int = 4) -> tuple[np.ndarray, Layout]:
    """Return float32 data shaped (B, S, C, Y, X) and the layout needed to undo it.

    Parameters
    ----------
    stack : Stack
        Any image, video or spectral stack (finite values).
    min_size : int
        Smallest allowed frame side, in pixels.

    Returns
    -------
    work : ndarray, shape (B, S, C, Y, X), float32
        The data in the working layout.
    layout : Layout
        How to undo it.
    """
    data = stack.to_numpy()
    check_finite(data, source=stack.metadata.source or "input")
    if stack.size("Y") < min_size or stack.size("X") < min_size:
        raise InputError(
            f"images of {stack.size('Y')} x {stack.size('X')} pixels are too small to denoise; "
            f"need at least {min_size} x {min_size}"
        )
    seq = sequence_axis_of(stack.axes)
    batch = "".join(a for a in "TEZ" if a in stack.axes and a != seq)
    order = batch + (seq or "") + ("C" if "C" in stack.axes else "") + "YX"
    arr = stack.transpose(order).to_numpy().astype(np.float32, copy=False)  # read-only use: no copy needed
    n_b = int(np.prod([stack.size(a) for a in batch])) if batch else 1
    arr = arr.reshape(n_b, stack.size(seq) if seq else 1, stack.size("C"), stack.size("Y"), stack.size("X"))
    layout = Layout(axes=stack.axes, order=order, shape=stack.shape, sequence_axis=seq, dtype=stack.dtype)
    return arr, layout


def from_working(arr: np.ndarray, layout: Layout, like: Stack) -> Stack:
    """Undo :func:`to_working`: reshape, reorder to the input's axes, and cast to the input's dtype.

    Parameters
    ----------
    arr : ndarray, shape (B, S, C, Y, X)
        Data in the working layout.
    layout : Layout
        From :func:`to_working`.
    like : Stack
        The original stack (its metadata is kept).

    Returns
    -------
    Stack
        The input's axes, shape and dtype.
    """
    order_shape = tuple(like.size(a) for a in layout.order)
    out = Stack(arr.reshape(order_shape), axes=layout.order, metadata=like.metadata).transpose(layout.axes)
    return Stack(convert_dtype(out.to_numpy(), layout.dtype), axes=layout.axes, metadata=like.metadata)


def with_record(stack: Stack, record: dict) -> Stack:
    """Attach ``record`` as ``metadata.extra["denoise"]`` (how it was denoised: method, config, seed).

    Parameters
    ----------
    stack : Stack
        A denoised stack.
    record : dict
        JSON-ready description of the run.

    Returns
    -------
    Stack
        The same data with the record in its metadata.
    """
    meta = stack.metadata.replace(extra={**stack.metadata.extra, "denoise": record})
    return Stack(stack.data, axes=stack.axes, metadata=meta)
