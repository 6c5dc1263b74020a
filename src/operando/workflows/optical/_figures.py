"""Figures of the optical workflow: stage fractions, c-bar histograms, transition time vs V/A, density.

The density is the population over c-bar and V/A at chosen frames. These return matplotlib figures made in the
house style (:func:`operando.report.new_figure` inside :func:`operando.report.figure_style`: off pyplot, no
backend chosen); the caller saves them with ``operando.report.save_figure``. The stage colours are the stages'
own (blue, red, gold), as in the phantom.
"""

from __future__ import annotations

import numpy as np

from ...optical import ParticleTable, TransitionTrend, population_density
from ...report import colour_map, figure_style, new_figure

_COLOURS = {"III": "#2845a0", "II": "#b02020", "I": "#d9a520", "plating": "#888888", "unknown": "#000000"}


def _unit(table: ParticleTable) -> str:
    return table.pixel_unit if table.pixel_size else "px"


def plot_stage_fractions(fractions: dict[str, np.ndarray]):
    """Plot the area share of each stage against frame; return the figure."""
    with figure_style():
        fig, ax = new_figure(size=(6, 3.5))
        for name, values in fractions.items():
            if name in ("plating", "unknown") and not np.any(values > 0):
                continue
            ax.plot(values, label=f"stage {name}" if name in ("III", "II", "I") else name, color=_COLOURS[name])
        ax.set(xlabel="frame", ylabel="share of particle area", ylim=(0, 1), title="stage fractions")
        ax.legend(frameon=False)
    return fig


def plot_cbar_histograms(table: ParticleTable, frames: list[int]):
    """Plot histograms of particle c-bar at the chosen frames; return the figure."""
    with figure_style():
        fig, axes = new_figure(1, len(frames), size=(3 * len(frames), 2.8), sharey=True, squeeze=False)
        bins = np.linspace(1 / 3, 1, 13)
        for ax, t in zip(axes[0], frames, strict=True):
            values = table.cbar[t][np.isfinite(table.cbar[t])]
            ax.hist(values, bins=bins, color="#555555")
            ax.set(title=f"frame {t}", xlabel="c-bar (x in LixC6)")
        axes[0, 0].set_ylabel("particles")
    return fig


def plot_transitions(table: ParticleTable, trends: list[TransitionTrend]):
    """Plot transition frame against V/A with the fitted lines and bootstrap bands; return the figure."""
    va = table.v_over_a
    with figure_style():
        fig, ax = new_figure(size=(5.5, 4))
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
    va = table.v_over_a
    size_range = (float(va.min()), float(va.max()) + 1e-9)
    with figure_style():
        fig, axes = new_figure(1, len(frames), size=(3.2 * len(frames), 3), sharey=True, squeeze=False)
        for ax, t in zip(axes[0], frames, strict=True):
            density, ce, se = population_density(table, t, size_range=size_range)
            ax.pcolormesh(ce, se, density.T, cmap=colour_map("sequential"), shading="flat")
            ax.set(title=f"frame {t}", xlabel="c-bar")
        axes[0, 0].set_ylabel(f"V/A ({_unit(table)})")
    return fig
