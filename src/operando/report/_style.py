"""The ONE figure style: how every operando figure is made, coloured and saved.

Figures are made with matplotlib's object-oriented API (:class:`matplotlib.figure.Figure` on an Agg canvas),
never through ``pyplot``: no backend is chosen, no global figure list grows, and a library call never opens a
window or changes the backend of the program that called it. Every figure module (``report`` here; the STXM,
neutron and optical figures in their pipeline packages) makes its figures with :func:`new_figure`, draws images
with :func:`show_image` (or the colour maps below), and writes them with :func:`save_figure`, which writes
atomically (:func:`operando._files.atomic_path`): a failed or cancelled save leaves no partial file.

Colour maps: :data:`SEQUENTIAL_CMAP` for intensities and fractions, :data:`DIVERGING_CMAP` centred on 0 for
signed data (differences, Delta A, residuals; :func:`signed_limits`), :data:`GREY_CMAP` for a background under
outlines, :data:`CATEGORICAL_CMAP` for one colour per item (:func:`colours`). NaN pixels are drawn in
:data:`NAN_COLOUR`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._errors import InputError
from .._files import atomic_path

#: Colour map of intensities, fractions, any unsigned image.
SEQUENTIAL_CMAP = "viridis"
#: Colour map of signed data (differences, Delta A, residuals), drawn symmetric about 0.
DIVERGING_CMAP = "RdBu_r"
#: Colour map of a background image under outlines or markers.
GREY_CMAP = "gray"
#: Colour map of categories (one colour per region, method, stage).
CATEGORICAL_CMAP = "tab10"
#: Colour of NaN pixels (matplotlib grey level).
NAN_COLOUR = "0.8"
#: Resolution of saved raster figures, dots per inch.
DPI = 110
#: Figure endings :func:`save_figure` writes, with matplotlib's format names.
FIGURE_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg", ".jpg": "jpg", ".jpeg": "jpg"}
#: The house rcParams :func:`figure_style` applies (matplotlib's defaults otherwise).
STYLE: dict[str, Any] = {
    "image.cmap": SEQUENTIAL_CMAP,
    "image.interpolation": "nearest",
    "axes.titlesize": 9,
    "legend.fontsize": 8,
    "savefig.dpi": DPI,
}

CmapKind = Literal["sequential", "diverging", "grey", "categorical"]
_CMAPS = {"sequential": SEQUENTIAL_CMAP, "diverging": DIVERGING_CMAP, "grey": GREY_CMAP,
          "categorical": CATEGORICAL_CMAP}


def figure_format(path: str | os.PathLike) -> str:
    """Return matplotlib's format for a figure path from its ending; refuse an ending it cannot write.

    Parameters
    ----------
    path : str or path
        The figure file.

    Returns
    -------
    str
        ``png``, ``pdf``, ``svg`` or ``jpg``.

    Raises
    ------
    InputError
        For any other ending (a PNG is never written under a name such as ``fig.xyz``).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FIGURE_FORMATS:
        raise InputError(f"{path}: a figure must end in one of {' '.join(FIGURE_FORMATS)}; choose another name")
    return FIGURE_FORMATS[suffix]


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Apply the house rcParams (:data:`STYLE`) while the block draws; matplotlib's own come back after.

    Yields
    ------
    None
        Make and draw figures inside the block (rcParams are read when an artist is made).
    """
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    size: tuple[float, float] | None = None,
    sharex: bool = False,
    sharey: bool = False,
    squeeze: bool = True,
    layout: Literal["constrained", "tight"] | None = None,
) -> tuple[Any, Any]:
    """Make a figure and its grid of axes, off pyplot (nothing to close, no backend chosen).

    Parameters
    ----------
    nrows, ncols : int
        Axes grid.
    size : tuple of float, optional
        (width, height) in inches (default: matplotlib's).
    sharex, sharey : bool
        Share the axes' limits.
    squeeze : bool
        As in matplotlib: one axes alone, a row or column as a 1-D array; False always gives a 2-D array.
    layout : {"constrained", "tight"}, optional
        Layout engine.

    Returns
    -------
    (Figure, Axes or ndarray of Axes)
        The figure (on an Agg canvas) and its axes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if nrows < 1 or ncols < 1:
        raise InputError(f"a figure needs at least one row and one column of axes, got {nrows} x {ncols}")
    fig = Figure(figsize=size, layout=layout)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=squeeze)
    return fig, axes


