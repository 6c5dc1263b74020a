"""STXM_Control files (ALS, CLS, BESSY II): a ``.hdr`` header with ``.xim`` images or ``.xsp`` point spectra.

Format facts (the real BESSY II MAXYMUS files in ``shared/data/stxm`` follow them):

- the header is nested ``Key = { a = b; ... };`` blocks; arrays are written ``(count, v1, v2, ...)``;
- energies are ``ScanDefinition.StackAxis.Points``; each image has a line ``ImageNNN = {StorageRingCurrent = ..;
  Energy = ..; Time = ".."};`` with the measured energy and ring current;
- pixel positions are ``PAxis`` (columns, X) and ``QAxis`` (rows, Y), in um; dwell ``Dwell`` in ms (junk values
  such as ``-6.28e66`` occur and are reported, not used);
- ``.xim`` is text, one image row per line, tab separated with a trailing tab, LF or CRLF; file names are
  ``base_a.xim`` (one image), ``base_a000.xim`` (channel letter + energy index, mapped through the ``ImageNNN``
  lines), ``base_a0000.xim`` (energy index + region digit, multi-region stacks), ``base_a0.xim`` (multi-region
  image); point spectra are ``base_0.xsp`` (one per region, ``energy<TAB>counts<TAB>`` lines).

The per-image entries come in two spellings: ``ImageNNN = {...}`` (BESSY II, CLS) and ``ImageNNN_R = {...; Energy
= ..; ZP_dest= ..; ...}`` (ALS COSMIC, R the region). NNN is the number of the image *file* (``base_aNNN.xim``); in a
stack cut down to some energies, or aborted part-way, it is not the position in ``StackAxis.Points``: the COSMIC
file ``stxm-scan.hdr`` lists two energies (853, 857.75 eV) with ``Image003_0`` and ``Image019_0`` and the files
``stxm-scan_a003.xim`` and ``stxm-scan_a019.xim``. Which file holds which energy is decided in this order, the first
rule the header's measured energies agree with winning (:func:`_image_plan`): NNN is the stack position; the
entries in file order are the stack's energies in order; each entry's measured energy picks the nearest stack
energy. Energies the header lists without an image file (an aborted scan) are left out with a warning naming them.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._files import atomic_path
from .._stack import Metadata, Stack
from .._units import length_in
from ._formats import Raw

_TOKEN = re.compile(r'\s*(?:(?P<sym>[{}()=;,])|"(?P<str>[^"]*)"|(?P<word>[^\s{}()=;,"]+))')
_IMAGE_KEY = re.compile(r"^Image(\d+)(?:_(\d+))?$")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


class _Parser:
    """Recursive-descent parser of the STXM_Control header grammar."""

    def __init__(self, text: str, file: Path) -> None:
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise InputError(f"{file}: cannot read the header near character {pos} ({text[pos:pos + 30]!r}); "
                                 "is this an STXM_Control .hdr file?")
            pos = m.end()
            if m.group("sym"):
                self.tokens.append(("sym", m.group("sym")))
            elif m.group("str") is not None:
                self.tokens.append(("str", m.group("str")))
            elif m.group("word"):
                self.tokens.append(("word", m.group("word")))
        self.i = 0
        self.file = file

    def _peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self) -> tuple[str, Any]:
        tok = self._peek()
        if tok is None:
            raise InputError(f"{self.file}: the header ends in the middle of a block; the file is truncated")
        self.i += 1
        return tok

    def fields(self, closing: str | None) -> dict[str, Any]:
        """Parse ``name = value;`` pairs up to ``closing`` (or the end of the text)."""
        out: dict[str, Any] = {}
        while True:
            tok = self._peek()
            if tok is None:
                if closing is None:
                    return out
                raise InputError(f"{self.file}: a '{{' block is never closed; the header is truncated")
            if tok == ("sym", closing):
                self.i += 1
                return out
            if tok[0] == "sym" and tok[1] in ";,":
                self.i += 1
                continue
            kind, name = self._next()
            if kind != "word" or self._next() != ("sym", "="):
                raise InputError(f"{self.file}: expected 'Name = value' in the header, found {name!r}")
            out[name] = self.value()

    def value(self) -> Any:
        """Parse one value: a block, an array, a string or a number."""
        kind, tok = self._next()
        if (kind, tok) == ("sym", "{"):
            return self.fields("}")
        if (kind, tok) == ("sym", "("):
            return self.array()
        if kind == "str":
            return tok
        if kind == "word":
            return _number(tok)
        raise InputError(f"{self.file}: unexpected {tok!r} in the header")

    def array(self) -> list[Any]:
        """Parse ``(count, v1, ...)``; check the count."""
        items: list[Any] = []
        while True:
            tok = self._peek()
            if tok is None:
                raise InputError(f"{self.file}: an array '(' is never closed; the header is truncated")
            if tok == ("sym", ")"):
                self.i += 1
                break
            if tok[0] == "sym" and tok[1] in ",;}":  # PolLux conversions leave a stray '}' in arrays
                self.i += 1
                continue
            items.append(self.value())
        if not items or not isinstance(items[0], int):
            raise InputError(f"{self.file}: an array in the header does not start with its count ({items[:3]!r})")
        count, values = items[0], items[1:]
        if count != len(values):
            raise InputError(f"{self.file}: an array in the header says it holds {count} values but lists "
                             f"{len(values)}; the header is inconsistent (edited or truncated)")
        return values


def _number(word: str) -> Any:
    for kind in (int, float):
        try:
            return kind(word)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(word.lower(), word)


def parse_header(file: Path) -> dict[str, Any]:
    """Parse an STXM_Control ``.hdr`` file into nested dicts and lists (arrays without their count).

    Parameters
    ----------
    file : Path
        The header.

    Returns
    -------
    dict
        Top-level keys (``ScanDefinition``, ``ImageScan``, ``Image0``, ...) to values.
    """
    try:
        text = file.read_text(encoding="latin-1")
    except OSError as exc:
        raise InputError(f"{file}: cannot read the header ({exc})") from None
    header = _Parser(text, file).fields(None)
    if not isinstance(header.get("ScanDefinition"), dict):
        raise InputError(f"{file}: no 'ScanDefinition' block; this is not an STXM_Control header")
    return header


@dataclass(frozen=True)
class _Scan:
    """What the header says about one region of a scan."""

    kind: str
    flags: str
    n_regions: int
    channels: list[str]
    energies: list[float]
    x_um: np.ndarray
    y_um: np.ndarray
    images: dict[int, dict[str, Any]]


def _axis_points(axis: Any, file: Path, name: str) -> np.ndarray:
    if not isinstance(axis, dict) or "Points" not in axis:
        raise InputError(f"{file}: the header has no {name}.Points; cannot place the pixels")
    return np.asarray([float(v) for v in axis["Points"]], dtype=float)


def _scan(header: dict[str, Any], file: Path, region: int) -> _Scan:
    sd = header["ScanDefinition"]
    regions = [r for r in sd.get("Regions", []) if isinstance(r, dict)]
    if not regions:
        raise InputError(f"{file}: the header lists no scan regions (ScanDefinition.Regions)")
    if not 0 <= region < len(regions):
        raise InputError(f"{file}: region {region} asked for, the scan has {len(regions)} (0..{len(regions) - 1})")
    reg = regions[region]
    chans = [c.get("Name", f"channel{i}") for i, c in enumerate(sd.get("Channels", [])) if isinstance(c, dict)]
    stack_axis = sd.get("StackAxis", {})
    energies = [float(v) for v in stack_axis.get("Points", [])] if isinstance(stack_axis, dict) else []
    images = _image_entries(header, region)
    x_um = _axis_points(reg.get("PAxis"), file, "PAxis")
    y_um = _axis_points(reg.get("QAxis"), file, "QAxis") if "QAxis" in reg else np.zeros(1)
    return _Scan(str(sd.get("Type", "")), str(sd.get("Flags", "")), len(regions), chans or ["counts"], energies,
                 x_um, y_um, images)


def _step(points: np.ndarray) -> float | None:
    if points.size < 2:
        return None
    step = round(float(np.median(np.abs(np.diff(points)))), 6)  # the header prints positions to 1 nm
    return step if step > 0 else None


def read_xim(file: Path, shape: tuple[int, int]) -> np.ndarray:
    """Read one ``.xim`` image (text rows, tab separated, trailing tab, LF or CRLF) of ``shape`` (rows, cols).

    Parameters
    ----------
    file : Path
        The image file.
    shape : (int, int)
        Rows (QAxis points) and columns (PAxis points) the header promises.

    Returns
    -------
    ndarray
        int32 counts when every value is a whole number, else float64.
    """
    if not file.exists():
        raise InputError(f"{file}: image file named by the header is missing; copy every .xim file of the scan "
                         "next to its .hdr")
    rows = [line.split() for line in file.read_text(encoding="latin-1").splitlines() if line.strip()]
    n_rows, n_cols = shape
    if len(rows) != n_rows or any(len(r) != n_cols for r in rows):
        lengths = sorted({len(r) for r in rows})
        raise InputError(f"{file}: expected {n_rows} rows of {n_cols} values (QAxis x PAxis points in the header), "
                         f"found {len(rows)} rows of {lengths[:3]} values; the file is truncated or belongs to "
                         "another scan")
    try:
        data = np.asarray(rows, dtype=np.float64)
    except ValueError:
        raise InputError(f"{file}: non-numeric values in the image; the file is damaged") from None
    if np.all(np.isfinite(data)) and np.all(data == np.round(data)) and np.abs(data).max(initial=0) < 2**31:
        return data.astype(np.int32)
    return data


def _image_entries(header: dict[str, Any], region: int) -> dict[int, dict[str, Any]]:
    """Return one region's per-image entries by file number: ``ImageNNN`` (all regions), ``ImageNNN_R``."""
    images: dict[int, dict[str, Any]] = {}
    for key, value in header.items():
        m = _IMAGE_KEY.match(key)
        if m and isinstance(value, dict) and (m.group(2) is None or int(m.group(2)) == region):
            images[int(m.group(1))] = value
    return images


