"""NeXus NXstxm HDF5 files: read (both axis conventions, the monitor channel) and write.

Suffix rule: ``.nxstxm.h5``, ``.stxm.h5`` and ``.stxm.nxs`` go to this module; plain ``.h5`` / ``.nxs`` files stay with
the generic HDF5 reader (``file.h5:/path/to/dataset``), which reads any dataset. Any NXstxm file, whatever its
name, is read with :func:`operando.io.read_nxstxm`.

Layout written (the NXstxm application definition, as MANTiS and pystxmcontrol read it)::

    /entry1 (NXentry)  definition = "NXstxm"       (entry2, entry3, ... for the frames of a TEYX series)
        counter0 (NXdata) signal = "data", axes = ["energy", "sample_y", "sample_x"]
            data (E, Y, X), energy (eV), sample_y, sample_x (um), count_time (s), stxm_scan_type
        control (NXmonitor) data (E,): ring current (mA) when known
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._stack import Metadata, Stack
from .._units import convert, length_in, time_unit
from ._formats import Raw
from ._hdf5 import built_file
from ._tiff import metadata_record


def _text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.flat[0] if value.size else ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _nx_class(node: Any) -> str:
    return _text(node.attrs.get("NX_class", ""))


def _entries(f: Any) -> list[str]:
    found = []
    for name in f:
        node = f[name]
        if _nx_class(node) != "NXentry":
            continue
        if "definition" in node and _text(node["definition"][()]) != "NXstxm":
            continue
        found.append(name)
    return sorted(found, key=lambda n: (len(n), n))


def _data_group(entry: Any, file: Path) -> Any:
    groups = [entry[k] for k in entry if _nx_class(entry[k]) == "NXdata"]
    if not groups:
        raise InputError(f"{file}: entry {entry.name} has no NXdata group (counter0); not an NXstxm stack")
    return groups[0]


def _axis_order(group: Any, ndim: int, file: Path) -> list[str]:
    """Names of the data's dimensions: the group's ``axes`` attribute, else the older per-dataset ``axis``."""
    if "axes" in group.attrs:
        raw = group.attrs["axes"]
        names = [_text(v) for v in np.atleast_1d(raw)]
        if len(names) == 1 and ":" in names[0]:
            names = names[0].split(":")
        names = ["energy" if n == "photon_energy" else n for n in names]
        if len(names) == ndim:
            return names
    by_axis: dict[int, str] = {}
    for name in group:
        if "axis" in group[name].attrs:
            by_axis[int(np.atleast_1d(group[name].attrs["axis"])[0])] = "energy" if name == "photon_energy" else name
    if sorted(by_axis) == list(range(1, ndim + 1)):
        return [by_axis[i] for i in range(1, ndim + 1)]
    raise InputError(f"{file}: {group.name} records neither an 'axes' attribute nor per-dataset 'axis' attributes "
                     f"for its {ndim}-D data; cannot tell energy from rows and columns")


def _dwell_ms(group: Any) -> Any:
    if "count_time" not in group:
        return None
    values = np.atleast_1d(group["count_time"][()]).astype(float)
    unit = _text(group["count_time"].attrs.get("units", "s"))
    try:
        values = values * convert(1.0, time_unit(unit), "ms")
    except InputError:  # no or an unknown unit: seconds, as NXstxm prescribes
        values = values * 1e3
    return float(values[0]) if np.all(values == values[0]) else [float(v) for v in values]


def _positions_um(group: Any, name: str) -> np.ndarray:
    """Return a sample position dataset in micrometres (by its ``units``; um when it has none), zeros if absent."""
    if name not in group:
        return np.zeros(2)
    values = np.atleast_1d(group[name][()]).astype(float)
    scale = length_in(1.0, _text(group[name].attrs.get("units", "um")), "um")
    return values * scale if scale != 1.0 else values


def _monitor(entry: Any) -> np.ndarray | None:
    for path in ("control/data", "instrument/control/data", "instrument/monitor/data"):
        if path in entry:
            return np.asarray(entry[path][()], dtype=float)
    return None


def _read_entry(entry: Any, file: Path) -> tuple[np.ndarray, dict[str, Any], np.ndarray | None]:
    group = _data_group(entry, file)
    signal = _text(group.attrs.get("signal", "data"))
    if signal not in group:
        raise InputError(f"{file}: {group.name} has no signal dataset {signal!r}")
    data = np.asarray(group[signal][()])
    names = _axis_order(group, data.ndim, file)
    if "sample_x" not in names or "sample_y" not in names:
        raise InputError(f"{file}: {group.name} axes {names} are not an image (need sample_y and sample_x); line "
                         "scans are not read yet")
    order = [names.index(n) for n in ("energy", "sample_y", "sample_x") if n in names]
    data = np.transpose(data, order)
    if "energy" not in names:
        data = data[None]
    energy_name = "energy" if "energy" in group else ("photon_energy" if "photon_energy" in group else None)
    energies = [float(e) for e in np.atleast_1d(group[energy_name][()])] if energy_name else None
    x = _positions_um(group, "sample_x")
    y = _positions_um(group, "sample_y")
    step = round(float(np.median(np.abs(np.diff(x)))), 6) if x.size > 1 else None
    extra: dict[str, Any] = {"format": "NXstxm", "entry": entry.name, "dwell_ms": _dwell_ms(group),
                             "x_um": [float(x[0]), float(x[-1])], "y_um": [float(y[0]), float(y[-1])]}
    if "operando" in group.attrs:
        saved = json.loads(_text(group.attrs["operando"]))
        extra = {**saved.get("extra", {}), **extra}
    monitor = _monitor(entry)
    if monitor is not None and monitor.ndim == 1 and monitor.size == data.shape[0]:
        extra["ring_current_ma"] = [float(v) for v in monitor]
    elif monitor is not None:
        extra["monitor_shape"] = list(monitor.shape)
    meta = {"energies": energies, "pixel_size": step or None, "pixel_unit": "um" if step else None, "extra": extra}
    return data, meta, monitor


def read_nxstxm(
    path: str | os.PathLike,
    *,
    entry: str | None = None,
    normalise_monitor: bool = False,
) -> Stack:
    """Read an NXstxm file (any name) as ``EYX``, or ``TEYX`` when it holds several entries of one shape.

    Parameters
    ----------
    path : str or path
        The HDF5 file.
    entry : str, optional
        Read only this entry (``"entry1"``); default: every NXstxm entry.
    normalise_monitor : bool
        Divide the counts by ``R / median(R)`` where ``R`` is the monitor (``control``) channel, as MANTiS does
        for the ring current; recorded in ``metadata.extra["monitor_normalised"]``.

    Returns
    -------
    Stack
        Counts with energies, pixel size (um), dwell (ms) and ring current in the metadata.
    """
    file = Path(path)
    raw = _read(file, entry, normalise_monitor)
    meta = Metadata.from_dict(raw.meta).replace(source=os.fspath(file), original_dtype=str(raw.data.dtype))
    return Stack(raw.data, axes=raw.axes or "EYX", metadata=meta)


def _read(file: Path, entry: str | None, normalise_monitor: bool) -> Raw:
    import h5py

    try:
        f = h5py.File(file, "r")
    except OSError as exc:
        raise InputError(f"{file}: not a readable HDF5 file ({exc})") from None
    with f:
        names = [entry.strip("/")] if entry else _entries(f)
        if not names or names[0] not in f:
            raise InputError(f"{file}: no NXstxm entry{' ' + repr(entry) if entry else ''} found (entries: "
                             f"{', '.join(f) or 'none'}); read plain HDF5 datasets as '{file}:/path'")
        frames = []
        times = _frame_times(f, names)
        for name in names:
            data, meta, monitor = _read_entry(f[name], file)
            if normalise_monitor and monitor is not None:
                scale = monitor / np.nanmedian(monitor)
                scale = scale.reshape(-1, 1, 1) if scale.ndim == 1 else scale.reshape(data.shape)
                data = data / scale
                meta["extra"]["monitor_normalised"] = "divided by R / median(R)"
            frames.append((data, meta))
    first_data, first_meta = frames[0]
    if len(frames) == 1:
        return Raw(first_data, "EYX", first_meta)
    if any(d.shape != first_data.shape or m["energies"] != first_meta["energies"] for d, m in frames):
        raise InputError(f"{file}: its {len(frames)} entries differ in shape or energies; read one with "
                         "read_nxstxm(path, entry='entry1') or 'file.stxm.nxs:/entry1'")
    first_meta["extra"]["entries"] = names
    if times is not None:
        first_meta["frame_times"] = times
    first_meta["extra"]["ring_current_ma"] = [m["extra"].get("ring_current_ma") for _, m in frames]
    return Raw(np.stack([d for d, _ in frames]), "TEYX", first_meta)


def _frame_times(f: Any, names: list[str]) -> tuple[float, ...] | None:
    """Return the seconds of each entry of a series, or None.

    From the entries' ISO ``start_time`` (what beamlines write), else from the frame times operando recorded;
    None when neither gives one increasing time per entry.
    """
    from datetime import datetime

    from ._read import increasing_times

    try:
        return increasing_times([datetime.fromisoformat(_text(f[n]["start_time"][()])) for n in names])
    except (KeyError, ValueError, TypeError):
        group = _data_group(f[names[0]], Path(f.filename))
        saved = json.loads(_text(group.attrs["operando"])).get("frame_times") if "operando" in group.attrs else None
        return increasing_times(saved) if saved and len(saved) == len(names) else None


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read an NXstxm file (``file.stxm.nxs`` or ``file.stxm.nxs:/entry2`` for one entry)."""
    return _read(file, inner, False)


