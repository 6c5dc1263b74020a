"""Population statistics: stage fractions vs time, transition time vs size, density over c-bar and V/A.

The trend of transition time against V/A is a least-squares line with a bootstrap (over particles) interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from ._particles import ParticleTable


def stage_fractions_over_time(table: ParticleTable) -> dict[str, np.ndarray]:
    """Return the area-weighted share of particle pixels in each stage, per frame.

    Parameters
    ----------
    table : ParticleTable
        Measurements.

    Returns
    -------
    dict of str -> ndarray, shape (T,)
        ``III``, ``II``, ``I``, ``plating``, ``unknown``.
    """
    total = np.maximum(table.area.sum(1), 1)
    return {k: (v * table.area).sum(1) / total for k, v in table.fractions.items()}


@dataclass(frozen=True)
class TransitionTrend:
    """A straight-line trend of transition time against V/A, with a bootstrap interval.

    Attributes
    ----------
    stage : str
        ``II`` or ``I``.
    slope, intercept : float
        Least-squares line ``t = intercept + slope * V/A`` (frames per V/A unit, frames).
    slope_interval : (float, float)
        Central bootstrap interval of the slope at ``level``.
    grid, band_low, band_high : ndarray
        V/A values and the bootstrap band of the fitted line there.
    n_particles : int
        Particles with a transition.
    level : float
        Interval level (e.g. 0.95).
    n_boot : int
        Bootstrap resamples (of particles).
    seed : int
        Seed of the resampling.
    """

    stage: str
    slope: float
    intercept: float
    slope_interval: tuple[float, float]
    grid: np.ndarray
    band_low: np.ndarray
    band_high: np.ndarray
    n_particles: int
    level: float
    n_boot: int
    seed: int

    def to_dict(self) -> dict:
        """Return the scalars as a dict."""
        return {"stage": self.stage, "slope_frames_per_unit": self.slope, "intercept_frames": self.intercept,
                "slope_low": self.slope_interval[0], "slope_high": self.slope_interval[1],
                "n_particles": self.n_particles, "level": self.level, "n_boot": self.n_boot, "seed": self.seed}


def transition_trend(v_over_a: np.ndarray, times: np.ndarray, *, stage: str = "II", n_boot: int = 1000,
                     level: float = 0.95, rng: int | np.random.Generator | None = None) -> TransitionTrend:
    """Fit transition time against V/A with a straight line and bootstrap the particles for an interval.

    Parameters
    ----------
    v_over_a : ndarray, shape (P,)
        Particle sizes.
    times : ndarray, shape (P,)
        Transition frames (NaN: never; left out).
    stage : str
        Which transition (for the record).
    n_boot : int
        Bootstrap resamples.
    level : float
        Interval level.
    rng : int or Generator, optional
        Seed of the resampling (recorded).

    Returns
    -------
    TransitionTrend
        The line, the slope's interval and the band.
    """
    ok = np.isfinite(v_over_a) & np.isfinite(times)
    x, y = np.asarray(v_over_a, float)[ok], np.asarray(times, float)[ok]
    if x.size < 3 or np.ptp(x) == 0:
        raise InputError(f"only {x.size} particles reach stage {stage} (or all have one size); a trend needs "
                         ">= 3 of different sizes - analyse more frames or a larger field")
    seed = int(rng) if isinstance(rng, (int, np.integer)) else int(np.random.default_rng(rng).integers(2**31))
    gen = np.random.default_rng(seed)
    slope, intercept = np.polyfit(x, y, 1)
    grid = np.linspace(x.min(), x.max(), 50)
    boots, lines = [], []
    for _ in range(n_boot):
        idx = gen.integers(0, x.size, x.size)
        if np.ptp(x[idx]) == 0:
            continue
        b, a = np.polyfit(x[idx], y[idx], 1)
        boots.append(b)
        lines.append(a + b * grid)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(boots, [tail, 100 - tail])
    band = np.percentile(np.array(lines), [tail, 100 - tail], axis=0)
    return TransitionTrend(stage, float(slope), float(intercept), (float(low), float(high)), grid, band[0], band[1],
                           int(x.size), level, n_boot, seed)


def population_density(table: ParticleTable, frame: int, *, cbar_bins: int = 12, size_bins: int = 10,
                       size_range: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the population density over c-bar and V/A at one frame (the paper's density plot).

    Parameters
    ----------
    table : ParticleTable
        Measurements.
    frame : int
        The frame.
    cbar_bins, size_bins : int
        Bins along c-bar (over [1/3, 1]) and V/A.
    size_range : (float, float), optional
        V/A range (default: the range over all particles).

    Returns
    -------
    density : ndarray, shape (cbar_bins, size_bins)
        Share of particles per unit c-bar per unit V/A (integrates to 1).
    cbar_edges, size_edges : ndarray
        Bin edges.
    """
    if not 0 <= frame < table.area.shape[0]:
        raise InputError(f"frame {frame} is outside the {table.area.shape[0]} analysed frames")
    va = table.v_over_a
    cbar = table.cbar[frame]
    ok = np.isfinite(cbar) & (table.area[frame] > 0)
    lo, hi = size_range or (float(va.min()), float(va.max()) + 1e-9)
    density, ce, se = np.histogram2d(cbar[ok], va[ok], bins=(cbar_bins, size_bins),
                                     range=((1 / 3 - 1e-6, 1 + 1e-6), (lo, hi)), density=True)
    return density, ce, se
