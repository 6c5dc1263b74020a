"""Validation against a reference modality over many image pairs, with paired statistics and a box plot."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._stack import Stack


@dataclass
class ComparisonTable:
    """Rows (one per pair and version), paired statistics against the first version, and the data range rule."""

    rows: list[dict[str, Any]]
    statistics: dict[str, dict[str, dict[str, float]]]
    data_range: str

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"rows": self.rows, "paired_statistics": self.statistics, "data_range": self.data_range}


def _frames(stack: Stack) -> np.ndarray:
    data = stack.to_numpy().astype(float)
    lead = "".join(a for a in stack.axes if a not in "YX")
    order = lead + "YX"
    data = stack.transpose(order).to_numpy().astype(float) if order != stack.axes else data
    return data.reshape(-1, stack.size("Y"), stack.size("X"))


def compare_versions(
    versions: dict[str, Stack],
    reference: Stack,
    *,
    mask: np.ndarray | None = None,
    scale: float | None = None,
    data_range: float | None = None,
    normalise: str = "none",
    regions: list[tuple[int, int, int, int]] | None = None,
) -> ComparisonTable:
    """Compare several versions (raw, denoised, ...) of the same images against a reference, pair by pair.

    Parameters
    ----------
    versions : dict of str to Stack
        Label -> images; every version has the same shape; each frame (all axes but Y, X) is one pair.
    reference : Stack
        One reference frame per pair (or one for all), any pixel size.
    mask : ndarray of bool, optional
        (Y, X) or one per frame (n, Y, X): pixels compared.
    scale : float, optional
        Reference pixel size / test pixel size (default from the stacks' metadata, else 1).
    data_range : float, optional
        PSNR/SSIM data range (default: the reference's max - min inside the mask, per pair).
    normalise : {"none", "zscore"}
        See :func:`operando.metrics.compare_to_reference`.
    regions : list of (y0, y1, x0, x1), optional
        Sub-regions (e.g. one per particle) scored as separate pairs after registering the whole frame.

    Returns
    -------
    ComparisonTable
        PSNR/SSIM rows and paired statistics (every version against the first).
    """
    from ..metrics import compare_to_reference, paired_statistics, register_reference

    labels = list(versions)
    frames = {k: _frames(v) for k, v in versions.items()}
    first = frames[labels[0]]
    if any(f.shape != first.shape for f in frames.values()):
        raise InputError(f"the versions differ in shape: {[f.shape for f in frames.values()]}; compare the same images")
    refs = _frames(reference)
    if refs.shape[0] not in (1, first.shape[0]):
        raise InputError(f"{refs.shape[0]} reference frames for {first.shape[0]} test frames; give one or one each")
    if scale is None:
        test_px = versions[labels[0]].metadata.pixel_size
        ref_px = reference.metadata.pixel_size
        scale = float(ref_px / test_px) if test_px and ref_px else 1.0
    rows: list[dict[str, Any]] = []
    boxes = regions or [(0, first.shape[1], 0, first.shape[2])]
    for i in range(first.shape[0]):
        registered, shift = register_reference(first[i], refs[min(i, refs.shape[0] - 1)], scale=scale)
        m = mask if mask is None or mask.ndim == 2 else mask[i]
        for j, (y0, y1, x0, x1) in enumerate(boxes):
            sub_mask = None if m is None else m[y0:y1, x0:x1]
            for label in labels:
                c = compare_to_reference(frames[label][i, y0:y1, x0:x1], None, registered=registered[y0:y1, x0:x1],
                                         mask=sub_mask, data_range=data_range, normalise=normalise)
                rows.append({"pair": f"{i}:{j}", "version": label, "psnr_db": c.psnr, "ssim": c.ssim,
                             "data_range": c.data_range, "pixels": c.n_pixels, "shift_px": list(shift)})
    stats = {}
    for label in labels[1:]:
        stats[label] = {metric: paired_statistics(np.array([r[metric] for r in rows if r["version"] == labels[0]]),
                                                  np.array([r[metric] for r in rows if r["version"] == label]))
                        for metric in ("psnr_db", "ssim")}
    rule = f"{data_range:g} (given)" if data_range is not None else "max - min of the registered reference in the mask"
    return ComparisonTable(rows, stats, rule)


def plot_comparison(table: ComparisonTable, path: str | os.PathLike, *, title: str = "") -> Path:
    """Box plots of PSNR and SSIM per version, with the pairs joined (the paper's figure form).

    Parameters
    ----------
    table : ComparisonTable
        From :func:`compare_versions`.
    path : str or path
        PNG file written.
    title : str
        Figure title.

    Returns
    -------
    Path
        The figure.
    """
    from ..report import pyplot

    plt = pyplot()

    from .._files import atomic_path

    labels = list(dict.fromkeys(r["version"] for r in table.rows))
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    for ax, metric, name in zip(axes, ("psnr_db", "ssim"), ("PSNR (dB)", "SSIM"), strict=True):
        values = [[r[metric] for r in table.rows if r["version"] == lab] for lab in labels]
        ax.boxplot(values, tick_labels=labels)
        for pair in zip(*values, strict=True):
            ax.plot(range(1, len(labels) + 1), pair, color="0.6", lw=0.6, alpha=0.7)
        ax.set_ylabel(name)
    fig.suptitle(title or f"against the reference ({len(values[0])} pairs; data range: {table.data_range})",
                 fontsize=9)
    fig.tight_layout()
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return out
