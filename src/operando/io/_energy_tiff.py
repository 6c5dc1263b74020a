"""Multi-page TIFF + energy list (``stack.tif`` + ``stack.txt``), the stack format MANTiS and aXis2000 import."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._errors import InputError
from .._files import atomic_path, refuse_to_overwrite
from .._stack import Metadata, Stack, as_stack
from ._tiff_meta import imagej_kwargs


def write_energy_tiff(stack: Stack, path: str | os.PathLike, *, dtype: str = "float32") -> tuple[Path, Path]:
    """Write an ``EYX`` stack as a multi-page TIFF (one page per energy) and a same-name ``.txt`` energy list.

    The TIFF is an ImageJ stack when the pixel type allows (Fiji shows each page's energy, ``"706.0 eV"``, and the
    pixel size); its pages are the plain pages MANTiS and aXis2000 read.

    Parameters
    ----------
    stack : Stack
        Axes ``EYX`` (or ``YX``) with ``metadata.energies``.
    path : str or path
        The TIFF file (``.tif``); the energies go to the same name with ``.txt``, one value (eV) per line.
    dtype : str
        Pixel type written (``"float32"``, or ``"input"`` for the type the data was read as).

    Returns
    -------
    (Path, Path)
        The TIFF and the energy list.
    """
    stack = as_stack(stack)
    if stack.axes == "YX":
        stack = Stack(stack.to_numpy()[None], axes="EYX", metadata=stack.metadata)
    if stack.axes != "EYX":
        raise InputError(f"{path}: a TIFF + energy list holds one EYX stack, got axes {stack.axes!r}; write each "
                         "time point separately")
    energies = stack.metadata.energies
    if not energies or len(energies) != stack.size("E"):
        raise InputError(f"{path}: the stack records {len(energies or [])} energies for {stack.size('E')} images; "
                         "set metadata.energies first")
    import tifffile

    tif, txt = Path(path), Path(path).with_suffix(".txt")
    refuse_to_overwrite(tif, stack.metadata.source)
    refuse_to_overwrite(txt, stack.metadata.source)
    data = stack.to_numpy()
    data = data.astype(np.float32) if dtype == "float32" else data
    fiji = imagej_kwargs(stack, data) or {"photometric": "minisblack"}  # pages stay plain pages for MANTiS
    with atomic_path(tif) as tmp:
        tifffile.imwrite(tmp, data, **fiji)
    with atomic_path(txt) as tmp:
        tmp.write_text("".join(f"{e:.4f}\n" for e in energies), encoding="ascii")
    return tif, txt


def read_energy_tiff(path: str | os.PathLike) -> Stack:
    """Read a multi-page TIFF with its same-name ``.txt`` energy list as an ``EYX`` stack.

    Parameters
    ----------
    path : str or path
        The TIFF file; ``path.txt`` holds one energy (eV) per line (extra columns are ignored).

    Returns
    -------
    Stack
        Axes ``EYX`` with ``metadata.energies``.
    """
    import tifffile

    tif, txt = Path(path), Path(path).with_suffix(".txt")
    if not txt.exists():
        raise InputError(f"{txt}: no energy list beside {tif.name}; write one energy (eV) per line")
    try:
        data = tifffile.imread(tif)
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise InputError(f"{tif}: not a readable TIFF file ({exc}); check the file is complete") from None
    data = data[None] if data.ndim == 2 else data
    if data.ndim != 3:
        raise InputError(f"{tif}: a TIFF + energy list holds one image per energy, got shape {data.shape}")
    try:
        energies = [float(line.split()[0].rstrip(",")) for line in txt.read_text(encoding="utf-8").splitlines()
                    if line.strip()]
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{txt}: not a list of numbers (one energy in eV per line)") from None
    if not all(np.isfinite(energies)):
        raise InputError(f"{txt}: NaN or infinite energies; give one finite energy (eV) per line")
    if len(energies) != data.shape[0]:
        raise InputError(f"{txt}: {len(energies)} energies for {data.shape[0]} TIFF pages; the counts must match")
    meta = Metadata(energies=tuple(energies), source=os.fspath(tif), original_dtype=str(data.dtype))
    return Stack(data, axes="EYX", metadata=meta)
