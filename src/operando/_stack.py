"""The Stack type: an array with named axes and acquisition metadata."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._errors import InputError
from ._progress import Progress  # noqa: F401  (re-exported: the type of every job's ``progress`` argument)

#: Axis letters operando understands: time, photon energy, channel, depth, rows, columns.
AXIS_LETTERS = "TECZYX"
#: Canonical order of axes; ``Stack.transpose`` sorts into it by default.
CANONICAL_ORDER = "TEZYXC"


@dataclass(frozen=True)
class Metadata:
    """Acquisition metadata that travels with a stack.

    Attributes
    ----------
    pixel_size : float or None
        Size of one pixel along Y and X, in ``pixel_unit``.
    pixel_unit : str or None
        Unit of ``pixel_size`` (``"um"``, ``"nm"``, ...).
    frame_times : tuple of float or None
        Time of each frame along ``T``, in seconds.
    energies : tuple of float or None
        Photon energy of each plane along ``E``, in eV.
    source : str or None
        The file the data was read from.
    original_dtype : str or None
        The dtype of the data as it was read, so writers can convert back.
    extra : dict
        Anything else (JSON-serialisable) a reader found or a workflow wants to keep.
    """

    pixel_size: float | None = None
    pixel_unit: str | None = None
    frame_times: tuple[float, ...] | None = None
    energies: tuple[float, ...] | None = None
    source: str | None = None
    original_dtype: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Metadata:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the metadata as a JSON-serialisable dict."""
        out = dataclasses.asdict(self)
        for key in ("frame_times", "energies"):
            if out[key] is not None:
                out[key] = [float(v) for v in out[key]]
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Metadata:
        """Build metadata from a dict written by :meth:`to_dict`, ignoring unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in values.items() if k in known}
        for key in ("frame_times", "energies"):
            if kept.get(key) is not None:
                kept[key] = tuple(float(v) for v in kept[key])
        return cls(**kept)


def validate_axes(axes: str, ndim: int, *, source: str = "array") -> str:
    """Check an axes string against an array's number of dimensions and return it upper-cased."""
    if not isinstance(axes, str):
        raise InputError(f"{source}: axes must be a string such as 'TYX', got {axes!r}")
    axes = axes.upper()
    bad = sorted(set(axes) - set(AXIS_LETTERS))
    if bad:
        raise InputError(
            f"{source}: unknown axis letter(s) {''.join(bad)!r} in axes={axes!r}; "
            f"use letters from {AXIS_LETTERS!r} (T time, E energy, C channel, Z depth, Y rows, X columns)"
        )
    if len(set(axes)) != len(axes):
        raise InputError(f"{source}: repeated axis letter in axes={axes!r}; name each axis once")
    if len(axes) != ndim:
        raise InputError(
            f"{source}: axes={axes!r} names {len(axes)} axes but the data has {ndim} "
            f"dimensions; pass axes with one letter per dimension"
        )
    if "Y" not in axes or "X" not in axes:
        raise InputError(f"{source}: axes={axes!r} must contain both 'Y' and 'X'")
    return axes


def convert_dtype(data: np.ndarray, target: np.dtype | str) -> np.ndarray:
    """Convert ``data`` to the dtype ``target``.

    Parameters
    ----------
    data : ndarray
        The array to convert.
    target : dtype
        The dtype wanted. Floats going to integers are rounded and clipped to the type's range (a denoised
        uint16 image stays a valid uint16 image); to bool, values above 0.5 are True.

    Returns
    -------
    ndarray
        ``data`` itself when it already has that dtype, else a converted copy.
    """
    target = np.dtype(target)
    if data.dtype == target:
        return data
    if target.kind in "ui" and data.dtype.kind == "f":
        info = np.iinfo(target)
        return np.clip(np.rint(data), info.min, info.max).astype(target)
    if target == np.bool_:
        return data > 0.5
    return data.astype(target)


def check_finite(data: np.ndarray, *, source: str = "array") -> None:
    """Raise :class:`InputError` if a floating-point array holds NaN or infinite values."""
    arr = np.asarray(data)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        n_bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise InputError(
            f"{source}: {n_bad} NaN or infinite pixel(s); replace them first "
            f"(e.g. numpy.nan_to_num or an inpainting step) or mask them out"
        )


