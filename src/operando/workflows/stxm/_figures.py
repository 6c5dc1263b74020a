"""Figures of the STXM pipeline: Li-fraction maps side by side."""

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
    from ..._files import atomic_path
    from ...report import pyplot

    plt = pyplot()

    fig, axes = plt.subplots(1, len(maps), figsize=(3.0 * len(maps), 3.2))
    for ax, (label, image) in zip(np.atleast_1d(axes), maps.items(), strict=True):
        shown = ax.imshow(image, vmin=0, vmax=1, cmap=plt.get_cmap("viridis").with_extremes(bad="0.8"))
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    fig.colorbar(shown, ax=np.atleast_1d(axes).tolist(), shrink=0.8, label="x (LiFePO4 fraction)")
    if title:
        fig.suptitle(title, fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
