"""Physical units in one place: one pint registry, canonical spellings, and the names other formats use.

operando stores a unit as a short ASCII spelling (``"um"``, ``"nm"``, ``"s"``, ``"eV"``). Everything a file or a
user writes (``"µm"``, ``"micron"``, ``"nanometre"``, ``"microsecond"``) goes through :func:`length_unit`,
:func:`time_unit` or :func:`energy_unit`, and every other tool's spelling comes from one function here:
:func:`ngff_unit` (OME-NGFF / UDUNITS-2), :func:`imagej_unit` (Fiji), :func:`ome_unit` (OME-XML).

The pint registry is built on first use, so ``import operando`` does not import pint.
"""

from __future__ import annotations

import functools
import math
import re
import tokenize
from typing import Any, Literal

from ._errors import InputError

Kind = Literal["length", "time", "energy"]

#: Canonical spellings by size in the base unit (metre, second, electronvolt); other units keep pint's symbol.
_CANONICAL: dict[str, tuple[tuple[float, str], ...]] = {
    "length": ((1e-12, "pm"), (1e-10, "angstrom"), (1e-9, "nm"), (1e-6, "um"), (1e-3, "mm"), (1e-2, "cm"),
               (1.0, "m"), (1e3, "km")),
    "time": ((1e-9, "ns"), (1e-6, "us"), (1e-3, "ms"), (1.0, "s"), (60.0, "min"), (3600.0, "h"), (86400.0, "d")),
    "energy": ((1e-3, "meV"), (1.0, "eV"), (1e3, "keV"), (1e6, "MeV")),
}
_BASE = {"length": "m", "time": "s", "energy": "eV"}
_DIMENSION = {"length": "[length]", "time": "[time]", "energy": "[energy]"}
_EXAMPLES = {"length": "'um', 'nm' or 'mm'", "time": "'s', 'ms' or 'min'", "energy": "'eV' or 'keV'"}
#: Spellings that mean "no physical calibration" (pint would read ``px`` as a CSS pixel, 1/96 inch).
_UNCALIBRATED = frozenset({"", "px", "pixel", "pixels", "1", "none", "a.u.", "au", "arb"})
#: What ImageJ writes for a unit that is not plain ASCII (ImageJ writes ``unit=micron`` for µm).
_IMAGEJ = {"um": "micron", "angstrom": "A"}  # ImageJ's "A" is Ångström (its Calibration converts it)
_IMAGEJ_BACK = {"micron": "um", "microns": "um", "A": "angstrom", "u": "um"}
_OME = {"um": "µm", "us": "µs", "angstrom": "Å"}
#: Characters a unit may hold (pint's tokenizer would silently drop others: "furlongs!" -> furlong).
_UNIT_CHARS = re.compile(r"[\w\s.*/^()+\-µμÅ°]*")


@functools.lru_cache(maxsize=1)
def registry() -> Any:
    """Return operando's one :class:`pint.UnitRegistry` (built on first use)."""
    import pint

    return pint.UnitRegistry()


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise InputError(f"unit {text!r} is not a string; give one such as 'um', 's' or 'eV'")
    return _parse_text(text)


@functools.lru_cache(maxsize=256)
def _parse_text(text: str) -> Any:
    import pint

    clean = text.strip()
    if not _UNIT_CHARS.fullmatch(clean):
        raise InputError(f"unknown unit {text!r}; give a unit pint understands, such as 'um', 's' or 'eV'")
    if clean.lower() in _UNCALIBRATED:
        raise InputError(f"unit {text!r} is not a physical unit (uncalibrated pixels); give one such as 'um'")
    try:
        return registry().parse_units(clean)
    except (pint.errors.PintError, ValueError, TypeError, AttributeError, SyntaxError, AssertionError,
            tokenize.TokenError):  # pint's parser asserts on '*', 'um/', '^' and cannot tokenize '(' or 'm)'
        raise InputError(f"unknown unit {text!r}; give a unit pint understands, such as 'um', 's' or 'eV'") from None


def _canonical(text: Any, kind: Kind) -> str:
    if not isinstance(text, str):
        raise InputError(f"unit {text!r} is not a string; give a {kind} unit such as {_EXAMPLES[kind]}")
    return _canonical_text(text, kind)


@functools.lru_cache(maxsize=512)
def _canonical_text(text: str, kind: Kind) -> str:
    article = "an" if kind == "energy" else "a"
    if text.strip().lower() in _UNCALIBRATED:
        raise InputError(f"unit {text!r} is not a physical unit (uncalibrated pixels); give {article} {kind} unit "
                         f"such as {_EXAMPLES[kind]}")
    try:
        unit = _parse(text)
    except InputError:
        raise InputError(f"unknown unit {text!r}; give {article} {kind} unit such as {_EXAMPLES[kind]}") from None
    if not (1 * unit).check(_DIMENSION[kind]):
        raise InputError(f"unit {text!r} is not {article} {kind} unit ({unit.dimensionality}); give one such as "
                         f"{_EXAMPLES[kind]}")
    size = (1 * unit).to(_BASE[kind]).magnitude
    for value, name in _CANONICAL[kind]:
        if math.isclose(size, value, rel_tol=1e-9):
            return name
    return f"{unit:~}".replace("µ", "u").replace("μ", "u")


