"""Validation against a reference modality over many image pairs, with paired statistics and a box plot."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._provenance import versions as library_versions
from .._stack import Stack


@dataclass
class ComparisonTable:
    """Rows (one per pair and version), paired statistics against the first, the data range rule, the settings."""

    rows: list[dict[str, Any]]
    statistics: dict[str, dict[str, dict[str, float]]]
    data_range: str
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict, with the settings and the versions of operando and its libraries."""
        return {"rows": self.rows, "paired_statistics": self.statistics, "data_range": self.data_range,
                "config": self.config, "versions": library_versions()}


def version_labels(paths: list[str | os.PathLike]) -> list[str]:
    """Labels of the compared files: their names, or their full paths where two names are the same.

    Parameters
    ----------
    paths : list of path
        The test stacks, in order.

    Returns
    -------
    list of str
        One distinct label per path.

    Raises
    ------
    InputError
        If the same file is given twice.
    """
    names = [Path(p).name for p in paths]
    labels = [Path(p).name if names.count(Path(p).name) == 1 else os.fspath(p) for p in paths]
    seen: set[str] = set()
    for path, label in zip(paths, labels, strict=True):
        if label in seen:
            raise InputError(f"{path}: given twice; give each test stack once")
        seen.add(label)
    return labels


def check_settings(*, scale: float | None = None, data_range: float | None = None, normalise: str = "none") -> None:
    """Refuse comparison settings that cannot work, before any file is read.

    Parameters
    ----------
    scale : float, optional
        Reference / test pixel size: finite and > 0.
    data_range : float, optional
        PSNR/SSIM data range: finite and > 0.
    normalise : str
        ``none`` or ``zscore``.

    Raises
    ------
    InputError
        Naming the setting, the value and what to give.
    """
    for name, value in (("scale", scale), ("data range", data_range)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise InputError(f"{name} {value!r}: give a number > 0 (or leave it out to take it from the files)")
    if normalise not in ("none", "zscore"):
        raise InputError(f"normalise {normalise!r}: use 'none' or 'zscore'")


def _check_mask(mask: np.ndarray, n_frames: int, shape: tuple[int, int]) -> np.ndarray:
    """Return the mask as bool (Y, X) or (n, Y, X); refuse one whose shape does not fit the test frames."""
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[0] == 1:
        m = m[0]
    if m.ndim == 2 and m.shape == shape:
        pass
    elif m.ndim == 3 and m.shape[1:] == shape and m.shape[0] == n_frames:
        pass
    else:
        raise InputError(f"the mask has shape {m.shape}, the test stacks {n_frames} frame(s) of {shape[0]} x "
                         f"{shape[1]}; give one {shape[0]} x {shape[1]} mask, or one per frame ({n_frames})")
    m = m.astype(bool)
    if not m.any():
        raise InputError("the mask selects no pixel (every value is 0); nonzero pixels are compared")
    return m


def _frames(stack: Stack, label: str = "") -> np.ndarray:
    """Every frame of ``stack`` as (n, Y, X) floats; infinite pixels become NaN (left out, with a note)."""
    data = stack.to_numpy().astype(float)
    lead = "".join(a for a in stack.axes if a not in "YX")
    order = lead + "YX"
    data = stack.transpose(order).to_numpy().astype(float) if order != stack.axes else data
    infinite = np.isinf(data)
    if infinite.any():
        warnings.warn(f"{label or stack.metadata.source or 'input'}: {int(infinite.sum())} infinite pixel(s) left "
                      "out of the comparison (like NaN)", UserWarning, stacklevel=3)
        data = np.where(infinite, np.nan, data)
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

    check_settings(scale=scale, data_range=data_range, normalise=normalise)
    if not versions:
        raise InputError("no test stack to compare; give at least one")
    labels = list(versions)
    frames = {k: _frames(v, k) for k, v in versions.items()}
    first = frames[labels[0]]
    if any(f.shape != first.shape for f in frames.values()):
        raise InputError(f"the versions differ in shape: {[f.shape for f in frames.values()]}; compare the same images")
    refs = _frames(reference, "the reference")
    if refs.shape[0] not in (1, first.shape[0]):
        raise InputError(f"{refs.shape[0]} reference frames for {first.shape[0]} test frames; give one or one each")
    if mask is not None:
        mask = _check_mask(mask, first.shape[0], first.shape[1:])
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
    config = {"labels": labels, "scale": scale, "data_range": data_range, "normalise": normalise,
              "mask": mask is not None, "regions": [list(b) for b in regions] if regions else None}
    return ComparisonTable(rows, stats, rule, config)


def plot_comparison(table: ComparisonTable, path: str | os.PathLike, *, title: str = "") -> Path:
    """Box plots of PSNR and SSIM per version, with the pairs joined (the paper's figure form).

    Parameters
    ----------
    table : ComparisonTable
        From :func:`compare_versions`.
    path : str or path
        Figure written (.png, .pdf, .svg or .jpg; the ending picks the format).
    title : str
        Figure title.

    Returns
    -------
    Path
        The figure.
    """
    from ..report import figure_format, figure_style, new_figure, save_figure

    figure_format(path)  # another ending is refused before anything is drawn
    labels = list(dict.fromkeys(r["version"] for r in table.rows))
    with figure_style():
        fig, axes = new_figure(1, 2, size=(8, 3.5))
        for ax, metric, name in zip(axes, ("psnr_db", "ssim"), ("PSNR (dB)", "SSIM"), strict=True):
            values = [[r[metric] for r in table.rows if r["version"] == lab] for lab in labels]
            ax.boxplot(values, tick_labels=labels)
            for pair in zip(*values, strict=True):
                ax.plot(range(1, len(labels) + 1), pair, color="0.6", lw=0.6, alpha=0.7)
            ax.set_ylabel(name)
        fig.suptitle(title or f"against the reference ({len(values[0])} pairs; data range: {table.data_range})",
                     fontsize=9)
        fig.tight_layout()
    return save_figure(fig, path, dpi=120, tight=False)