def _measured(entry: dict[str, Any]) -> float | None:
    value = entry.get("Energy")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _image_plan(scan: _Scan, file: Path) -> tuple[list[tuple[int, int]], str]:
    """Pairs (stack position, image file number) the header names, and the rule that matched them.

    The rules, in order (the first one the entries' measured energies agree with wins; a constant offset between
    measured and nominal energies, a monochromator calibration, is allowed): the file number is the stack position
    (BESSY II, CLS, full COSMIC stacks, stacks aborted part-way); the entries in file order are the stack's energies
    in order (COSMIC stacks cut down to some energies: ``Image003_0``, ``Image019_0`` for two energies); each
    entry's measured energy picks the nearest stack energy.
    """
    n_e = max(len(scan.energies), 1)
    if not scan.images:
        return [(i, i) for i in range(n_e)], "file number = stack position (no ImageNNN entries)"
    numbers = sorted(scan.images)
    if n_e == 1:
        if len(numbers) > 1:
            raise InputError(f"{file}: the header has {len(numbers)} ImageNNN entries (Image{numbers[0]:03d} .. "
                             f"Image{numbers[-1]:03d}) but StackAxis lists one energy; the header is inconsistent")
        return [(0, numbers[0])], "one image"
    nominal = np.asarray(scan.energies, dtype=float)
    steps = np.diff(np.unique(nominal))
    tol = max(0.5 * float(steps.min()) if steps.size else 0.0, 0.05)
    measured = {n: _measured(scan.images[n]) for n in numbers}

    def agrees(pairs: list[tuple[int, int]]) -> bool:
        return all(measured[n] is None or abs(measured[n] - nominal[p]) <= tol for p, n in pairs)  # type: ignore[operator]

    positional = [(n, n) for n in numbers] if numbers[-1] < n_e else None
    ordered = list(enumerate(numbers)) if len(numbers) == n_e else None
    if positional and agrees(positional):
        return positional, "file number = stack position"
    if ordered and agrees(ordered):
        return ordered, "entries in file order = StackAxis energies in order (file numbers of the full stack)"
    if all(measured[n] is not None for n in numbers):
        positions = [int(np.argmin(np.abs(nominal - measured[n]))) for n in numbers]  # type: ignore[operator]
        pairs = list(zip(positions, numbers, strict=True))
        if agrees(pairs) and len(set(positions)) == len(positions):
            return sorted(pairs), "measured energy of each entry = nearest StackAxis energy"
    fallback = positional or ordered
    if fallback:  # a monochromator offset larger than half a step: the layout decides, the offset is reported
        offsets = [measured[n] - nominal[p] for p, n in fallback if measured[n] is not None]  # type: ignore[operator]
        warnings.warn(f"{file}: the measured energies of the ImageNNN entries differ from the StackAxis energies by "
                      f"{min(offsets):+.3g} to {max(offsets):+.3g} eV (more than half an energy step); the images "
                      "are matched to the energies by their file numbers", UserWarning, stacklevel=5)
        return fallback, ("file number = stack position" if fallback is positional else
                          "entries in file order = StackAxis energies in order") + " (measured energies disagree)"
    raise InputError(f"{file}: cannot tell which image file holds which energy: {len(numbers)} ImageNNN entries "
                     f"(files {numbers[0]:03d} .. {numbers[-1]:03d}) for {n_e} StackAxis energies, and their measured "
                     "energies match neither the file numbers, nor the stack's order, nor one stack energy each; "
                     "the header is inconsistent (edited, or belongs to another scan)")