def _write_entry(f: Any, name: str, data: np.ndarray, stack: Stack, ring: Any) -> None:
    meta = stack.metadata
    extra = meta.extra or {}
    n_e, n_y, n_x = data.shape
    step = length_in(float(meta.pixel_size or 1.0), meta.pixel_unit, "um")
    entry = f.create_group(name)
    entry.attrs["NX_class"] = "NXentry"
    entry.create_dataset("definition", data="NXstxm")
    group = entry.create_group("counter0")
    group.attrs.update({"NX_class": "NXdata", "signal": "data", "energy_indices": 0, "sample_y_indices": 1,
                        "sample_x_indices": 2})
    group.attrs["axes"] = np.array([b"energy", b"sample_y", b"sample_x"])
    group.create_dataset("data", data=data, chunks=(1, n_y, n_x))
    group.create_dataset("energy", data=np.asarray(meta.energies or np.arange(n_e), dtype=float)).attrs["units"] = "eV"
    x0 = float((extra.get("x_um") or [0.0])[0])
    y0 = float((extra.get("y_um") or [0.0])[0])
    group.create_dataset("sample_x", data=x0 + step * np.arange(n_x)).attrs["units"] = "um"
    group.create_dataset("sample_y", data=y0 + step * np.arange(n_y)).attrs["units"] = "um"
    dwell = extra.get("dwell_ms")
    if dwell is not None:
        values = np.broadcast_to(np.asarray(dwell, dtype=float) * 1e-3, (n_e,))
        group.create_dataset("count_time", data=values).attrs["units"] = "s"
    group.create_dataset("stxm_scan_type", data="sample image stack" if n_e > 1 else "sample image")
    record = {**metadata_record(stack), "axes": "EYX"}
    group.attrs["operando"] = json.dumps(record, default=str)
    group["data"].attrs["operando"] = json.dumps(record, default=str)  # the generic HDF5 reader reads it too
    if ring is not None and len(np.atleast_1d(ring)) == n_e and None not in np.atleast_1d(ring).tolist():
        control = entry.create_group("control")
        control.attrs["NX_class"] = "NXmonitor"
        control.create_dataset("data", data=np.asarray(ring, dtype=float)).attrs["units"] = "mA"


