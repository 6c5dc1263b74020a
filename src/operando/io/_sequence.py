"""Image series and image sets (open beams, darks) from files, folders or globs, with exposure and timestamps.

A neutron or X-ray radiography run is many single-image files (``sample_0001.tif`` ...) or one multi-page
file, and its open-beam and dark-current sets are given the same ways. :func:`read_sequence` reads any of them
into one ``TYX`` stack and collects, for each frame, the exposure time and acquisition time found in the file
headers (TIFF tags, FITS ``EXPTIME`` / ``DATE-OBS``) or, failing that, the file name (``exp5s_``, ``_0.5s``,
``_200ms``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._stack import Metadata, Stack
from .._units import convert
from ._fits import parse_timestamp
from ._paths import is_pattern

logger = logging.getLogger(__name__)

_SUFFIXES = (".tif", ".tiff", ".fits", ".fit", ".fts")
_NAME_EXPOSURE = re.compile(r"(?:^|[_\-. ])(?:exp(?:osure)?[_\-]?)?(\d+(?:[.p]\d+)?)(ms|s)(?=[_\-. ]|$)",
                            re.IGNORECASE)
_DESCRIPTION_EXPOSURE = re.compile(r"(exposure[_ ]?time|exposure|exptime|exp_time)(?:[_ ]?\((m?s)\)|[_ ]?(m?s))?"
                                   r"\s*[=:]\s*\"?([0-9.eE+\-]+)\s*(ms|s)?", re.IGNORECASE)
_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$")


def exposure_from_name(name: str) -> float | None:
    """Return the exposure time in seconds written in a file name (``exp5s_ob``, ``run_0.5s``, ``x_200ms``).

    Parameters
    ----------
    name : str
        A file name or path.

    Returns
    -------
    float or None
        Seconds, or None if the name holds no exposure.
    """
    match = _NAME_EXPOSURE.search(Path(name).stem)
    if not match:
        return None
    return convert(float(match.group(1).replace("p", ".")), match.group(2).lower(), "s")


def _exposure_in_text(text: str) -> float | None:
    """Exposure (s) in an ImageDescription: JSON keys or ``key=value`` lines; milliseconds when the key says so."""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        flat = {**parsed, **(parsed.get("operando", {}).get("extra", {}) if isinstance(parsed.get("operando"),
                                                                                     dict) else {})}
        for key, value in flat.items():
            low = key.lower()
            if "exp" in low and isinstance(value, (int, float)):
                return convert(float(value), "ms" if low.endswith("ms") or "-ms" in low else "s", "s")
    match = _DESCRIPTION_EXPOSURE.search(text)
    if match:
        unit = match.group(2) or match.group(3) or match.group(5) or "s"
        try:
            return convert(float(match.group(4)), unit.lower(), "s")
        except ValueError:  # "exposure: -" or "exposure = e": no number after all
            return None
    return None


def _ratio(value: Any) -> float | None:
    """Return a TIFF RATIONAL (numerator, denominator) or a number as float; None for a zero denominator."""
    if isinstance(value, tuple):
        return float(value[0]) / float(value[1]) if len(value) == 2 and float(value[1]) != 0 else None
    return float(value)


def tiff_header_info(file: Path) -> dict[str, Any]:
    """Exposure time (s) and timestamp (POSIX s) in a TIFF's tags: EXIF ExposureTime, ImageDescription, DateTime.

    Parameters
    ----------
    file : Path
        A TIFF file.

    Returns
    -------
    dict
        ``exposure_time_s`` and ``timestamp`` where found.
    """
    import tifffile

    info: dict[str, Any] = {}
    with tifffile.TiffFile(file) as tif:
        page = tif.pages.first
        tags = page.tags
        exif = tags.get("ExifTag")
        if exif is not None and isinstance(exif.value, dict) and exif.value.get("ExposureTime"):
            found = _ratio(exif.value["ExposureTime"])
            if found is not None:
                info["exposure_time_s"] = found
        tag = tags.get(33434)  # ExposureTime stored directly in the IFD
        if "exposure_time_s" not in info and tag is not None:
            found = _ratio(tag.value)
            if found is not None:
                info["exposure_time_s"] = found
        description = tags.get("ImageDescription")
        if "exposure_time_s" not in info and description is not None:
            found = _exposure_in_text(str(description.value))
            if found is not None:
                info["exposure_time_s"] = found
        stamp = tags.get("DateTime") or tags.get("DateTimeOriginal")
        if stamp is not None and parse_timestamp(stamp.value) is not None:
            info["timestamp"] = parse_timestamp(stamp.value)
    return info


def _expand(source: str | os.PathLike, allow_gaps: bool) -> list[Path]:
    """Return the files named by one path: itself, a folder's images, or a glob's matches (natural order)."""
    import glob

    import tifffile

    text = os.fspath(source)
    if is_pattern(text) or Path(text).is_dir():
        if Path(text).is_dir():
            names = [str(p) for p in Path(text).iterdir() if p.name.lower().endswith(_SUFFIXES)]
        else:
            names = [p for p in glob.glob(text) if p.lower().endswith(_SUFFIXES)]
        if not names:
            raise InputError(f"{text}: no TIFF or FITS images found; give a folder of them or a glob like "
                             f"'run/sample_*.tif'")
        files = [Path(p) for p in tifffile.natural_sorted(names)]
        if not allow_gaps:
            _check_numbering(files, text)
        return files
    path = Path(text)
    if not path.is_file():
        raise InputError(f"{text}: no such file; check the path (globs such as 'ob_*.tif' are accepted)")
    return [path]


def _check_numbering(files: list[Path], text: str) -> None:
    """Refuse numbered files with a hole in the numbering (a frame missing from the glob)."""
    parts = [_NUMBER.match(p.stem) for p in files]
    if len(files) < 2 or not all(parts):
        return
    stems = {(m.group(1), m.group(3)) for m in parts if m}
    widths = {len(m.group(2)) for m in parts if m}
    # a frame index ends the name, or is zero-padded to one width (sample_0001_raw); not e.g. exp5s_dc
    if len(stems) != 1 or not (next(iter(stems))[1] == "" or (len(widths) == 1 and widths.pop() >= 3)):
        return
    numbers = sorted(int(m.group(2)) for m in parts if m)
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        prefix, suffix = stems.pop()
        width = min(len(m.group(2)) for m in parts if m)
        shown = ", ".join(f"{prefix}{n:0{width}d}{suffix}" for n in missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise InputError(f"{text}: {len(missing)} file(s) missing from the numbered series ({shown}); restore them "
                         "or pass allow_gaps=True (--allow-gaps) to read the files that are there")


def _read_file(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Return one file's frames as (n, Y, X) and its header info (plus metadata operando itself recorded)."""
    name = path.name.lower()
    if name.endswith((".fits", ".fit", ".fts")):
        from . import _fits

        raw = _fits.read(path, None, lazy=False)
        info = dict(raw.meta.get("extra", {}))
    else:
        from . import _tiff

        raw = _tiff.read(path, None, lazy=False)
        info = {**tiff_header_info(path), **{k: v for k, v in raw.meta.get("extra", {}).items()
                                            if k in ("exposure_time_s", "timestamp")}}
    data = np.asarray(raw.data)
    info["meta"] = {k: raw.meta[k] for k in ("pixel_size", "pixel_unit", "frame_times") if raw.meta.get(k)}
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise InputError(f"{path}: expected an image or a series of images, got data of shape {data.shape}; "
                         "read it with operando.io.read(..., axes=...) instead")
    if "exposure_time_s" not in info:
        from_name = exposure_from_name(path.name)
        if from_name is not None:
            info["exposure_time_s"] = from_name
            info["exposure_from"] = "file name"
    else:
        info["exposure_from"] = "header"
    return data, info