def _image_file(file: Path, scan: _Scan, channel: int, region: int, index: int) -> Path:
    base = file.with_suffix("")
    letter = _LETTERS[channel]
    stack = len(scan.energies) > 1
    if scan.n_regions > 1:
        name = f"{base.name}_{letter}{index:03d}{region}.xim" if stack else f"{base.name}_{letter}{region}.xim"
    elif stack:
        name = f"{base.name}_{letter}{index:03d}.xim"
    else:
        name = f"{base.name}_{letter}.xim"
        for other in (f"{base.name}_{letter}000.xim", f"{base.name}_{letter}{index:03d}.xim"):
            if not (file.parent / name).exists() and (file.parent / other).exists():
                name = other
    return file.parent / name


@dataclass(frozen=True)
class _Dropped:
    name: str
    reason: str


def _read_images(file: Path, scan: _Scan, channel: int, region: int, pairs: list[tuple[int, int]],
                 shape: tuple[int, int]) -> tuple[list[tuple[int, int]], list[np.ndarray], list[int], _Dropped | None]:
    """Read the image files the header names that exist; a stack read as far as it goes.

    Returns the pairs read, their images, the stack positions left out (no entry, or no file) and the last image
    dropped because it is incomplete (an aborted scan stops while writing it), if any. A stack with no image file
    at all, and an incomplete image other than the last one of an incomplete stack, are refused.
    """
    n_e = max(len(scan.energies), 1)
    paths = [(p, n, _image_file(file, scan, channel, region, n)) for p, n in pairs]
    present = [(p, n, path) for p, n, path in paths if path.exists()]
    if not present:
        read_xim(paths[0][2] if paths else _image_file(file, scan, channel, region, 0), shape)  # the one-line error
    named = {p for p, _ in pairs}
    missing = sorted(set(range(n_e)) - named) + [p for p, _, path in paths if not path.exists()]
    kept: list[tuple[int, int]] = []
    frames: list[np.ndarray] = []
    dropped = None
    last = max(present, key=lambda item: item[1])[1]  # the highest file number was written last
    for p, n, path in present:
        try:
            frames.append(read_xim(path, shape))
        except InputError as exc:
            if n != last or not missing or len(present) == 1:
                raise
            dropped = _Dropped(path.name, str(exc).split(": ", 1)[-1].split(";")[0])
            missing.append(p)
            continue
        kept.append((p, n))
    return kept, frames, sorted(missing), dropped


