"""Figures of the STXM pipeline: Li-fraction maps side by side, in the house style (:mod:`operando.report`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_maps(maps: dict[str, np.ndarray], path: Path, *, title: str = "") -> Path:
    """Draw x maps side by side (0-1 colour scale, NaN grey) and save a PNG.

    Parameters
    ----------
    maps : dict of str to ndarray
        Label -> (Y, X) map of x.
    path : Path
        PNG file.
    title : str
        Figure title.

    Returns
    -------
    Path
        The figure.
    """
    from ...report import colour_map, figure_style, new_figure, save_figure

    with figure_style():
        fig, axes = new_figure(1, len(maps), size=(3.0 * len(maps), 3.2), squeeze=False)
        for ax, (label, image) in zip(axes[0], maps.items(), strict=True):
            shown = ax.imshow(image, vmin=0, vmax=1, cmap=colour_map("sequential"))
            ax.set_title(label, fontsize=8)
            ax.axis("off")
        fig.colorbar(shown, ax=axes[0].tolist(), shrink=0.8, label="x (LiFePO4 fraction)")
        if title:
            fig.suptitle(title, fontsize=9)
    return save_figure(fig, path, dpi=110, tight=False)
