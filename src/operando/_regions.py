"""One way to name a rectangle of pixels: ``"y0:y1,x0:x1"``.

Rows then columns, each a half-open range as in numpy slicing (``image[y0:y1, x0:x1]``). The command line and
every run configuration take this spelling; the older ``y0:y1:x0:x1`` and ``[y0, y1, x0, x1]`` are refused
with the new spelling named.

>>> parse_region("0:40,10:1500")
Region(y0=0, y1=40, x0=10, x1=1500)
>>> format_region(Region(0, 40, 10, 1500))
'0:40,10:1500'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from ._errors import InputError

__all__ = ["Region", "as_region", "check_region", "format_region", "parse_region"]

SPELLING = "y0:y1,x0:x1"
_PATTERN = re.compile(r"^\s*(-?\d+)\s*:\s*(-?\d+)\s*,\s*(-?\d+)\s*:\s*(-?\d+)\s*$")


class Region(NamedTuple):
    """A rectangle of pixels: rows ``y0:y1`` and columns ``x0:x1``, end exclusive."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(slice(y0, y1), slice(x0, x1))``, to index an image."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def __str__(self) -> str:
        return format_region(self)


def _refuse(text: Any, option: str, why: str) -> InputError:
    return InputError(f"{option} {text!r}: {why}; give rows and columns as '{SPELLING}' (pixels, end exclusive, "
                      "e.g. '0:40,10:200')")


def parse_region(text: str, option: str = "region") -> Region:
    """Parse ``"y0:y1,x0:x1"`` into a :class:`Region` with ``0 <= y0 < y1`` and ``0 <= x0 < x1``.

    Parameters
    ----------
    text : str
        The region, rows then columns.
    option : str
        The option or field the text came from, named in the error.

    Raises
    ------
    InputError
        For another spelling (``y0:y1:x0:x1``, a list), a non-integer bound or an empty or negative range.
    """
    match = _PATTERN.match(str(text))
    if match is None:
        old = re.match(r"^\s*\[?\s*-?\d+\s*[:,]\s*-?\d+\s*[:,]\s*-?\d+\s*[:,]\s*-?\d+\s*\]?\s*$", str(text))
        raise _refuse(text, option, "that spelling is no longer read" if old else "not a region")
    return check_region(tuple(int(v) for v in match.groups()), option)


def check_region(bounds: Sequence[int], option: str = "region") -> Region:
    """Check four bounds ``(y0, y1, x0, x1)`` and return them as a :class:`Region`."""
    if len(bounds) != 4:
        raise _refuse(bounds, option, "four bounds are needed")
    y0, y1, x0, x1 = (int(v) for v in bounds)
    if not (0 <= y0 < y1 and 0 <= x0 < x1):
        raise _refuse(format_region((y0, y1, x0, x1)), option, "the ranges must be non-empty with 0 <= start < end")
    return Region(y0, y1, x0, x1)


def as_region(value: Any, option: str = "region") -> Region:
    """Return a :class:`Region` from its text or from a Region (for configs that are built in Python)."""
    if isinstance(value, Region):
        return check_region(value, option)
    if isinstance(value, str):
        return parse_region(value, option)
    raise _refuse(value, option, "not a region")


def format_region(region: Sequence[int]) -> str:
    """Return the text ``"y0:y1,x0:x1"`` of a region."""
    y0, y1, x0, x1 = region
    return f"{y0}:{y1},{x0}:{x1}"
