"""Memory as a parameter: parse ``2GB``, the default limit, and the chunk plan it implies."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..._errors import InputError

_UNITS = {"": 1, "B": 1, "K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
#: Share of the machine's available memory used when no limit is given.
DEFAULT_FRACTION = 0.5
#: Bytes held per float32 frame of a chunk (input, float copy, working layout, prediction, output) plus the
#: network's activations, measured with ``benchmarks/scale_benchmark.py`` (see docs/large-data.md).
COPIES_PER_FRAME = 6
#: Target size of one stored Zarr chunk of the output.
STORE_CHUNK_BYTES = 16 * 2**20


def parse_memory(text: str | int | float) -> int:
    """Parse a memory size such as ``"2GB"``, ``"500MB"``, ``"1.5GiB"`` or a number of bytes.

    Parameters
    ----------
    text : str or number
        The size; decimal units (KB, MB, GB, TB = powers of 1000) or binary ones (KiB, MiB, GiB, TiB).

    Returns
    -------
    int
        Bytes.
    """
    if isinstance(text, (int, float)):
        value, unit = float(text), ""
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(text))
        if not match or match.group(2).upper() not in _UNITS:
            raise InputError(f"memory limit {text!r} is not a size; write it like 2GB, 500MB or 1.5GiB")
        value, unit = float(match.group(1)), match.group(2).upper()
    size = int(value * _UNITS[unit])
    if size < 2**16:
        raise InputError(f"memory limit {text!r} is below 64 KiB; give at least a few MB, e.g. 500MB")
    return size


def default_memory_limit(fraction: float = DEFAULT_FRACTION) -> int:
    """Return the default memory limit: ``fraction`` of the memory the machine has available now.

    Parameters
    ----------
    fraction : float
        Share of ``psutil.virtual_memory().available``.

    Returns
    -------
    int
        Bytes.
    """
    import psutil

    return int(fraction * psutil.virtual_memory().available)


@dataclass(frozen=True)
class ChunkPlan:
    """How a stack is cut along its sequence axis: task chunks, their halo, and the stored Zarr chunks."""

    seq_axis: int | None  # index of the axis cut into chunks (T, else E, else Z); None: one chunk
    length: int  # frames along that axis
    chunk_frames: int  # frames per task (a multiple of store_frames)
    halo: int  # frames read on each side of a task for the temporal window
    store_chunks: tuple[int, ...]  # Zarr chunk shape of the output

    @property
    def n_chunks(self) -> int:
        """Number of task chunks."""
        return -(-self.length // self.chunk_frames)

    def bounds(self, i: int) -> tuple[int, int]:
        """Return the frames ``[start, stop)`` chunk ``i`` writes."""
        start = i * self.chunk_frames
        return start, min(start + self.chunk_frames, self.length)

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ChunkPlan:
        """Rebuild a plan from :meth:`to_dict`."""
        return cls(**{**values, "store_chunks": tuple(values["store_chunks"])})


def _human(n: float, *, up: bool = False) -> str:
    """Return a size as ``850KB``, ``12.5MB`` or ``2.1GB`` (rounded up with ``up``, for a minimum)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale or unit == "KB":
            value = n / scale
            value = -(-value * 10 // 1) / 10 if up else round(value, 1)
            return f"{value:g}{unit}"
    return f"{n}B"


def sequence_axis(axes: str) -> int | None:
    """Return the index of the axis cut into chunks: T, else E, else Z (None for single images)."""
    for letter in "TEZ":
        if letter in axes:
            return axes.index(letter)
    return None


def _balanced(length: int, chunk: int, store: int, spread: int, halo: int) -> tuple[int, int]:
    """Return (chunk, store) frames cutting ``length`` into a multiple of ``spread`` chunks of equal work.

    The number of chunks is the fewest the memory allows (``length / chunk``, rounded up) raised to a multiple of
    ``spread``, but no chunk shorter than ``4 halo`` frames (each chunk reads ``2 halo`` frames more than it writes:
    many workers on a short stack would otherwise recompute more halo than they save); the stored Zarr chunk is
    shrunk (never grown) so that it divides the task chunk, so every task still writes whole Zarr chunks of its
    own and no two workers ever write the same one.
    """
    fewest = -(-length // chunk)
    n = min(-(-fewest // spread) * spread, max(fewest, length // max(4 * halo, 1)))
    chunk = max(1, -(-length // n))
    store = -(-chunk // -(-chunk // store))  # the largest piece <= store that cuts chunk into equal parts
    return -(-chunk // store) * store, store


def plan_chunks(shape: tuple[int, ...], axes: str, *, halo: int, memory_limit: int, workers: int = 1,
                out_itemsize: int = 4, spread: int = 1) -> ChunkPlan:
    """Choose task and store chunks so that ``workers`` chunks in flight fit ``memory_limit``.

    Parameters
    ----------
    shape, axes : tuple of int, str
        The input stack.
    halo : int
        Frames needed on each side of a chunk (the model's temporal window, or a filter's radius).
    memory_limit : int
        Bytes for the data in flight (the Python and torch runtime come on top).
    workers : int
        Chunks processed at the same time.
    out_itemsize : int
        Bytes per output value.
    spread : int
        Chunks run at the same time by a Dask cluster (its workers). Above 1, the stack is cut into a multiple of
        ``spread`` chunks of equal length (as few as the memory allows), so that every worker gets the same share:
        otherwise a stack that fits one chunk (120 x 512 x 512 under the default limit: chunks of 112 and 8
        frames) runs almost entirely on one worker. 1: the fewest chunks the memory allows.

    Returns
    -------
    ChunkPlan
        The plan.
    """
    seq = sequence_axis(axes)
    length = shape[seq] if seq is not None else 1
    frame_values = int(np.prod([n for i, n in enumerate(shape) if i != seq]))
    per_frame = COPIES_PER_FRAME * 4 * frame_values
    fit = int(memory_limit // max(workers, 1) // per_frame) - 2 * halo
    if seq is not None and fit < 1:
        need = (1 + 2 * halo) * per_frame * max(workers, 1)
        raise InputError(f"memory limit of {_human(memory_limit)} is too small for frames of {frame_values} values "
                         f"with a halo of {halo} frames; give at least --memory-limit {_human(need, up=True)}")
    chunk = max(1, min(fit, length))
    store = max(1, min(chunk, STORE_CHUNK_BYTES // max(frame_values * out_itemsize, 1)))
    chunk = max(store, chunk // store * store)
    if seq is not None and spread > 1 and length > 1:
        chunk, store = _balanced(length, chunk, store, min(int(spread), length), halo)
    store_chunks = tuple(store if i == seq else min(n, 4096) for i, n in enumerate(shape))
    return ChunkPlan(seq_axis=seq, length=length, chunk_frames=chunk, halo=halo if seq is not None else 0,
                     store_chunks=store_chunks)