def read_sequence(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    exposure_time_s: float | None = None,
    allow_gaps: bool = False,
) -> Stack:
    """Read an image series or an image set (open beams, darks) into one ``TYX`` stack.

    Parameters
    ----------
    source : str, path, or list of them
        One file (a single image, a multi-page TIFF or a FITS cube), a folder of TIFF/FITS images, a glob
        (``"run/sample_*.tif"``), or a list of any of these. Files are taken in natural order (``2`` before
        ``10``); each file holds one image (``YX``) or a series of images (first axis ``T``).
    exposure_time_s : float, optional
        Exposure time of every frame, overriding headers and file names.
    allow_gaps : bool
        Accept numbered files with a hole in the numbering (refused by default: a frame is missing).

    Returns
    -------
    Stack
        ``TYX`` data in the files' dtype. ``metadata.frame_times`` are the acquisition times relative to the
        first frame when every file has a timestamp; ``metadata.extra`` holds ``files``, ``exposure_times_s``
        (per frame, or None), ``exposure_time_s`` (when all frames agree), ``exposure_from`` (header, file name
        or given) and ``timestamps`` (POSIX seconds).

    Raises
    ------
    InputError
        A missing file, a glob or folder with no images, a hole in a numbered series, a FITS file without
        image data, frames of different sizes, or a given exposure time that is not > 0. An exposure time found
        in a file that is not > 0 is taken as unknown, with a warning.
    """
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not sources:
        raise InputError("read_sequence got an empty list of files; give a file, a folder or a glob")
    if exposure_time_s is not None and not (np.isfinite(exposure_time_s) and exposure_time_s > 0):
        raise InputError(f"exposure time {exposure_time_s!r} s: give a finite exposure greater than 0")
    files = [f for s in sources for f in _expand(s, allow_gaps)]
    frames, exposures, stamps, origins = [], [], [], set()
    first_meta: dict[str, Any] = {}
    for path in files:
        data, info = _read_file(path)
        if frames and data.shape[1:] != frames[0].shape[1:]:
            raise InputError(f"{path}: image size {data.shape[1:]} differs from {files[0]}'s "
                             f"{frames[0].shape[1:]}; all images of a series or set must have the same size")
        exposure = info.get("exposure_time_s")
        if exposure_time_s is None and exposure is not None and not (np.isfinite(exposure) and exposure > 0):
            warnings.warn(f"{path.name}: the {info.get('exposure_from', 'header')} gives an exposure time of "
                          f"{exposure!r} s, which is not > 0; taken as unknown", UserWarning, stacklevel=2)
            exposure = None
            info.pop("exposure_from", None)
        frames.append(data)
        exposures += [exposure] * len(data)
        stamps += [info.get("timestamp")] * len(data)
        origins.add(info.get("exposure_from"))
        first_meta = first_meta if frames[1:] else info["meta"]
    source_of_exposure = "given" if exposure_time_s is not None else None
    if exposure_time_s is not None:
        exposures = [float(exposure_time_s)] * len(exposures)
    else:
        source_of_exposure = origins.pop() if len(origins) == 1 else "mixed"
    stack = np.concatenate(frames, axis=0)
    known = all(e is not None for e in exposures)
    extra: dict[str, Any] = {
        "files": [str(f) for f in files],
        "exposure_times_s": exposures if known else None,
        "exposure_from": source_of_exposure if known else None,
        "timestamps": stamps if all(s is not None for s in stamps) else None,
    }
    if known and len(set(exposures)) == 1:
        extra["exposure_time_s"] = exposures[0]
    times = None
    if extra["timestamps"] is not None and len(set(stamps)) == len(stamps):
        times = tuple(float(s - stamps[0]) for s in stamps)
    elif len(files) == 1 and len(first_meta.get("frame_times") or ()) == len(stack):
        times = tuple(float(t) for t in first_meta["frame_times"])
    meta = Metadata(frame_times=times, pixel_size=first_meta.get("pixel_size"),
                    pixel_unit=first_meta.get("pixel_unit"),
                    source=str(files[0]) if len(files) == 1 else os.fspath(sources[0]),
                    original_dtype=str(stack.dtype), extra=extra)
    logger.debug("read_sequence: %d frames from %d files, exposure %s", len(stack), len(files), exposures[:1])
    return Stack(stack, axes="TYX", metadata=meta)