def _dwell_ms(header: dict[str, Any], energies: list[float]) -> tuple[list[float] | None, list[Any]]:
    """Per-energy dwell (ms) from ImageScan.EnergyRegions (or ScanDefinition.Dwell), and any junk values seen."""
    junk: list[Any] = []

    def valid(v: Any) -> bool:
        ok = isinstance(v, int | float) and math.isfinite(v) and 0 < v < 1e7
        if not ok:
            junk.append(v)
        return ok

    regions = header.get("ImageScan", {}).get("EnergyRegions", []) if isinstance(header.get("ImageScan"), dict) else []
    regions = [r for r in regions if isinstance(r, dict)]
    if regions and sum(int(r.get("Points", 0)) for r in regions) == len(energies):
        dwell: list[float] = []
        for r in regions:
            value = r.get("DwellTime")
            dwell += [float(value) if valid(value) else math.nan] * int(r.get("Points", 0))
        if all(math.isfinite(d) for d in dwell):
            return dwell, junk
    value = header["ScanDefinition"].get("Dwell")
    if valid(value):
        return [float(value)] * max(len(energies), 1), junk
    return None, junk


def _compact(values: list[float] | None) -> float | list[float] | None:
    """One number when every energy has the same dwell, else the list."""
    return values[0] if values and len(set(values)) == 1 else values


