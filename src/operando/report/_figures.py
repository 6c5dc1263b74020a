"""Figures for reports: frames side by side, PSNR per frame, bars. Written atomically as PNG."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._files import atomic_path


def pyplot():
    """Return ``matplotlib.pyplot``, on the non-interactive Agg backend unless one was chosen already.

    Returns
    -------
    module
        ``matplotlib.pyplot``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : path
        Output file; its suffix sets the format (default PNG).
    dpi : int
        Resolution.

    Returns
    -------
    Path
        ``path``.
    """
    target = Path(path)
    try:
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=target.suffix.lstrip(".") or "png")
    finally:  # a full disk (OSError) leaves no partial file and no open figure
        pyplot().close(fig)
    return target


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
    plt = pyplot()
    names = list(videos)
    fig, axes = plt.subplots(len(names), len(frames), figsize=(2.2 * len(frames), 2.2 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        for c, t in enumerate(frames):
            ax = axes[r][c]
            ax.imshow(videos[name][t], cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
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
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
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
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(values)), 3.2))
    ax.bar(list(values), list(values.values()), color="tab:blue")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return save_figure(fig, path)
