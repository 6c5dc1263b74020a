"""Write a Stack to any writable registered format, atomically, keeping shape and dtype."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from .._errors import InputError
from .._stack import Stack, as_stack, convert_dtype
from ._formats import FORMATS, format_of
from ._paths import same_path

logger = logging.getLogger(__name__)


#: Error numbers that mean the disk (or the process's file-size limit, ``ulimit -f``) is full.
FULL_DISK = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _size_limited() -> bool:
    """Return True when this process has a finite file-size limit (``ulimit -f``)."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return False
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return soft != resource.RLIM_INFINITY


@contextlib.contextmanager
def disk_errors(file: str | os.PathLike) -> Iterator[None]:
    """Report a full disk while writing ``file`` as an :class:`OSError` with its error number and the final name.

    numpy's ``tofile`` (used by tifffile and astropy) reports a short write as ``OSError("N requested and M
    written")`` without an error number; a full disk met by a library names its temporary file. Both become
    ``OSError(ENOSPC or EFBIG, ..., file)``, which the command line prints as one line saying the disk is full.

    Parameters
    ----------
    file : str or path
        The output being written (its final name, for the message).

    Yields
    ------
    None
    """
    try:
        yield
    except OSError as exc:
        code = exc.errno
        if code is None and "requested and" in str(exc) and "written" in str(exc):
            code = errno.EFBIG if _size_limited() else errno.ENOSPC
        if code in FULL_DISK:
            raise OSError(code, os.strerror(code), os.fspath(file)) from None
        raise


def check_room(file: str | os.PathLike, nbytes: int) -> None:
    """Refuse, before writing, a file of about ``nbytes`` that the disk or the file-size limit cannot hold.

    Parameters
    ----------
    file : str or path
        The output.
    nbytes : int
        Its expected size.

    Raises
    ------
    OSError
        ``ENOSPC`` (not enough free space) or ``EFBIG`` (over ``ulimit -f``), naming ``file``.
    """
    need = int(nbytes * 1.02) + 2**20
    if _size_limited():
        import resource

        if need > resource.getrlimit(resource.RLIMIT_FSIZE)[0]:
            raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), os.fspath(file))
    parent = Path(file).parent
    try:
        free = shutil.disk_usage(parent if parent.exists() else Path.cwd()).free
    except OSError:
        return
    if need > free:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(file))


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
    with disk_errors(file):
        fmt.load().write(stack, data, file, inner)
    logger.debug("wrote %s: shape %s dtype %s", text, data.shape, data.dtype)
    return file
