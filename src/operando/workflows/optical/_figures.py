"""Figures of the optical workflow: stage fractions, c-bar histograms, transition time vs V/A, density.

The density is the population over c-bar and V/A at chosen frames. These return matplotlib figures; the caller
saves them with ``operando.report.save_figure``.
"""

from __future__ import annotations

import numpy as np

from ...optical import ParticleTable, TransitionTrend, population_density
from ...report import pyplot

_COLOURS = {"III": "#2845a0", "II": "#b02020", "I": "#d9a520", "plating": "#888888", "unknown": "#000000"}


def _unit(table: ParticleTable) -> str:
    return table.pixel_unit if table.pixel_size else "px"


def plot_stage_fractions(fractions: dict[str, np.ndarray]):
    """Plot the area share of each stage against frame; return the figure."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in fractions.items():
        if name in ("plating", "unknown") and not np.any(values > 0):
            continue
        ax.plot(values, label=f"stage {name}" if name in ("III", "II", "I") else name, color=_COLOURS[name])
    ax.set(xlabel="frame", ylabel="share of particle area", ylim=(0, 1), title="stage fractions")
    ax.legend(frameon=False)
    return fig


def plot_cbar_histograms(table: ParticleTable, frames: list[int]):
    """Plot histograms of particle c-bar at the chosen frames; return the figure."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(frames), figsize=(3 * len(frames), 2.8), sharey=True, squeeze=False)
    bins = np.linspace(1 / 3, 1, 13)
    for ax, t in zip(axes[0], frames, strict=True):
        values = table.cbar[t][np.isfinite(table.cbar[t])]
        ax.hist(values, bins=bins, color="#555555")
        ax.set(title=f"frame {t}", xlabel="c-bar (x in LixC6)")
    axes[0, 0].set_ylabel("particles")
    return fig


def plot_transitions(table: ParticleTable, trends: list[TransitionTrend]):
    """Plot transition frame against V/A with the fitted lines and bootstrap bands; return the figure."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    va = table.v_over_a
    for trend in trends:
        times = table.transition_frames[trend.stage]
        colour = _COLOURS[trend.stage]
        ax.scatter(va, times, s=8, color=colour, alpha=0.6, label=f"> 50 % stage {trend.stage}")
        ax.plot(trend.grid, trend.intercept + trend.slope * trend.grid, color=colour)
        ax.fill_between(trend.grid, trend.band_low, trend.band_high, color=colour, alpha=0.2,
                        label=f"{100 * trend.level:.0f} % bootstrap band (n = {trend.n_particles})")
    ax.set(xlabel=f"V/A = area / perimeter ({_unit(table)})", ylabel="transition frame")
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_density(table: ParticleTable, frames: list[int]):
    """Plot the population density over c-bar and V/A at the chosen frames (the paper's plot)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(frames), figsize=(3.2 * len(frames), 3), sharey=True, squeeze=False)
    va = table.v_over_a
    size_range = (float(va.min()), float(va.max()) + 1e-9)
    for ax, t in zip(axes[0], frames, strict=True):
        density, ce, se = population_density(table, t, size_range=size_range)
        ax.pcolormesh(ce, se, density.T, cmap="viridis", shading="flat")
        ax.set(title=f"frame {t}", xlabel="c-bar")
    axes[0, 0].set_ylabel(f"V/A ({_unit(table)})")
    return fig
