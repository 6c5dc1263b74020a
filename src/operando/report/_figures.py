"""Figures for reports: frames side by side, PSNR per frame, bars; drawn in the house style (:mod:`._style`).

``pyplot()`` is what figure modules not yet on :func:`operando.report.new_figure` call instead of
``matplotlib.pyplot``: the few pyplot names they use (``subplots``, ``close``, ``get_cmap``, ``cm``), made off
pyplot, so that no module chooses a backend or keeps a global figure list. It goes once they have moved.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._style import colour_map, new_figure, save_figure, show_image


class _OffPyplot:
    """The pyplot names the older figure modules use, on the object-oriented API (no backend, no figure list)."""

    def subplots(self, nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None,
                 squeeze: bool = True, sharex: bool = False, sharey: bool = False,
                 constrained_layout: bool = False) -> tuple[Any, Any]:
        """Return :func:`new_figure` (figure, axes), with pyplot's argument names."""
        return new_figure(nrows, ncols, size=figsize, sharex=sharex, sharey=sharey, squeeze=squeeze,
                          layout="constrained" if constrained_layout else None)

    def close(self, fig: Any) -> None:
        """Nothing to do: a figure off pyplot is freed with its last reference."""

    def get_cmap(self, name: str) -> Any:
        """Return a copy of the named colour map."""
        import matplotlib

        return matplotlib.colormaps[name]

    @property
    def cm(self) -> Any:
        """``matplotlib.cm`` (``cm.viridis(values)`` and the like)."""
        import matplotlib.cm

        return matplotlib.cm


def pyplot() -> _OffPyplot:
    """Return the pyplot stand-in for figure modules not yet on :func:`new_figure` (module docstring).

    Returns
    -------
    object
        ``subplots`` (:func:`new_figure`), ``close`` (no-op), ``get_cmap``, ``cm``.
    """
    return _OffPyplot()


def plot_frames_side_by_side(
    videos: dict[str, np.ndarray],
    path: str | os.PathLike,
    *,
    frames: Sequence[int],
    vmin: float | None = None,
    vmax: float | None = None,
    times: Sequence[float] | None = None,
) -> Path:
    """Draw a grid of frames: one row per video (clean, noisy, denoised...), one column per frame index.

    Parameters
    ----------
    videos : dict of str to ndarray, shape (T, Y, X)
        Videos by row label.
    path : path
        PNG file to write.
    frames : sequence of int
        Frame indices, one per column.
    vmin, vmax : float, optional
        Shared colour range.
    times : sequence of float, optional
        Frame times, for the column titles.

    Returns
    -------
    Path
        ``path``.
    """
    names = list(videos)
    fig, axes = new_figure(len(names), len(frames), size=(2.2 * len(frames), 2.2 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        for c, t in enumerate(frames):
            ax = axes[r][c]
            show_image(ax, videos[name][t], vmin=vmin, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t = {times[t]:.3g}" if times is not None else f"frame {t}", fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_psnr_per_frame(curves: dict[str, Sequence[float]], path: str | os.PathLike) -> Path:
    """Plot PSNR against frame index, one line per method.

    Parameters
    ----------
    curves : dict of str to sequence of float
        PSNR per frame (dB) by method.
    path : path
        PNG file to write.

    Returns
    -------
    Path
        ``path``.
    """
    fig, ax = new_figure(size=(6, 3.2))
    for name, values in curves.items():
        ax.plot(np.arange(len(values)), values, label=name, lw=1.5)
    ax.set_xlabel("frame")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_bars(values: dict[str, float], path: str | os.PathLike, *, ylabel: str, title: str = "") -> Path:
    """Draw a bar chart of one number per method.

    Parameters
    ----------
    values : dict of str to float
        One value per method.
    path : path
        PNG file to write.
    ylabel : str
        Label of the value axis.
    title : str
        Figure title.

    Returns
    -------
    Path
        ``path``.
    """
    fig, ax = new_figure(size=(max(4, 0.8 * len(values)), 3.2))
    ax.bar(list(values), list(values.values()), color=colour_map("categorical")(0))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return save_figure(fig, path)