def length_unit(text: str) -> str:
    """Return the canonical short spelling of a length unit.

    Parameters
    ----------
    text : str
        Any spelling pint parses: ``"um"``, ``"µm"``, ``"μm"``, ``"micron"``, ``"micrometer"``, ``"nanometre"``.

    Returns
    -------
    str
        ``"pm"``, ``"angstrom"``, ``"nm"``, ``"um"``, ``"mm"``, ``"cm"``, ``"m"`` or ``"km"`` (other lengths keep
        pint's symbol, e.g. ``"in"``).

    Raises
    ------
    InputError
        Unknown unit, a unit of another dimension, or ``"px"`` / ``"pixel"`` (uncalibrated).

    Examples
    --------
    >>> length_unit("micron")
    'um'
    """
    return _canonical(text, "length")


def time_unit(text: str) -> str:
    """Return the canonical short spelling of a time unit.

    ``"ns"``, ``"us"``, ``"ms"``, ``"s"``, ``"min"``, ``"h"`` or ``"d"``, from any spelling pint parses
    (``"microsecond"``, ``"µs"``, ``"minutes"``); :class:`InputError` for anything else.
    """
    return _canonical(text, "time")


def energy_unit(text: str) -> str:
    """Return the canonical short spelling of an energy unit.

    ``"meV"``, ``"eV"``, ``"keV"`` or ``"MeV"``; :class:`InputError` for anything else.
    """
    return _canonical(text, "energy")


def unit_kind(text: Any) -> Kind | None:
    """Return ``"length"``, ``"time"`` or ``"energy"`` for a unit of that dimension, else None (never raises)."""
    for kind in ("length", "time", "energy"):
        try:
            _canonical(text, kind)  # type: ignore[arg-type]
        except InputError:
            continue
        return kind  # type: ignore[return-value]
    return None


def maybe_length_unit(text: Any) -> str | None:
    """Return :func:`length_unit` of ``text``, or None when it is missing, uncalibrated or not a length."""
    try:
        return length_unit(text) if text is not None else None
    except InputError:
        return None


def length_in(value: float, unit: str | None, target: str = "um") -> float:
    """Return a length given in ``unit`` in ``target``; a missing or uncalibrated unit (``px``) counts as ``target``.

    Examples
    --------
    >>> length_in(15.0, "nm")
    0.015
    """
    known = maybe_length_unit(unit)
    return convert(value, known, target) if known and known != length_unit(target) else float(value)


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` from one unit to another (any units pint parses).

    Raises
    ------
    InputError
        Unknown units, or units of different dimensions (``convert(1, "um", "s")``).

    Examples
    --------
    >>> convert(0.02, "um", "nm")
    20.0
    """
    import pint

    source, target = _parse(from_unit), _parse(to_unit)
    try:
        out = float((value * source).to(target).magnitude)
    except pint.errors.DimensionalityError:
        raise InputError(f"cannot convert {from_unit!r} ({source.dimensionality}) to {to_unit!r} "
                         f"({target.dimensionality}); the units measure different things") from None
    return float(f"{out:.15g}")  # 0.02 um -> 20.0 nm, not 20.000000000000004


def _any_canonical(text: str) -> tuple[str, Kind]:
    kind = unit_kind(text)
    if kind is None:
        _parse(text)  # the unknown-unit message when pint cannot read it
        raise InputError(f"unit {text!r} is not a length, time or energy unit; give one such as 'um', 's' or 'eV'")
    return _canonical(text, kind), kind


def ngff_unit(text: str) -> str:
    """Return the OME-NGFF (UDUNITS-2) name of a length, time or energy unit.

    ``"micrometer"``, ``"nanometer"``, ``"second"``, ``"millisecond"``, ``"minute"``, ``"electronvolt"``, ...
    """
    name, _ = _any_canonical(text)
    return str(registry().Unit(name)).replace("_", "")


def imagej_unit(text: str) -> str:
    """Return the length unit as ImageJ / Fiji writes it in a TIFF (``"micron"`` for um, shown as µm)."""
    name = length_unit(text)
    return _IMAGEJ.get(name, name)


def from_imagej_unit(text: str) -> str:
    """Return the canonical length unit for an ImageJ unit (``"micron"``, ``"µm"``, ``"nm"``, ``"A"``, ...).

    Raises :class:`InputError` for ImageJ's ``"pixel"`` (an uncalibrated image) or a non-length unit.
    """
    clean = text.strip() if isinstance(text, str) else text
    return length_unit(_IMAGEJ_BACK.get(clean, clean))


def ome_unit(text: str) -> str:
    """Return the OME-XML unit symbol (``UnitsLength`` / ``UnitsTime``) of a length, time or energy unit.

    ``"µm"``, ``"nm"``, ``"Å"``, ``"s"``, ``"ms"``, ``"µs"``, ``"eV"``, ...
    """
    name, _ = _any_canonical(text)
    return _OME.get(name, name)