def write(stack: Stack, data: np.ndarray, file: Path, inner: str | None) -> None:
    """Write an ``EYX`` stack as one NXstxm entry, or a ``TEYX`` series as ``entry1``, ``entry2``, ..., atomically."""
    axes = stack.axes
    if axes == "YX":
        data, axes = data[None], "EYX"
    if axes not in ("EYX", "TEYX"):
        raise InputError(f"{file}: NXstxm holds EYX stacks (or TEYX series), got axes {stack.axes!r}; reorder with "
                         "Stack.transpose first")
    frames = data if axes == "TEYX" else data[None]
    ring = (stack.metadata.extra or {}).get("ring_current_ma")
    with built_file(file, data.nbytes) as f:
        f.attrs["default"] = "entry1"
        for t, frame in enumerate(frames):
            frame_ring = ring[t] if axes == "TEYX" and isinstance(ring, list) and ring and isinstance(
                ring[0], list) else ring
            _write_entry(f, f"entry{t + 1}", frame, stack, frame_ring)


def write_nxstxm(stack: Stack, path: str | os.PathLike) -> Path:
    """Write an ``EYX`` stack (or a ``TEYX`` series, one entry per time point) as NXstxm, whatever the file name.

    Parameters
    ----------
    stack : Stack
        Counts or OD with energies, pixel size, dwell and ring current in the metadata.
    path : str or path
        Output file (e.g. ``scan.nxs``); never the stack's own source.

    Returns
    -------
    Path
        The file written.
    """
    from .._files import refuse_to_overwrite

    file = Path(path)
    refuse_to_overwrite(file, stack.metadata.source)
    write(stack, stack.to_numpy(), file, None)
    return file
