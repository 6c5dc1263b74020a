"""Write a Stack to any writable registered format, atomically, keeping shape and dtype."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np

from .._errors import InputError
from .._stack import Stack, as_stack, convert_dtype
from ._formats import FORMATS, format_of
from ._paths import same_path

logger = logging.getLogger(__name__)


def output_array(stack: Stack, dtype: Literal["input", "float32"] | str | np.dtype) -> np.ndarray:
    """Return the array to write: the input file's dtype by default, or the dtype asked for."""
    data = stack.to_numpy()
    if isinstance(dtype, str) and dtype == "input":
        original = stack.metadata.original_dtype
        return convert_dtype(data, np.dtype(original)) if original else data
    return convert_dtype(data, np.dtype(dtype))


def write(
    stack: Stack | np.ndarray,
    path: str | os.PathLike,
    *,
    axes: str | None = None,
    dtype: Literal["input", "float32"] | str = "input",
) -> Path:
    """Write a stack to a file, atomically (a temporary file renamed into place).

    Parameters
    ----------
    stack : Stack or ndarray
        The data. An array needs ``axes`` unless it is 2-D.
    path : str or path
        Output file; its ending picks the format (``.tif``, ``.ome.tif``, ``.btf``, ``.zarr``,
        ``.h5`` / ``.h5:/group/name``, ``.npy``, and the other writable formats of
        :data:`operando.io.FORMATS`). TIFF switches to BigTIFF for data over ~4 GiB.
    axes : str, optional
        Axis letters when ``stack`` is a plain array.
    dtype : {"input", "float32"} or dtype
        ``"input"`` (default) writes the dtype the data was read as: float results from an integer
        input are rounded and clipped back into that integer type. ``"float32"`` keeps floats.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        If ``path`` is the file the stack was read from (operando never overwrites its input) or names a
        format operando cannot write.
    """
    stack = as_stack(stack, axes=axes)
    text = os.fspath(path)
    fmt, file, inner = format_of(text)
    if not fmt.writable:
        endings = " ".join(s for f in FORMATS if f.writable for s in f.suffixes)
        raise InputError(f"{text}: operando cannot write {fmt.description}; give an output file ending in "
                         f"one of {endings}")
    if same_path(text, stack.metadata.source):
        raise InputError(f"{text}: refusing to overwrite the input file; choose another output path")
    data = output_array(stack, dtype)
    fmt.load().write(stack, data, file, inner)
    logger.debug("wrote %s: shape %s dtype %s", text, data.shape, data.dtype)
    return file
