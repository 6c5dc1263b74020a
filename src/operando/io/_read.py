"""Read any registered file format into a Stack, with axes the file records or the caller gives."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._errors import AxesAssumedWarning, InputError
from .._stack import Metadata, Stack, check_finite, validate_axes
from ._formats import format_of

logger = logging.getLogger(__name__)

#: Axis names other tools write (Zarr v3 ``dimension_names``, OME-Zarr ``axes``, NeXus ``axes``), by letter.
AXIS_NAMES: dict[str, tuple[str, ...]] = {
    "T": ("t", "time", "times", "frame", "frames", "frame_time", "timestamp"),
    "E": ("e", "energy", "energies", "photon_energy", "energy_ev"),
    "C": ("c", "channel", "channels", "rgb", "colour", "color"),
    "Z": ("z", "depth", "sample_z", "slice"),
    "Y": ("y", "sample_y", "row", "rows"),
    "X": ("x", "sample_x", "col", "column", "columns"),
}
#: The name operando writes for each axis letter (``dimension_names``, NeXus ``axes``).
STANDARD_NAMES = {"T": "t", "E": "energy", "C": "c", "Z": "z", "Y": "y", "X": "x"}


def axes_from_names(names: Sequence[Any] | None) -> str | None:
    """Translate axis names written by other tools to operando letters.

    Parameters
    ----------
    names : sequence of str, or str
        Names per dimension (``["t", "y", "x"]``, a Zarr v3 ``dimension_names``) or a NeXus ``axes`` string
        (``"energy:sample_y:sample_x"``).

    Returns
    -------
    str or None
        The letters (``"EYX"``), or None when a name is missing, unknown or repeated.
    """
    if names is None:
        return None
    if isinstance(names, bytes):
        names = names.decode()
    if isinstance(names, str):
        names = names.replace(",", ":").split(":") if (":" in names or "," in names) else [names]
    letters = []
    for name in names:
        text = (name.decode() if isinstance(name, bytes) else str(name) if name is not None else "").strip().lower()
        letter = next((k for k, v in AXIS_NAMES.items() if text in v), None)
        if letter is None:
            return None
        letters.append(letter)
    joined = "".join(letters)
    return joined if len(set(joined)) == len(joined) and "Y" in joined and "X" in joined else None


class LazyArray:
    """A read-only array on disk that opens its file for each read, so no file handle stays open.

    ``reader(key)`` returns ``data[key]`` for a tuple of slices/integers; it must be picklable (a module-level
    function or ``functools.partial`` of one), so that Dask can send the array to other processes.
    """

    def __init__(self, reader: Callable[[Any], np.ndarray], shape: tuple[int, ...], dtype: Any) -> None:
        self.reader = reader
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the whole array would take in memory."""
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self.reader(key))

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr = self[...]
        return arr.astype(dtype) if dtype is not None else arr

    def __repr__(self) -> str:
        return f"LazyArray(shape={self.shape}, dtype={self.dtype})"


def assumed_axes(shape: tuple[int, ...]) -> str | None:
    """Return the axes assumed for data whose file does not record them.

    Parameters
    ----------
    shape : tuple of int
        Shape of the data.

    Returns
    -------
    str or None
        ``YX``, ``TYX``, ``YXC`` or ``TYXC`` (3 or 4 channels last), or None when nothing is safe to assume.
    """
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


def read(path: str | os.PathLike, *, axes: str | None = None, lazy: bool = False, allow_nan: bool = False,
         allow_missing: bool | str = False) -> Stack:
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
    allow_missing : bool or "fill"
        Zarr stores: a stored chunk missing from the store, or one that cannot be decoded, is refused by
        default (it would read as zeros). ``True`` reads such chunks as NaN (integer data becomes float) with a
        note, recorded in ``metadata.extra["missing_chunks"]``; ``"fill"`` reads missing chunks as the array's
        fill value (for stores whose writer skipped chunks equal to it). Other formats ignore it.

    Returns
    -------
    Stack
        The data as stored (dtype unchanged) with named axes and metadata.

    Raises
    ------
    InputError
        Unknown file type, unreadable file, axes that do not fit, NaN/inf pixels, or missing or damaged
        chunks of a Zarr store.
    """
    text = os.fspath(path)
    fmt, file, inner = format_of(text)
    if fmt.name != "frames" and not file.exists():
        raise InputError(f"{file}: no such file or folder; check the path")
    options = {"allow_missing": allow_missing, "allow_nan": allow_nan} if fmt.name == "zarr" else {}
    try:
        raw = fmt.load().read(file, inner, lazy=lazy, **options)
    except (InputError, OSError, MemoryError, ImportError):
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file makes a reader's library fail in its own way
        raise InputError(f"{file}: cannot be read as {fmt.description} ({type(exc).__name__}: {exc}); the file is "
                         "damaged, incomplete or of another kind: check it, or convert it with its instrument's "
                         "software") from None
    shape = tuple(int(n) for n in raw.data.shape)
    if len(shape) < 2:
        raise InputError(f"{text}: data of shape {shape} is not an image; need at least 2 dimensions")
    chosen, assumed = _choose_axes(text, shape, axes, raw.axes)
    masked = bool(dict(raw.meta.get("extra") or {}).get("missing_chunks"))  # NaN there by request, rest checked
    if not allow_nan and not lazy and not masked:
        check_finite(raw.data, source=text)
    meta = Metadata.from_dict(raw.meta)
    if assumed:
        meta = meta.replace(extra={**meta.extra, "axes_assumed": chosen})
    metadata = meta.replace(source=text, original_dtype=str(np.dtype(raw.data.dtype)))
    logger.debug("read %s: shape %s axes %s dtype %s", text, shape, chosen, raw.data.dtype)
    return Stack(raw.data, axes=chosen, metadata=metadata)


def increasing_times(seconds) -> tuple[float, ...] | None:
    """Return one time per frame as seconds since the first, or None unless there are two or more, increasing.

    Parameters
    ----------
    seconds : sequence of float or datetime.datetime
        Times in seconds, or the scans' start stamps.

    Returns
    -------
    tuple of float or None
        Seconds since the first frame.
    """
    values = list(seconds or ())
    if len(values) < 2:
        return None
    times = tuple(float((v - values[0]).total_seconds()) if hasattr(v, "tzinfo") else float(v) - float(values[0])
                  for v in values)
    return times if all(b > a for a, b in zip(times, times[1:], strict=False)) else None