def colour_map(kind: CmapKind = "sequential", *, bad: str = NAN_COLOUR):
    """Return the house colour map of ``kind``, NaN drawn in ``bad``.

    Parameters
    ----------
    kind : {"sequential", "diverging", "grey", "categorical"}
        What the colours encode (module docstring).
    bad : str
        Colour of NaN (masked) values.

    Returns
    -------
    matplotlib.colors.Colormap
        A copy: changing it changes no other figure.
    """
    import matplotlib

    if kind not in _CMAPS:
        raise InputError(f"unknown colour map kind {kind!r}; use one of {', '.join(_CMAPS)}")
    return matplotlib.colormaps[_CMAPS[kind]].with_extremes(bad=bad)


def colours(n: int, kind: CmapKind = "sequential") -> np.ndarray:
    """Return ``n`` RGBA colours from the house map of ``kind`` (the categorical map cycles after 10).

    Parameters
    ----------
    n : int
        How many.
    kind : {"sequential", "diverging", "grey", "categorical"}
        Spread evenly over a continuous map; the categorical one gives its colours in order.

    Returns
    -------
    ndarray, shape (n, 4)
        RGBA in [0, 1].
    """
    cmap = colour_map(kind)
    if kind == "categorical":
        return cmap(np.arange(n) % cmap.N)
    return cmap(np.linspace(0.0, 1.0, n))


def signed_limits(*arrays: np.ndarray) -> tuple[float, float]:
    """Return (-m, m), ``m`` the largest finite magnitude in ``arrays``: the diverging map's range, 0 in the middle.

    Parameters
    ----------
    *arrays : ndarray
        Signed data shown on one colour scale (NaN ignored).

    Returns
    -------
    tuple of float
        ``(-m, m)``; ``(-1, 1)`` when nothing is finite or everything is 0.
    """
    finite = [np.abs(a[np.isfinite(a)]) for a in map(np.asarray, arrays)]
    m = max((float(v.max()) for v in finite if v.size), default=0.0)
    m = m if m > 0 else 1.0
    return -m, m


def show_image(
    ax,
    image: np.ndarray,
    *,
    signed: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    kind: CmapKind | None = None,
    aspect: str | float = "equal",
    origin: Literal["upper", "lower"] = "upper",
):
    """Draw an image in the house style: its colour map, NaN grey, signed data symmetric about 0.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    image : ndarray, shape (Y, X)
        The image.
    signed : bool
        Signed data: the diverging map and, unless given, limits symmetric about 0 (:func:`signed_limits`).
    vmin, vmax : float, optional
        Colour range.
    kind : {"sequential", "diverging", "grey", "categorical"}, optional
        Colour map (default: diverging when ``signed``, else sequential).
    aspect : str or float
        Pixel aspect (``"equal"``, ``"auto"`` or a number).
    origin : {"upper", "lower"}
        Where row 0 is drawn.

    Returns
    -------
    matplotlib.image.AxesImage
        For a colour bar.
    """
    if signed and vmin is None and vmax is None:
        vmin, vmax = signed_limits(image)
    cmap = colour_map(kind or ("diverging" if signed else "sequential"))
    return ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, aspect=aspect, origin=origin, interpolation="nearest")


def save_figure(fig, path: str | os.PathLike, *, dpi: int = DPI, tight: bool = True) -> Path:
    """Save a figure atomically (format from the ending) and release it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (from :func:`new_figure`; a pyplot figure is closed too).
    path : path
        Output file: ``.png``, ``.pdf``, ``.svg``, ``.jpg`` or ``.jpeg`` (:func:`figure_format`).
    dpi : int
        Resolution of raster formats.
    tight : bool
        Crop the saved figure to what is drawn (``bbox_inches="tight"``).

    Returns
    -------
    Path
        ``path``.
    """
    target = Path(path)
    fmt = figure_format(target)
    try:
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight" if tight else None, format=fmt)
    finally:  # a full disk (OSError) leaves no partial file and no open figure
        plt = sys.modules.get("matplotlib.pyplot")  # a figure made through pyplot is in its list: drop it
        if plt is not None:
            plt.close(fig)
    return target
