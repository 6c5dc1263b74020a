"""Battery cycler data (time, current, voltage): half-cycles, capacity, coulombic efficiency, frame alignment."""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._errors import InputError
from .._units import convert


@dataclass(frozen=True)
class _Quantity:
    """A cycler column: the names exports give it (lower-cased, spaces removed) and the SI unit it is read in."""

    names: tuple[str, ...]
    si: str
    examples: tuple[str, str]


# Common exports (BioLogic, Arbin, Neware, ...): NAME/UNIT, NAME(UNIT) or NAME_UNIT with any unit pint reads;
# the bare first name ("time", "current", "voltage") is in the SI unit.
_TIME = _Quantity(("time", "test_time", "testtime", "totaltime"), "s", ("time/s", "time_min"))
_CURRENT = _Quantity(("current", "i", "<i>"), "A", ("i/ma", "current_a"))
_VOLTAGE = _Quantity(("voltage", "ewe", "ecell", "u"), "V", ("ewe/v", "voltage_v"))
#: NAME/UNIT, NAME(UNIT), NAME_UNIT (the last separator splits: ``test_time(s)``, ``control/v/ma``).
_WITH_UNIT = tuple(re.compile(p) for p in (r"(.+)/([^/]+)", r"(.+)\(([^()]+)\)", r"(.+)_([^_]+)"))
#: A cycler unit is a (prefixed) unit name: letters only (``ma``, ``µa``, ``min``; ``ma.h`` is a capacity).
_UNIT = re.compile(r"[a-zµμ]+")


@dataclass(frozen=True)
class CyclerData:
    """Cycler samples in SI units: time (s), current (A, positive = charge), voltage (V, or NaN)."""

    time_s: np.ndarray
    current_a: np.ndarray
    voltage_v: np.ndarray
    columns: tuple[str, str, str | None]


@dataclass(frozen=True)
class HalfCycle:
    """One constant-sign current segment: ``charge`` or ``discharge``, its times and charge passed (Ah)."""

    kind: str
    start_s: float
    end_s: float
    charge_ah: float


def _factor(column: str, quantity: _Quantity) -> float | None:
    """Return the factor from a column's unit to the quantity's SI unit, or None when the column is not that quantity.

    The column is lower-cased, so an electrical unit's last letter is read upper-case when pint does not take the
    lower-case one as a unit of that quantity (``ma`` is mA, ``mv`` mV; pint's ``a`` would be a year).
    """
    if column == quantity.names[0]:
        return 1.0
    for pattern in _WITH_UNIT:
        match = pattern.fullmatch(column)
        if match is None or match[1] not in quantity.names or not _UNIT.fullmatch(match[2]):
            continue
        unit = match[2]
        for spelling in dict.fromkeys((unit, unit[:-1] + unit[-1].upper())):
            try:
                return convert(1.0, spelling, quantity.si)
            except InputError:
                continue
    return None


def _find(header: list[str], quantity: _Quantity, what: str, required: bool) -> tuple[int, float] | None:
    """Return the index and the factor to SI units of the first column that holds ``quantity``."""
    norm = [re.sub(r"\s+", "", h.strip().lower()) for h in header]
    for i, name in enumerate(norm):
        factor = _factor(name, quantity)
        if factor is not None:
            return i, factor
    if required:
        raise InputError(f"cycler file has no {what} column (columns: {', '.join(header)}); name it e.g. "
                         f"{quantity.examples[0]!r} or {quantity.examples[1]!r}")
    return None


def parse_cycler_text(text: str, *, charge_sign: int = 1) -> CyclerData:
    """Parse a cycler export (comma, semicolon or tab separated) with time, current and voltage columns.

    Recognised names (case and spaces ignored): time ``time/s``, ``Test_Time(s)``, ``time_s``, ``time(h)``;
    current ``I/mA`` (BioLogic), ``Current(A)`` (Arbin/Neware), ``current_a``, ``current(mA)``; voltage
    ``Ewe/V``, ``Ecell/V``, ``Voltage(V)``, ``voltage_v``. The unit may be any of its kind that pint reads
    (``min``, ``ms``, ``uA``, ``mV``, ...); ``time``, ``current`` and ``voltage`` alone are s, A and V.

    Parameters
    ----------
    text : str
        The file's text.
    charge_sign : {1, -1}
        Sign of the current while charging in the file.

    Returns
    -------
    CyclerData
        Time-sorted samples in s, A (positive = charge) and V.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 3:
        raise InputError(f"cycler file has {len(lines)} non-empty lines; need a header and >= 2 samples")
    delimiter = max(",;\t", key=lines[0].count)
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    header = rows[0]
    t_col = _find(header, _TIME, "time", True)
    i_col = _find(header, _CURRENT, "current", True)
    v_col = _find(header, _VOLTAGE, "voltage", False)
    assert t_col is not None and i_col is not None
    try:
        values = np.array([[float(r[c].replace(",", ".") if delimiter != "," else r[c]) for c in
                            (t_col[0], i_col[0], *(v_col[:1] if v_col else ()))] for r in rows[1:]])
    except (ValueError, IndexError) as exc:
        raise InputError(f"cycler file has a row that is not numbers ({exc}); remove comment lines") from None
    if not np.isfinite(values).all():
        raise InputError("cycler file holds NaN or inf values; remove or fill those rows")
    if not np.any(values[:, 1] != 0):
        raise InputError(f"the cycler's current column {header[i_col[0]]!r} is zero in every row; there is no charge "
                         "or discharge to align the frames with")
    if v_col is None:
        warnings.warn(f"cycler file has no voltage column (columns: {', '.join(header)}); the voltage is left out "
                      "(name it e.g. 'voltage_v' or 'Ewe/V' to include it)", UserWarning, stacklevel=2)
    order = np.argsort(values[:, 0], kind="stable")
    values = values[order]
    voltage = values[:, 2] * v_col[1] if v_col else np.full(len(values), np.nan)
    return CyclerData(values[:, 0] * t_col[1], charge_sign * values[:, 1] * i_col[1], voltage,
                      (header[t_col[0]], header[i_col[0]], header[v_col[0]] if v_col else None))


def read_cycler_csv(path: str | os.PathLike, *, charge_sign: int = 1) -> CyclerData:
    """Read a cycler CSV export (see :func:`parse_cycler_text` for the columns understood).

    Parameters
    ----------
    path : str or path
        The file.
    charge_sign : {1, -1}
        Sign of the charging current in the file.

    Returns
    -------
    CyclerData
        The samples in SI units.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such cycler file; check the path")
    return parse_cycler_text(file.read_text(encoding="utf-8", errors="replace"), charge_sign=charge_sign)