def _meta(header: dict[str, Any], scan: _Scan, pairs: list[tuple[int, int]], file: Path, channel: int,
          region: int) -> dict[str, Any]:
    dwell, junk = _dwell_ms(header, scan.energies)
    indices = [p for p, _ in pairs]
    numbers = [n for _, n in pairs]
    energies = [scan.energies[i] for i in indices] if scan.energies else []
    measured = [scan.images.get(n, {}).get("Energy") for n in numbers]
    ring = [scan.images.get(n, {}).get("StorageRingCurrent", header.get("StorageRingCurrent")) for n in numbers]
    x_step, y_step = _step(scan.x_um), _step(scan.y_um)
    extra: dict[str, Any] = {
        "format": "STXM_Control .hdr/.xim",
        "scan_type": scan.kind,
        "channel": scan.channels[channel] if channel < len(scan.channels) else str(channel),
        "region": region,
        "n_regions": scan.n_regions,
        "image_indices": indices,
        "image_files": numbers,
        "x_um": [float(scan.x_um[0]), float(scan.x_um[-1])],
        "y_um": [float(scan.y_um[0]), float(scan.y_um[-1])],
        "pixel_size_x_um": x_step,
        "pixel_size_y_um": y_step,
        "dwell_ms": _compact([dwell[i] for i in indices] if dwell and len(dwell) == len(scan.energies) else dwell),
        "measured_energies_ev": [float(v) if isinstance(v, int | float) else None for v in measured],
        "ring_current_ma": [float(v) if isinstance(v, int | float) else None for v in ring],
        "time": header["ScanDefinition"].get("Time") or header.get("Time"),
    }
    if junk:
        extra["dwell_invalid_values"] = [str(v) for v in junk]
    if x_step and y_step and abs(x_step - y_step) > 1e-3 * x_step:
        extra["pixels_not_square"] = True
    return {"pixel_size": x_step or y_step, "pixel_unit": "um" if (x_step or y_step) else None,
            "energies": energies or None, "extra": extra}


def _read_spectra(file: Path, header: dict[str, Any], scan: _Scan) -> Raw:
    """Point spectra: one ``.xsp`` per region -> EYX with Y = 1 and one column per point."""
    energies = scan.x_um  # PAxis is Energy for point scans
    columns = []
    for r in range(scan.n_regions):
        path = file.with_name(f"{file.with_suffix('').name}_{r}.xsp")
        table = read_xim(path, (energies.size, 2)).astype(np.float64)
        if not np.allclose(table[:, 0], energies, atol=1e-3):
            raise InputError(f"{path}: its energies differ from the header's PAxis points; the spectrum belongs to "
                             "another scan")
        columns.append(table[:, 1])
    data = np.stack(columns, axis=1)[:, None, :]
    regions = header.get("ImageScan", {}).get("SpatialRegions", [])
    points = [[r.get("CentreXPos"), r.get("CentreYPos")] for r in regions if isinstance(r, dict)]
    dwell, junk = _dwell_ms(header, list(energies))
    extra = {"format": "STXM_Control .hdr/.xsp", "scan_type": scan.kind, "point_positions_um": points,
             "layout": "point spectra: Y = 1, one X column per point region", "dwell_ms": _compact(dwell),
             "ring_current_ma": [scan.images.get(i, {}).get("StorageRingCurrent") for i in sorted(scan.images)]}
    if junk:
        extra["dwell_invalid_values"] = [str(v) for v in junk]
    if np.all(data == np.round(data)):
        data = data.astype(np.int32)
    return Raw(data, "EYX", {"energies": [float(e) for e in energies], "extra": extra})


