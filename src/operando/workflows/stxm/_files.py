"""Files of the STXM pipeline: counts read as a user gives them (one stack or a time series), maps written."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..._errors import InputError
from ..._files import write_json_file
from ..._provenance import versions
from ..._stack import Metadata, Stack
from ._checks import energy_stack
from ._config import CompositionRun


def _read_counts(file: str, axes: str | None) -> Stack:
    """Read one counts file; a TIFF with a same-name ``.txt`` energy list beside it is an ``EYX`` energy stack."""
    from ..._stack import check_finite
    from ...io import read, read_energy_tiff

    path = Path(file)
    txt = path.with_suffix(".txt")
    if path.suffix.lower() in (".tif", ".tiff") and txt.is_file() and axes in (None, "EYX") and _number_list(txt):
        stack = read_energy_tiff(path)
        check_finite(stack.to_numpy(), source=file)
        return stack
    return read(file, axes=axes)  # no energy list beside it (a .txt of notes is not one)


def _number_list(path: Path) -> bool:
    """Whether a text file is a list of numbers, one per line (an energy list), read in its first 64 kB."""
    try:
        with open(path, "rb") as fh:
            lines = [ln.strip() for ln in fh.read(65536).decode("utf-8").splitlines() if ln.strip()]
        [float(ln.split()[0].rstrip(",")) for ln in lines]
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return bool(lines)


def read_series(inputs: list[str | os.PathLike], *, axes: str | None = None) -> Stack:
    """Read one stack file, or several files (a time series, in the order given) as ``TEYX`` counts.

    Parameters
    ----------
    inputs : list of paths or globs
        ``.hdr``, NXstxm, TIFF, ... files; globs are expanded in natural order. A TIFF with a same-name ``.txt``
        energy list (one eV per line, as :func:`operando.io.write_energy_tiff` and MANTiS write) is read with
        its energies.
    axes : str, optional
        Axis letters of files that do not record them (e.g. ``EYX``).

    Returns
    -------
    Stack
        ``EYX`` (one file) or ``TEYX``.

    Raises
    ------
    InputError
        An unreadable file, a pattern matching nothing, files of different scans, or data without an energy axis.
    """
    import glob

    import tifffile

    files: list[str] = []
    for item in inputs:
        text = os.fspath(item)
        matched = tifffile.natural_sorted(glob.glob(text)) if any(ch in text for ch in "*?[") else [text]
        if not matched:
            raise InputError(f"{text}: no file matches; check the pattern")
        files += matched
    if not files:
        raise InputError("no input file given; give a stack file (.hdr, NXstxm, TIFF ...) or several")
    stacks = [energy_stack(_read_counts(f, axes)) for f in files]
    if len(stacks) == 1:
        return stacks[0]
    first = stacks[0]
    for f, s in zip(files[1:], stacks[1:], strict=True):
        if s.axes != "EYX" or s.shape != first.shape or s.metadata.energies != first.metadata.energies:
            raise InputError(f"{f}: shape {s.shape} axes {s.axes} energies {s.metadata.energies} differ from "
                             f"{files[0]}'s {first.shape} {first.axes} {first.metadata.energies}; a series needs "
                             "the same scan at every time point")
    rings = [s.metadata.extra.get("ring_current_ma") for s in stacks]
    extra = {**first.metadata.extra, "ring_current_ma": rings, "series_files": files}
    meta = first.metadata.replace(extra=extra, source=files[0], frame_times=_scan_times(stacks))
    return Stack(np.stack([s.to_numpy() for s in stacks]), "TEYX", meta)


def _scan_times(stacks: list[Stack]) -> tuple[float, ...] | None:
    """Seconds of each scan of a series from the headers' ``Time`` ("2019 March 22 10:37:42"), if all increase."""
    from datetime import datetime

    from ...io import increasing_times

    try:
        return increasing_times([datetime.strptime(str(s.metadata.extra["time"]).strip(), "%Y %B %d %H:%M:%S")
                                 for s in stacks])
    except (KeyError, ValueError):
        return None


def write_composition(run: CompositionRun, output: str | os.PathLike, *, counts: Stack,
                      inputs: list[str] | None = None) -> tuple[Path, Path]:
    """Write the maps as float32 ``CYX`` (one frame) or ``TCYX`` TIFF and the JSON summary (with versions) beside it.

    Parameters
    ----------
    run : CompositionRun
        From :func:`run_composition`.
    output : str or path
        The TIFF (``OUT.tif``); the summary goes to ``OUT.json``.
    counts : Stack
        The input (for pixel size, source and, of a ``TEYX`` video, the frame times: Fiji's frame interval).
    inputs : list of str, optional
        Input files, recorded in the summary.

    Returns
    -------
    (Path, Path)
        The TIFF and the JSON file.
    """
    from ..._files import refuse_to_overwrite
    from ...io import write

    out = Path(output)
    sources = [counts.metadata.source, *(inputs or [])]
    refuse_to_overwrite(out, *sources)
    maps = run.maps if run.maps.shape[0] > 1 else run.maps[0]
    axes = "TCYX" if maps.ndim == 4 else "CYX"
    times = counts.metadata.frame_times
    keep_times = axes == "TCYX" and counts.has("T") and times is not None and len(times) == maps.shape[0]
    meta = Metadata(pixel_size=counts.metadata.pixel_size, pixel_unit=counts.metadata.pixel_unit,
                    frame_times=times if keep_times else None,
                    extra={"channels": ["x", "thickness_um", "sd_x"], "outside_mask": "NaN",
                           "x": f"fraction of {run.summary['references']['phases'][0]}"})
    tif = write(Stack(maps, axes, meta), out, dtype="float32")
    json_path = out.with_suffix(".json")
    refuse_to_overwrite(json_path, *sources)
    write_json_file(json_path, {**run.summary, "inputs": inputs or [counts.metadata.source], "output": str(out),
                                "axes": axes, "channels": ["x", "thickness_um", "sd_x"], "versions": versions()})
    return tif, json_path
