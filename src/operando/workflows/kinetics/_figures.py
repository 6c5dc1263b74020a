"""Figures of a kinetics run: the learned curves with bands, the rate map, and each particle observed against fitted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._run import KineticsRun


def plot_curves(result, path: Path) -> Path:
    """Draw mu_h(c) and j0(c) with their 95 % bands, side by side (and D(c) beside them for CHR)."""
    from ...report import new_figure, save_figure

    chr_fit = result.diffusivity is not None
    fig, axes = new_figure(1, 3 if chr_fit else 2, size=(13.5 if chr_fit else 9, 3.6), layout="constrained")
    left, right = axes[0], axes[1]
    if chr_fit:
        axes[2].fill_between(result.c, *result.diffusivity_band, alpha=0.3)
        axes[2].plot(result.c, result.diffusivity)
        axes[2].set(xlabel="Li fraction c", ylabel="D (px^2 / time unit)", yscale="log",
                    title="diffusivity, M = D c (1 - c)")
    left.fill_between(result.c, *result.mu_h_band, alpha=0.3, label="95 % band")
    left.plot(result.c, result.mu_h, label="learned")
    left.set(xlabel="Li fraction c", ylabel="mu_h (kT), mu_h(0.5) = 0", title="homogeneous chemical potential")
    right.fill_between(result.c, *result.j0_band, alpha=0.3, label="95 % band")
    right.plot(result.c, result.j0, label="learned")
    right.set(xlabel="Li fraction c", ylabel="j0 (1 / time unit), mean k = 1", title="exchange current")
    left.legend(frameon=False)
    return save_figure(fig, path)


def plot_k_map(run: KineticsRun, path: Path) -> Path:
    """Draw the rate map k(x) beside the first and last frames of the composition video."""
    from ...report import new_figure, save_figure, show_image

    fig, axes = new_figure(1, 3, size=(11, 3.8), layout="constrained")
    for ax, frame, title in ((axes[0], run.video[0], "first frame (x)"), (axes[2], run.video[-1], "last frame (x)")):
        im = show_image(ax, frame, vmin=0, vmax=1)
        ax.set(title=title, xticks=[], yticks=[])
    fig.colorbar(im, ax=[axes[0], axes[2]], shrink=0.8, label="Li fraction")
    k = run.result.k_map
    im = show_image(axes[1], np.log(k), signed=True)
    axes[1].set(title="ln k (mean k = 1)", xticks=[], yticks=[])
    fig.colorbar(im, ax=axes[1], shrink=0.8, label="ln k")
    return save_figure(fig, path)


def plot_particles(run: KineticsRun, path: Path) -> Path:
    """Draw, per particle, the fraction of pixels past c = 1/2: observed, and as the fitted model predicts it."""
    from ...report import colours, new_figure, save_figure

    labels, video, predicted = run.result.labels, run.video, run.result.predicted
    n = int(labels.max())
    fig, ax = new_figure(size=(6.5, 4), layout="constrained")
    palette = colours(n, "categorical")
    t = np.arange(video.shape[0]) * run.result.settings["frame_interval"]
    for p, colour in zip(range(1, n + 1), palette, strict=False):
        inside = labels == p
        observed = (video[:, inside] > 0.5).mean(axis=1)
        ok = np.isfinite(predicted[:, inside]).all(axis=1)
        fitted = (predicted[:, inside] > 0.5).mean(axis=1)
        ax.plot(t, observed, "o", ms=3, color=colour, label=f"particle {p} observed")
        ax.plot(t[ok], fitted[ok], "-", color=colour, label=f"particle {p} fitted")
    ax.set(xlabel="time (the video's unit)", ylabel="fraction of pixels with c > 1/2",
           title="transformed fraction, observed and fitted")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    return save_figure(fig, path)