def read_hdr(file: Path, *, region: int = 0, channel: int = 0) -> Raw:
    """Read one region and detector channel of an STXM_Control scan as ``EYX`` (rows follow QAxis)."""
    header = parse_header(file)
    scan = _scan(header, file, region)
    if scan.flags in ("Spectra", "Multi-Region Spectra") or scan.kind == "NEXAFS Point Scan":
        return _read_spectra(file, header, scan)
    if not 0 <= channel < len(scan.channels):
        raise InputError(f"{file}: channel {channel} asked for, the scan has {len(scan.channels)} ({scan.channels})")
    if scan.kind.endswith("Line Scan"):
        raise InputError(f"{file}: {scan.kind!r} scans are not read yet; operando reads image scans, image "
                         "stacks and point spectra")
    pairs, rule = _image_plan(scan, file)
    shape = (scan.y_um.size, scan.x_um.size)
    pairs, frames, missing, dropped = _read_images(file, scan, channel, region, pairs, shape)
    data = np.stack(frames).astype(np.result_type(*frames))
    meta = _meta(header, scan, pairs, file, channel, region)
    meta["extra"]["image_mapping"] = rule
    if missing:
        lost = [scan.energies[i] for i in missing]
        meta["extra"]["missing_energies_ev"] = lost
        why = f" (the last image, {dropped.name}, is incomplete: {dropped.reason})" if dropped else ""
        warnings.warn(f"{file}: the header lists {len(scan.energies)} energies, {len(frames)} images were found "
                      f"(an aborted or cut-down stack){why}; read the {len(frames)}, missing "
                      f"{', '.join(f'{e:g}' for e in lost)} eV", UserWarning, stacklevel=4)
    if scan.n_regions > 1:
        warnings.warn(f"{file}: the scan has {scan.n_regions} regions; read region {region} "
                      "(operando.io.read_stxm(path, region=k) reads another)", UserWarning, stacklevel=4)
    return Raw(data, "EYX", meta)


def read(file: Path, inner: str | None, *, lazy: bool) -> Raw:
    """Read an STXM_Control ``.hdr`` scan (images as ``EYX``; point spectra as ``EYX`` with one row)."""
    return read_hdr(file)


def _format_points(values: np.ndarray | list[float], digits: int = 3) -> str:
    return f"({len(values)}, " + ", ".join(f"{float(v):.{digits}f}" for v in values) + ")"