def half_cycles(data: CyclerData, *, min_current_a: float | None = None) -> list[HalfCycle]:
    """Split the record into charge and discharge segments (rests between them are skipped).

    Parameters
    ----------
    data : CyclerData
        Samples.
    min_current_a : float, optional
        Currents with a smaller magnitude count as rest (default 1 % of the largest).

    Returns
    -------
    list of HalfCycle
        Segments in time order, each lasting until the sample where the current changed, with the charge
        passed (|I| held over each sample interval, in Ah).
    """
    t, i = data.time_s, data.current_a
    floor = 0.01 * float(np.max(np.abs(i))) if min_current_a is None else min_current_a
    sign = np.where(i > floor, 1, np.where(i < -floor, -1, 0))
    out: list[HalfCycle] = []
    start = None
    for k in range(len(t) + 1):
        current = sign[k] if k < len(t) else 0
        if start is not None and current != sign[start]:
            # the segment lasts until the sample where the current changed (the last sample if none did)
            stop = min(k, len(t) - 1)
            ah = float(np.sum(np.abs(i[start:stop]) * np.diff(t[start:stop + 1])) / 3600.0) if stop > start else 0.0
            out.append(HalfCycle("charge" if sign[start] > 0 else "discharge", float(t[start]), float(t[stop]), ah))
            start = None
        if start is None and current != 0:
            start = k
    return out


def coulombic_efficiency(segments: Sequence[HalfCycle]) -> list[dict[str, float]]:
    """Pair each charge with the discharge after it: capacities (Ah) and coulombic efficiency per cycle.

    Parameters
    ----------
    segments : sequence of HalfCycle
        From :func:`half_cycles`.

    Returns
    -------
    list of dict
        ``cycle``, ``charge_ah``, ``discharge_ah``, ``coulombic_efficiency`` (= discharge / charge).
    """
    rows = []
    for a, b in zip(segments, segments[1:], strict=False):
        if a.kind == "charge" and b.kind == "discharge":
            rows.append({"cycle": len(rows) + 1, "charge_ah": a.charge_ah, "discharge_ah": b.charge_ah,
                         "coulombic_efficiency": b.charge_ah / a.charge_ah if a.charge_ah > 0 else float("nan")})
    return rows


def frame_boundaries(frame_times_s: Sequence[float], segments: Sequence[HalfCycle]) -> list[int]:
    """Return the frame indices bounding the half-cycles: the last frame at or before each segment's start/end.

    Parameters
    ----------
    frame_times_s : sequence of float
        Acquisition time of each frame on the cycler's clock.
    segments : sequence of HalfCycle
        Half-cycles.

    Returns
    -------
    list of int
        ``[start of the first, end of each]``; consecutive duplicates (a half-cycle shorter than a frame
        interval) are dropped.
    """
    times = np.asarray(frame_times_s, np.float64)
    if not segments:
        raise InputError("the cycler record has no charge or discharge segment")
    marks = [segments[0].start_s] + [s.end_s for s in segments]
    out: list[int] = []
    for m in marks:
        idx = int(np.searchsorted(times, m + 1e-9, side="right") - 1)
        idx = min(max(idx, 0), len(times) - 1)
        if not out or idx > out[-1]:
            out.append(idx)
    if len(out) < 2:
        raise InputError(f"the frames ({times[0]:.0f}-{times[-1]:.0f} s) do not span a half-cycle of the cycler "
                         "record; check the frame times share the cycler's clock")
    return out


def charge_at(data: CyclerData, times_s: Sequence[float]) -> np.ndarray:
    """Return the net charge passed since the start of the record (Ah, charge positive) at the given times.

    Parameters
    ----------
    data : CyclerData
        Samples.
    times_s : sequence of float
        Times on the cycler's clock.

    Returns
    -------
    ndarray
        Cumulative charge, interpolated.
    """
    t, i = data.time_s, data.current_a
    cumulative = np.concatenate([[0.0], np.cumsum(i[:-1] * np.diff(t))]) / 3600.0  # each sample held
    return np.interp(np.asarray(times_s, np.float64), t, cumulative)
