"""NumPy ``.npy`` files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._errors import InputError
from .._files import atomic_path
from .._stack import Stack
from ._formats import Raw


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read a ``.npy`` file (memory-mapped when ``lazy``)."""
    try:
        data = np.load(file, allow_pickle=False, mmap_mode="r" if lazy else None)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{file}: not a readable .npy file ({exc or 'empty'}); check the file is complete") from None
    return Raw(data)


def write(stack: Stack, data: np.ndarray, file: Path, inner: str | None) -> None:
    """Write ``data`` as a ``.npy`` file, atomically."""
    with atomic_path(file) as tmp, open(tmp, "wb") as fh:
        np.save(fh, data, allow_pickle=False)
