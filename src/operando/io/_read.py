"""Read any registered file format into a Stack, with axes the file records or the caller gives."""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np

from .._errors import AxesAssumedWarning, InputError
from .._stack import Metadata, Stack, check_finite, validate_axes
from ._formats import format_of

logger = logging.getLogger(__name__)


def assumed_axes(shape: tuple[int, ...]) -> str | None:
    """The axes assumed for data whose file does not record them: YX, TYX, or TYXC with 3/4 channels."""
    ndim = len(shape)
    if ndim == 2:
        return "YX"
    if ndim == 3:
        return "YXC" if shape[-1] in (3, 4) and min(shape[:2]) > 4 else "TYX"
    if ndim == 4 and shape[-1] in (3, 4):
        return "TYXC"
    return None


def _choose_axes(text: str, shape: tuple[int, ...], given: str | None, recorded: str | None) -> tuple[str, bool]:
    """Return the axes to use and whether they were assumed (neither given nor recorded in the file)."""
    if given:
        return validate_axes(given, len(shape), source=text), False
    if recorded:
        return validate_axes(recorded, len(shape), source=text), False
    guess = assumed_axes(shape)
    if guess is None:
        raise InputError(f"{text}: the file does not record the axes of its {len(shape)}-D data of shape "
                         f"{shape}; pass axes=... (command line: --axes), e.g. 'TCYX'")
    if len(shape) > 2:
        warnings.warn(f"{text}: the file does not record its axes; reading shape {shape} as {guess!r} "
                      f"(pass axes=... or --axes, e.g. 'EYX' for an energy stack, to change it)",
                      AxesAssumedWarning, stacklevel=3)
    return guess, len(shape) > 2


def read(path: str | os.PathLike, *, axes: str | None = None, lazy: bool = False, allow_nan: bool = False) -> Stack:
    """Read an image, video or spectral stack from a file.

    Parameters
    ----------
    path : str or path
        A file of any registered format (:data:`operando.io.FORMATS`): TIFF/OME-TIFF/BigTIFF, a Zarr store
        (``data.zarr`` or ``data.zarr:/array``), an HDF5 or NeXus dataset (``file.h5:/entry/data``), a ``.npy``
        file, or a folder or glob of numbered TIFF frames (stacked along ``T`` in natural order).
    axes : str, optional
        Axis letters from ``"TECZYX"``, overriding what the file says. For a file that records no axes, a 3-D
        or 4-D layout is assumed (``TYX``, ``YXC``, ``TYXC``) with an :class:`~operando.AxesAssumedWarning`
        naming the assumption, and ``metadata.extra["axes_assumed"]`` is set.
    lazy : bool
        Keep the data on disk (Zarr, HDF5, memory-mapped NPY) and read it on access.
    allow_nan : bool
        Accept NaN or infinite pixels (they are refused by default).

    Returns
    -------
    Stack
        The data as stored (dtype unchanged) with named axes and metadata.

    Raises
    ------
    InputError
        Unknown file type, unreadable file, axes that do not fit, or NaN/inf pixels.
    """
    text = os.fspath(path)
    fmt, file, inner = format_of(text)
    if fmt.name != "frames" and not file.exists():
        raise InputError(f"{file}: no such file or folder; check the path")
    raw = fmt.load().read(file, inner, lazy=lazy)
    shape = tuple(int(n) for n in raw.data.shape)
    if len(shape) < 2:
        raise InputError(f"{text}: data of shape {shape} is not an image; need at least 2 dimensions")
    chosen, assumed = _choose_axes(text, shape, axes, raw.axes)
    if not allow_nan and not lazy:
        check_finite(raw.data, source=text)
    meta = Metadata.from_dict(raw.meta)
    if assumed:
        meta = meta.replace(extra={**meta.extra, "axes_assumed": chosen})
    metadata = meta.replace(source=text, original_dtype=str(np.dtype(raw.data.dtype)))
    logger.debug("read %s: shape %s axes %s dtype %s", text, shape, chosen, raw.data.dtype)
    return Stack(raw.data, axes=chosen, metadata=metadata)