@dataclass(frozen=True)
class Stack:
    """An image, a video or a spectral stack, with named axes and metadata.

    Parameters
    ----------
    data : array_like
        A numpy array, or a lazy array (zarr, dask) with ``shape``, ``dtype`` and ``__getitem__``.
    axes : str
        One letter per dimension from ``"TECZYX"``; must contain ``Y`` and ``X``.
    metadata : Metadata, optional
        Acquisition metadata.

    Examples
    --------
    >>> import numpy as np
    >>> s = Stack(np.zeros((4, 8, 8), np.float32), axes="TYX")
    >>> s.size("T")
    4
    """

    data: Any
    axes: str
    metadata: Metadata = field(default_factory=Metadata)

    def __post_init__(self) -> None:
        if not hasattr(self.data, "shape") or not hasattr(self.data, "dtype"):
            object.__setattr__(self, "data", np.asarray(self.data))
        axes = validate_axes(self.axes, len(self.data.shape), source=self.metadata.source or "array")
        object.__setattr__(self, "axes", axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the data."""
        return tuple(int(n) for n in self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        """Dtype of the data."""
        return np.dtype(self.data.dtype)

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    def has(self, axis: str) -> bool:
        """Return True if the stack has the axis ``axis``."""
        return axis.upper() in self.axes

    def size(self, axis: str) -> int:
        """Return the length of axis ``axis`` (1 if the stack has no such axis)."""
        axis = axis.upper()
        return self.shape[self.axes.index(axis)] if axis in self.axes else 1

    def to_numpy(self) -> np.ndarray:
        """Return the data as an in-memory numpy array (reads lazy data)."""
        return np.asarray(self.data[...]) if not isinstance(self.data, np.ndarray) else self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr = self.to_numpy()
        return arr.astype(dtype) if dtype is not None else arr

    def with_data(self, data: Any, axes: str | None = None) -> Stack:
        """Return a new stack holding ``data`` with the same metadata (and the same axes by default)."""
        return Stack(data, axes=axes or self.axes, metadata=self.metadata)

    def transpose(self, axes: str | None = None) -> Stack:
        """Return the stack with its axes reordered to ``axes`` (default: canonical ``TEZYXC`` order)."""
        target = axes.upper() if axes else "".join(a for a in CANONICAL_ORDER if a in self.axes)
        if sorted(target) != sorted(self.axes):
            raise InputError(f"cannot reorder axes {self.axes!r} to {target!r}: they must hold the same letters")
        order = [self.axes.index(a) for a in target]
        return Stack(np.transpose(self.to_numpy(), order), axes=target, metadata=self.metadata)

    def __repr__(self) -> str:
        src = f", source={self.metadata.source!r}" if self.metadata.source else ""
        return f"Stack(shape={self.shape}, axes={self.axes!r}, dtype={self.dtype}{src})"


def as_stack(data: Any, *, axes: str | None = None) -> Stack:
    """Return ``data`` as a :class:`Stack`.

    Parameters
    ----------
    data : Stack or array_like
        A stack (returned as is, or re-labelled if ``axes`` is given) or an array.
    axes : str, optional
        Axis letters for an array. May be omitted only for a 2-D array (taken as ``"YX"``).

    Returns
    -------
    Stack
        The stack; an array is wrapped without copying.

    Raises
    ------
    InputError
        If ``axes`` is missing for an array of more than two dimensions, or does not fit it.
    """
    if isinstance(data, Stack):
        if axes is None or axes.upper() == data.axes:
            return data
        return Stack(data.data, axes=axes, metadata=data.metadata)
    arr = data if hasattr(data, "shape") and hasattr(data, "dtype") else np.asarray(data)
    if axes is None:
        if len(arr.shape) != 2:
            raise InputError(
                f"an array of shape {tuple(arr.shape)} needs axes=..., e.g. axes='TYX' for a video "
                f"or axes='YXC' for an RGB image"
            )
        axes = "YX"
    return Stack(arr, axes=axes, metadata=Metadata(original_dtype=str(np.dtype(arr.dtype))))
