"""Per-particle measurements per frame and population statistics.

V/A is the 2-D stand-in for a particle's volume-to-surface ratio: area / perimeter of its outline (pixels, or
the pixel unit when the pixel size is known). The state of charge of a particle, c-bar, is the mean of its
stage compositions weighted by stage area fractions (default mapping LiC18 -> 1/3, LiC12 -> 1/2, LiC6 -> 1);
unknown and plating pixels do not enter c-bar (their fractions are reported). A transition time is the first
frame in which more than half of a particle's pixels are in that stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from ._stages import DEFAULT_CBAR, STAGE_CODES

_FRACTION_NAMES = ("III", "II", "I", "plating", "unknown")


def _perimeters(labels: np.ndarray, n: int) -> np.ndarray:
    """Return the perimeter (skimage's 4-connected estimate, pixels) of labels 1..n of a 2-D image."""
    from skimage.measure import regionprops

    out = np.zeros(n + 1)
    for region in regionprops(labels):
        out[region.label] = region.perimeter
    return out


@dataclass(frozen=True)
class ParticleTable:
    """Per-particle, per-frame measurements as arrays (particles along axis 1).

    Attributes
    ----------
    ids : ndarray of int, shape (P,)
        Particle ids.
    area : ndarray, shape (T, P)
        Area in pixels (0 where the particle is absent in a frame).
    perimeter : ndarray, shape (T, P)
        Perimeter in pixels.
    fractions : dict of str -> ndarray, shape (T, P)
        Share of the particle's pixels in stage III, II, I, plating and unknown.
    cbar : ndarray, shape (T, P)
        State of charge from the stage fractions (NaN where no pixel has a known stage).
    transition_frames : dict of str -> ndarray, shape (P,)
        First frame with > 50 % of ``II`` and of ``I`` (NaN if never).
    pixel_size : float or None
        Size of a pixel in ``pixel_unit``.
    pixel_unit : str or None
        Unit of the pixel size.
    """

    ids: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray
    fractions: dict[str, np.ndarray]
    cbar: np.ndarray
    transition_frames: dict[str, np.ndarray]
    pixel_size: float | None = None
    pixel_unit: str | None = None

    @property
    def v_over_a(self) -> np.ndarray:
        """Area / perimeter of each particle in its first frame present (pixels or pixel_unit), shape (P,)."""
        first = np.argmax(self.area > 0, axis=0)
        cols = np.arange(self.ids.size)
        va = self.area[first, cols] / np.maximum(self.perimeter[first, cols], 1e-9)
        return va * (self.pixel_size or 1.0)

    def rows(self, frame_times: tuple[float, ...] | None = None) -> list[dict]:
        """Return one dict per particle and frame (the CSV rows), skipping frames where a particle is absent."""
        unit = self.pixel_unit if self.pixel_size else "px"
        scale = self.pixel_size or 1.0
        va = self.v_over_a
        out = []
        for t in range(self.area.shape[0]):
            for j, pid in enumerate(self.ids):
                if self.area[t, j] == 0:
                    continue
                row = {"frame": t, "time_s": frame_times[t] if frame_times else float(t), "id": int(pid),
                       f"area_{unit}2": self.area[t, j] * scale**2, f"perimeter_{unit}": self.perimeter[t, j] * scale,
                       f"v_over_a_{unit}": self.area[t, j] / max(self.perimeter[t, j], 1e-9) * scale,
                       f"v_over_a_first_frame_{unit}": va[j]}
                row.update({f"frac_{k}": round(float(v[t, j]), 5) for k, v in self.fractions.items()})
                row["cbar"] = round(float(self.cbar[t, j]), 5)
                row.update({f"transition_{k}_frame": self.transition_frames[k][j] for k in ("II", "I")})
                out.append(row)
        return out


def measure_particles(
    labels: np.ndarray,
    stages: np.ndarray,
    *,
    cbar_mapping: dict[str, float] | None = None,
    pixel_size: float | None = None,
    pixel_unit: str | None = None,
) -> ParticleTable:
    """Measure every particle in every frame: area, perimeter, stage fractions, c-bar, transition frames.

    Parameters
    ----------
    labels : ndarray of int, shape (T, Y, X)
        Particle ids per frame (0 background), an id naming one particle throughout.
    stages : ndarray of uint8, shape (T, Y, X)
        Stage codes (:data:`STAGE_CODES`).
    cbar_mapping : dict, optional
        Composition x of Li_x C6 for ``III``, ``II``, ``I`` (default: 1/3, 1/2, 1).
    pixel_size : float, optional
        Pixel size (areas and lengths are then in ``pixel_unit``).
    pixel_unit : str, optional
        Unit of the pixel size.

    Returns
    -------
    ParticleTable
        The measurements.
    """
    if labels.shape != stages.shape or labels.ndim != 3:
        raise InputError(f"labels {labels.shape} and stages {stages.shape} must both be (T, Y, X)")
    mapping = {**DEFAULT_CBAR, **(cbar_mapping or {})}
    if set(mapping) - set(DEFAULT_CBAR):
        raise InputError(f"c-bar mapping names {sorted(set(mapping) - set(DEFAULT_CBAR))}; use III, II and I")
    ids = np.unique(labels[labels > 0])
    n_max = int(labels.max())
    codes = np.array([STAGE_CODES[k] for k in _FRACTION_NAMES])
    lut = np.full(256, len(codes), np.int64)
    lut[codes] = np.arange(len(codes))
    n_t, k = labels.shape[0], len(codes) + 1
    counts = np.zeros((n_t, n_max + 1, k))
    perim = np.zeros((n_t, n_max + 1))
    for t in range(n_t):
        flat = labels[t].ravel().astype(np.int64) * k + lut[stages[t].ravel()]
        counts[t] = np.bincount(flat, minlength=(n_max + 1) * k).reshape(n_max + 1, k)
        perim[t] = _perimeters(labels[t], n_max)
    counts, perim = counts[:, ids], perim[:, ids]
    area = counts.sum(-1)
    frac = counts[..., : len(codes)] / np.maximum(area, 1)[..., None]
    fractions = {name: frac[..., i] for i, name in enumerate(_FRACTION_NAMES)}
    known = frac[..., :3].sum(-1)
    weighted = sum(mapping[n] * fractions[n] for n in ("III", "II", "I"))
    cbar = np.where(known > 0, weighted / np.maximum(known, 1e-12), np.nan)
    transitions = {s: _first_above(fractions[s], area > 0, 0.5) for s in ("II", "I")}
    return ParticleTable(ids=ids, area=area, perimeter=perim, fractions=fractions, cbar=cbar,
                         transition_frames=transitions, pixel_size=pixel_size, pixel_unit=pixel_unit)


def _first_above(fraction: np.ndarray, present: np.ndarray, level: float) -> np.ndarray:
    """Return the first frame (axis 0) where ``fraction > level`` in each column, NaN if never."""
    above = (fraction > level) & present
    first = np.argmax(above, axis=0).astype(np.float64)
    first[~above.any(axis=0)] = np.nan
    return first


def transition_frames(stages: np.ndarray, labels: np.ndarray, ids: np.ndarray, stage: str,
                      level: float = 0.5) -> np.ndarray:
    """Return the first frame where more than ``level`` of each particle's pixels are in ``stage`` (NaN: never).

    Parameters
    ----------
    stages, labels : ndarray, shape (T, Y, X)
        Stage codes and particle ids.
    ids : ndarray of int
        The particles to report, in order.
    stage : str
        ``III``, ``II``, ``I`` or ``plating``.
    level : float
        Share of the particle's pixels.

    Returns
    -------
    ndarray of float, shape (len(ids),)
        Frame indices.
    """
    code = STAGE_CODES[stage]
    n = int(max(labels.max(), ids.max() if ids.size else 0)) + 1
    area = np.stack([np.bincount(lab.ravel(), minlength=n) for lab in labels])
    hit = np.stack([np.bincount(lab.ravel(), weights=(st.ravel() == code), minlength=n)
                    for lab, st in zip(labels, stages, strict=True)])
    frac = hit[:, ids] / np.maximum(area[:, ids], 1)
    return _first_above(frac, area[:, ids] > 0, level)