def write(stack: Stack, data: np.ndarray, file: Path, inner: str | None) -> None:
    """Write an ``EYX`` (or ``YX``) stack as STXM_Control ``.hdr`` + ``base_a000.xim`` files, each atomically.

    Pixel positions start at 0 um (or at ``metadata.extra["x_um"][0]``) with the stack's pixel size; dwell and
    ring current come from ``metadata.extra`` when present.
    """
    axes = stack.axes
    if axes == "YX":
        data, axes = data[None], "EYX"
    if axes != "EYX":
        raise InputError(f"{file}: STXM .hdr/.xim holds EYX stacks, got axes {stack.axes!r}; write a series as one "
                         "file per time point")
    meta = stack.metadata
    extra = meta.extra or {}
    n_e, n_y, n_x = data.shape
    energies = list(meta.energies or [0.0] * n_e)
    step = length_in(float(meta.pixel_size or 1.0), meta.pixel_unit, "um")
    x0 = float((extra.get("x_um") or [0.0])[0])
    y0 = float((extra.get("y_um") or [0.0])[0])
    xs, ys = x0 + step * np.arange(n_x), y0 + step * np.arange(n_y)
    dwell = np.broadcast_to(np.asarray(extra.get("dwell_ms") or 1.0, dtype=float), (n_e,)).tolist()
    ring = extra.get("ring_current_ma") or [None] * n_e
    ring = ring if len(ring) == n_e else [None] * n_e
    lines = [
        f'ScanDefinition = {{ Label = "{file.name}"; Type = "{"NEXAFS Image Scan" if n_e > 1 else "Image Scan"}"; '
        f'Flags = "{"Image Stack" if n_e > 1 else "Image"}"; Dwell = {float(dwell[0]):g};',
        "\tRegions = (1,", "{",
        f'\t\t\tPAxis = {{ Name = "Sample X"; Unit = "um"; Min = {xs[0]:.4f}; Max = {xs[-1]:.4f}; Dir = 1;',
        f"\t\t\t\tPoints = {_format_points(xs, 4)};", "};", "",
        f'\t\t\tQAxis = {{ Name = "Sample Y"; Unit = "um"; Min = {ys[0]:.4f}; Max = {ys[-1]:.4f}; Dir = 1;',
        f"\t\t\t\tPoints = {_format_points(ys, 4)};", "};", "});", "",
        f'\tStackAxis = {{ Name = "Energy"; Unit = "eV"; Min = {min(energies):g}; Max = {max(energies):g}; Dir = 1;',
        f"\t\tPoints = {_format_points(energies)};", "};", "",
        '\tChannels = (1,', '{ Name = "Counts"; Unit = "counts";});', "};",
        "ImageScan = { ScanType = \"Image (Point by Point)\"; SingleEnergy = " + ("false" if n_e > 1 else "true") + ";",
        "\tEnergyRegions = (" + str(n_e) + ",",
        ",\n".join(f"{{ StartEnergy = {e:g}; EndEnergy = {e:g}; Range = 0; Step = 0; Points = 1; "
                   f"DwellTime = {float(d):g};}}" for e, d in zip(energies, dwell, strict=False)) + ");", "};",
    ]
    for i, e in enumerate(energies):
        current = f"StorageRingCurrent = {float(ring[i]):.3f}; " if ring[i] is not None else ""
        lines.append(f"Image{i:03d} = {{{current}Energy = {e:.3f};}};")
    integral = data.dtype.kind in "iu"
    for i in range(n_e):
        name = f"{file.with_suffix('').name}_a{i:03d}.xim" if n_e > 1 else f"{file.with_suffix('').name}_a.xim"
        rows = ["\t".join(str(int(v)) if integral else f"{float(v):.6g}" for v in row) + "\t" for row in data[i]]
        with atomic_path(file.parent / name) as tmp:
            tmp.write_text("\n".join(rows) + "\n", encoding="latin-1")
    with atomic_path(file) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="latin-1")


def read_stxm(path: str | os.PathLike, *, region: int = 0, channel: int = 0) -> Stack:
    """Read one region and detector channel of an STXM_Control ``.hdr`` scan.

    Parameters
    ----------
    path : str or path
        The ``.hdr`` file; its ``.xim`` (or ``.xsp``) files must lie beside it.
    region : int
        Region of a multi-region scan (0-based).
    channel : int
        Detector channel (0 is ``_a``, 1 is ``_b``, ...).

    Returns
    -------
    Stack
        Counts as ``EYX`` (rows follow QAxis, columns PAxis) with energies (StackAxis), pixel size (um), dwell
        (ms), measured energies and ring current (mA) per image in the metadata.
    """
    file = Path(path)
    if not file.exists():
        raise InputError(f"{file}: no such file; check the path")
    raw = read_hdr(file, region=region, channel=channel)
    meta = Metadata.from_dict(raw.meta).replace(source=os.fspath(file), original_dtype=str(raw.data.dtype))
    return Stack(raw.data, axes=raw.axes or "EYX", metadata=meta)
