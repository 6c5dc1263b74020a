"""What a neutron analysis reads and writes.

The inputs (raw counts or a transmission with its ``_var_a`` sidecar, regions.json), and the output folder
(Delta A stacks, metrics.json, cycles.csv and the figures).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._files import Target, write_csv_file, write_json_file
from ..._progress import Progress, sub_progress
from ..._provenance import versions
from ..._stack import Stack
from ...neutron import Regions, Transmission, normalize, regions_from_dict
from ._config import AnalysisConfig
from ._metrics import Analysis


def load_regions(path: str | os.PathLike, shape: tuple[int, int]) -> Regions:
    """Read regions.json (boxes ``'y0:y1,x0:x1'``, or labels of a label image named by its ``"labels"`` key).

    Parameters
    ----------
    path : str or path
        The JSON file (the label image's path is relative to it).
    shape : (Y, X)
        Image shape.

    Returns
    -------
    Regions
        The regions.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such regions file; check the path")
    try:
        spec = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{file}: not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise InputError(f"{file}: regions.json holds {type(spec).__name__}, not an object such as "
                         "{\"regions\": {\"anode\": {\"kind\": \"electrode\", \"box\": \"y0:y1,x0:x1\"}}}")
    labels = None
    if spec.get("labels"):
        from ...io import read

        labels = read(file.parent / spec["labels"]).to_numpy()
    try:
        return regions_from_dict(spec, shape, labels=labels)
    except InputError as exc:
        raise InputError(f"{file}: {exc}") from None


def read_images(source: str | os.PathLike | Sequence[str | os.PathLike], *, allow_gaps: bool = False) -> Stack:
    """Read a sample series or an open-beam/dark set (file, folder, glob or list) as a ``TYX`` stack.

    Parameters
    ----------
    source : str, path or list
        What :func:`operando.io.read_sequence` accepts.
    allow_gaps : bool
        Accept holes in a numbered series.

    Returns
    -------
    Stack
        The frames with exposure and timestamps.
    """
    from ...io import read_sequence

    return read_sequence(source, allow_gaps=allow_gaps)


def transmission_targets(output: str | os.PathLike, option: str = "-o") -> list[Target]:
    """Describe what ``normalize_files`` writes for the output guard: the transmission and its ``_var_a`` file.

    Parameters
    ----------
    output : str or path
        The transmission file (a ``.zarr`` is a store, replaced as a whole).
    option : str
        The option naming it, for messages.

    Returns
    -------
    list of Target
        The transmission and the variance file beside it.
    """
    kind = "store" if os.fspath(output).lower().rstrip("/").endswith(".zarr") else "file"
    return [Target(Path(output), option, kind=kind), Target(sidecar(output), f"{option} (its _var_a file)",
                                                            kind=kind)]


def sidecar(path: str | os.PathLike) -> Path:
    """Return the variance file written beside a transmission file (``T.tif`` -> ``T_var_a.tif``)."""
    p = Path(path)
    name = p.name
    for suffix in (".ome.tif", ".ome.tiff", ".tif", ".tiff", ".h5", ".zarr", ".npy"):
        if name.lower().endswith(suffix):
            return p.with_name(name[: -len(suffix)] + "_var_a" + suffix)
    return p.with_name(name + "_var_a")


def write_transmission(tr: Transmission, output: str | os.PathLike, axes: str) -> Path:
    """Write the transmission (float32) and, beside it, the variance of each frame's ``A = -ln T``."""
    from ...io import write

    path = write(tr.stack, output, dtype="float32")
    var_stack = Stack(tr.var_sample if axes == "TYX" else tr.var_sample[0], axes=axes)
    write(var_stack, sidecar(output), dtype="float32")
    return path


def _read_transmission(path: str | os.PathLike) -> Transmission | Stack:
    """Read a transmission series, with the counting noise from its ``_var_a`` file when present."""
    from ...io import read

    stack = read(path, allow_nan=True)
    if stack.dtype.kind in "ui":
        raise InputError(f"{path}: integer data ({stack.dtype}) looks like raw counts; pass --open-beam and --dark "
                         "to normalise it, or give the transmission written by 'operando neutron normalize'")
    if stack.axes != "TYX":
        raise InputError(f"{path}: need a TYX series for Delta A, got axes {stack.axes!r}")
    stack = Stack(stack.to_numpy().astype(np.float32), axes="TYX", metadata=stack.metadata)
    side = sidecar(path)
    if not side.exists():
        return stack
    var = read(side, allow_nan=True).to_numpy().astype(np.float32)
    if var.shape != stack.shape:
        raise InputError(f"{side}: shape {var.shape} differs from the transmission's {stack.shape}; remove it")
    data = stack.to_numpy()
    return Transmission(stack, var, np.zeros(stack.shape[1:], np.float32), ~(data > 0),
                        np.ones(len(data)), (0,) * len(data), {"var_a_from": str(side)})


def _with_frame_times(stack: Stack, frame_interval_s: float | None) -> Stack:
    """Return the stack with frame times from ``frame_interval_s`` when given (or when it has none)."""
    meta = stack.metadata
    if frame_interval_s is not None:
        meta = meta.replace(frame_times=tuple(float(i * frame_interval_s) for i in range(stack.shape[0])))
    return Stack(stack.data, axes=stack.axes, metadata=meta)


def _with_open_boxes(config: AnalysisConfig, regions: Regions | None) -> AnalysisConfig:
    """Return the settings with the open boxes of regions.json as the beam correction's air, unless given."""
    if regions is None or config.open_regions or not regions.open_boxes:
        return config
    return config.model_copy(update={"open_regions": tuple(regions.open_boxes)})


def load_inputs(input_path: str | os.PathLike, open_beam: Any, dark: Any, regions: str | os.PathLike | None,
                config: AnalysisConfig, frame_interval_s: float | None, progress: Progress | None = None
                ) -> tuple[Transmission | Stack, tuple[Stack, Stack, Stack] | None, Regions | None, AnalysisConfig]:
    """Return the normalised series, the raw stacks (raw input only), the regions and the settings used.

    Raw counts are normalised here, with the open boxes of regions.json as air when ``config`` names none (the
    settings returned then record them).
    """
    if (open_beam is None) != (dark is None):
        raise InputError("give both --open-beam and --dark (raw counts), or neither (a transmission file)")
    if open_beam is None:
        source = _read_transmission(input_path)
        if isinstance(source, Transmission):
            source = Transmission(_with_frame_times(source.stack, frame_interval_s), source.var_sample,
                                  source.var_open, source.bad, source.beam_factors, source.spot_counts, source.info)
        else:
            source = _with_frame_times(source, frame_interval_s)
        stack = source.stack if isinstance(source, Transmission) else source
        region_set = load_regions(regions, stack.shape[1:]) if regions else None
        return source, None, region_set, _with_open_boxes(config, region_set)
    sample = _with_frame_times(read_images(input_path), frame_interval_s)
    ob, dc = read_images(open_beam), read_images(dark)
    region_set = load_regions(regions, sample.shape[-2:]) if regions else None
    config = _with_open_boxes(config, region_set)
    tr = normalize(sample, ob, dc, open_regions=config.open_regions, gain=config.gain,
                   progress=sub_progress(progress, 0.0, 1.0, "normalise: "))
    return tr, (sample, ob, dc), region_set, config


def write_analysis(analysis: Analysis, document: dict[str, Any], out: Path) -> dict[str, Any]:
    """Write the Delta A stacks, the figures, metrics.json and cycles.csv into ``out``; return the document.

    Called once the work is done (a cancelled analysis writes nothing); the document gets the figures' names and
    the versions that made it.
    """
    from ...io import write
    from ._figures import draw_all

    out.mkdir(parents=True, exist_ok=True)
    meta = analysis.delta_raw.stack.metadata
    write(analysis.delta_raw.stack, out / "delta_a_raw.tif", dtype="float32")
    write(Stack(analysis.delta_raw.sd, axes="TYX", metadata=meta), out / "delta_a_sd.tif", dtype="float32")
    if analysis.delta_denoised is not None:
        write(Stack(analysis.delta_denoised, axes="TYX", metadata=meta), out / "delta_a_denoised.tif",
              dtype="float32")
    document["figures"] = [p.name for p in draw_all(analysis, out)]
    document["versions"] = versions()
    write_json_file(out / "metrics.json", document)
    if analysis.cycler_rows:
        write_csv_file(out / "cycles.csv", analysis.cycler_rows)
    return document
