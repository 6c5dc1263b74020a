"""A synthetic operando neutron radiography run of a cell cross-section, with its ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._stack import Metadata, Stack
from ._metrics import AVOGADRO, li_cross_section_barn

FARADAY = 96485.33212  # C / mol

#: Layers along the depth axis (X): name, share of the cell thickness, static attenuation A.
LAYERS = (("anode_collector", 0.06, 0.35), ("anode", 0.40, 0.75), ("separator", 0.10, 0.45),
          ("cathode", 0.38, 0.65), ("cathode_collector", 0.06, 0.12))


@dataclass(frozen=True)
class Phantom:
    """Raw frames of the synthetic run and everything known about them.

    Attributes
    ----------
    sample, open_beam, dark : Stack
        ``TYX`` uint16 counts (sample with frame times, 50 um pixels and the exposure time).
    delta_a_true : ndarray, shape (T, Y, X), float32
        Noise-free Delta A relative to the reference frames, as a perfect detector (same blur) would see it.
    regions : dict
        regions.json content: electrodes, separator, collectors and the open (air) boxes.
    boundaries : list of int
        Frames that bound the half-cycles.
    reference : (int, int)
        Reference frame range (the rest frames before the first charge).
    cycler : dict of str to list of float
        ``time_s``, ``current_a``, ``voltage_v`` of the synthetic cycler record.
    truth : dict
        Drift, beam factors, spots, inactive-zone thickness per cycle, Li moved per half-cycle.
    config : dict
        Parameters including the seed.
    """

    sample: Stack
    open_beam: Stack
    dark: Stack
    delta_a_true: np.ndarray
    regions: dict[str, Any]
    boundaries: list[int]
    reference: tuple[int, int]
    cycler: dict[str, list[float]]
    truth: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


def _layout(nx: int, margin: int) -> list[tuple[str, int, int, float]]:
    """Return (name, x0, x1, attenuation) of each layer for a cell spanning ``margin .. nx - margin``."""
    width = nx - 2 * margin
    edges = margin + np.round(np.cumsum([0.0] + [s for _, s, _ in LAYERS]) * width).astype(int)
    return [(name, int(edges[i]), int(edges[i + 1]), a) for i, (name, _, a) in enumerate(LAYERS)]


def _boundary_profiles(n_half: int, depth: int, ce: list[float], inactive: list[int], moved: list[float],
                       gradient: float, anode: bool) -> np.ndarray:
    """Return the Li attenuation vs depth from the separator at each half-cycle boundary, shape (H + 1, depth).

    Charge: the active zone (the anode less its inactive zone at the current collector; the whole cathode)
    relaxes to its mean and gains (anode) or loses (cathode) ``moved`` uniformly. Discharge: a share ``ce`` of
    it goes back, with a linear profile ``1 - gradient * z / L`` over the active zone that favours the
    separator side (the localised discharge); nothing changes in the inactive zone.
    """
    z = np.arange(depth)
    profiles = [np.zeros(depth)]
    for h in range(n_half):
        cycle, new = h // 2, profiles[-1].copy()
        zone = z < depth - inactive[cycle] if anode else np.ones(depth, bool)
        if h % 2 == 0:
            new[zone] = new[zone].mean() + (1 if anode else -1) * moved[cycle] / zone.sum()
        else:
            shape = np.where(zone, 1 - gradient * z / zone.sum(), 0.0)
            new += (-1 if anode else 1) * ce[cycle] * moved[cycle] * shape / shape.sum()
        profiles.append(new)
    return np.stack(profiles)


def _attenuation_series(config: dict[str, Any], layout: list, tau: np.ndarray, rng: np.random.Generator
                        ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Return the static attenuation map, the Li attenuation series (T, Y, X), and the truth numbers."""
    ny, nx, rows = config["ny"], config["nx"], config["cell_rows"]
    static = np.zeros((ny, nx))
    for _, x0, x1, a in layout:
        static[rows[0]:rows[1], x0:x1] = a
    n_half = 2 * config["n_cycles"]
    step = config["inactive_step_px"]
    inactive = [c * step for c in range(config["n_cycles"])]
    ce = list(config["coulombic_efficiency"])
    li = np.zeros((len(tau), ny, nx))
    in_plane = 1.0 + 0.08 * np.sin(np.linspace(0, 2 * np.pi, rows[1] - rows[0]) + rng.uniform(0, 2 * np.pi))
    anode_depth = next(lay[2] - lay[1] for lay in layout if lay[0] == "anode")
    moved = [config["li_amplitude"] * (anode_depth - w) for w in inactive]
    for name, anode in (("anode", True), ("cathode", False)):
        _, x0, x1, _ = next(lay for lay in layout if lay[0] == name)
        bounds = _boundary_profiles(n_half, x1 - x0, ce, inactive, moved, config["discharge_gradient"], anode)
        if anode:  # depth 0 at the separator, which lies at the anode's high-x side
            bounds = bounds[:, ::-1]
        h = np.clip(np.floor(tau).astype(int), 0, n_half - 1)
        frac = np.clip(tau - h, 0.0, 1.0)[:, None]
        profile = bounds[h] + frac * (bounds[h + 1] - bounds[h])  # (T, depth)
        li[:, rows[0]:rows[1], x0:x1] = profile[:, None, :] * in_plane[None, :, None]
    truth = {"inactive_zone_px": inactive, "coulombic_efficiency": ce}
    return static, li, truth


def _counts(config: dict[str, Any], transmission: np.ndarray, flat: np.ndarray, rng: np.random.Generator
            ) -> tuple[np.ndarray, list[int]]:
    """Return Poisson counts with dark current, read noise and gamma spots, and the spots per frame."""
    dark, read_sd = config["dark_counts"], config["read_noise_sd"]
    counts = rng.poisson(flat * transmission).astype(np.float64)
    counts += dark + read_sd * rng.standard_normal(counts.shape)
    spots = []
    for frame in counts:
        n = rng.poisson(config["spot_rate"] * frame.size)
        ys, xs = rng.integers(0, frame.shape[0], n), rng.integers(0, frame.shape[1], n)
        amp = rng.uniform(3, 15, n) * config["open_beam_counts"]
        frame[ys, xs] += amp
        halo = rng.random(n) < 0.3
        for y, x, a in zip(ys[halo], xs[halo], amp[halo], strict=True):
            frame[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] += 0.2 * a
        spots.append(int(n))
    return np.clip(np.rint(counts), 0, 65535).astype(np.uint16), spots


def _cycler_record(config: dict[str, Any], boundaries: list[int], moved_mol: list[float]) -> dict[str, list[float]]:
    """Return a cycler record (1 sample per 10 s) whose charge matches the Li moved in each half-cycle."""
    dt = config["frame_interval_s"]
    times, currents, volts = [], [], []
    for h, (b0, b1) in enumerate(zip(boundaries, boundaries[1:], strict=False)):
        t0, t1 = b0 * dt, b1 * dt
        current = FARADAY * moved_mol[h] / (t1 - t0) * (1 if h % 2 == 0 else -1)
        for t in np.arange(t0, t1, 10.0):
            f = (t - t0) / (t1 - t0)
            times.append(float(t))
            currents.append(float(current))
            volts.append(float(3.4 + 0.8 * f if current > 0 else 4.2 - 0.8 * f))
    times.append(float(boundaries[-1] * dt))
    currents.append(0.0)
    volts.append(volts[-1])
    return {"time_s": times, "current_a": currents, "voltage_v": volts}


def default_config(**changes: Any) -> dict[str, Any]:
    """Return the phantom's default parameters with ``changes`` applied (unknown keys are refused).

    Parameters
    ----------
    **changes
        Parameters to change (``ny``, ``nx``, ``n_cycles``, ``frames_per_half_cycle``, ``open_beam_counts``,
        ``li_amplitude``, ...).

    Returns
    -------
    dict
        The configuration.
    """
    config: dict[str, Any] = {
        "ny": 64, "nx": 128, "n_cycles": 3, "frames_per_half_cycle": 32, "rest_frames": 4,
        "open_beam_counts": 2500.0, "open_beam_frames": 5, "dark_frames": 5, "dark_counts": 300.0,
        "read_noise_sd": 4.0, "spot_rate": 2e-4, "beam_flicker": 0.02, "drift_px": (0.6, 1.2), "psf_sigma_px": 0.7,
        "li_amplitude": 0.10, "discharge_gradient": 0.5, "inactive_step_px": 4,
        "coulombic_efficiency": (0.92, 0.95, 0.97),
        "pixel_size_um": 50.0, "frame_interval_s": 60.0, "exposure_time_s": 30.0, "li6_fraction": 0.0759,
    }
    unknown = set(changes) - set(config)
    if unknown:
        raise InputError(f"unknown phantom parameter(s) {sorted(unknown)}; known: {', '.join(config)}")
    config.update(changes)
    _check_config(config)
    if len(config["coulombic_efficiency"]) < config["n_cycles"]:
        config["coulombic_efficiency"] = tuple(config["coulombic_efficiency"]) + (0.97,) * config["n_cycles"]
    return config


#: Ranges of the phantom's parameters: (lowest, highest, whether the lowest itself is allowed).
_RANGES: dict[str, tuple[float, float, bool]] = {
    "ny": (16, 4096, True), "nx": (48, 4096, True), "n_cycles": (1, 100, True),
    "frames_per_half_cycle": (1, 10000, True), "rest_frames": (1, 10000, True), "open_beam_counts": (1, 50000, True),
    "open_beam_frames": (1, 1000, True), "dark_frames": (1, 1000, True), "dark_counts": (0, 10000, True),
    "read_noise_sd": (0, 1000, True), "spot_rate": (0, 0.1, True), "beam_flicker": (0, 0.5, True),
    "psf_sigma_px": (0, 10, True), "li_amplitude": (0, 1, True), "discharge_gradient": (0, 1, True),
    "inactive_step_px": (0, 1000, True), "pixel_size_um": (0, 1e6, False), "frame_interval_s": (0, 1e7, False),
    "exposure_time_s": (0, 1e6, False), "li6_fraction": (0, 1, True),
}
_INTEGERS = ("ny", "nx", "n_cycles", "frames_per_half_cycle", "rest_frames", "open_beam_frames", "dark_frames",
             "inactive_step_px")
#: The most frames the phantom makes (the whole series is held in memory several times over).
MAX_FRAMES = 20000


def _check_config(config: dict[str, Any]) -> None:
    """Refuse phantom parameters outside their ranges, before anything is simulated or written."""
    for name, (low, high, closed) in _RANGES.items():
        value = config[name]
        if name in _INTEGERS and (isinstance(value, bool) or int(value) != value):
            raise InputError(f"phantom parameter {name} = {value!r} must be a whole number")
        ok = np.isfinite(value) and (value >= low if closed else value > low) and value <= high
        if not ok:
            raise InputError(f"phantom parameter {name} = {value!r} is out of range; give a value "
                             f"{'>=' if closed else '>'} {low:g} and <= {high:g}")
    frames = config["rest_frames"] + 2 * config["n_cycles"] * config["frames_per_half_cycle"]
    if frames > MAX_FRAMES:
        raise InputError(f"the phantom would have {frames} frames (rest + 2 x cycles x frames per half-cycle); at "
                         f"most {MAX_FRAMES}: lower the cycles or the frames per half-cycle")
    drift = tuple(config["drift_px"])
    if len(drift) != 2 or not all(np.isfinite(d) and abs(d) <= 0.25 * min(config["ny"], config["nx"]) for d in drift):
        raise InputError(f"phantom parameter drift_px = {drift!r}: give (dy, dx), each within a quarter of the image")
    ce = tuple(config["coulombic_efficiency"])
    if not all(np.isfinite(c) and 0 < c <= 1 for c in ce):
        raise InputError(f"phantom parameter coulombic_efficiency = {ce!r}: each must lie in (0, 1]")
    layout = _layout(int(config["nx"]), max(3, int(config["nx"]) // 16))
    anode = next(lay[2] - lay[1] for lay in layout if lay[0] == "anode")
    thinnest = min(lay[2] - lay[1] for lay in layout)
    if thinnest < 3:
        raise InputError(f"the {config['nx']} px wide phantom's thinnest layer is {thinnest} px (need >= 3); give a "
                         "larger nx")
    if anode - config["inactive_step_px"] * (config["n_cycles"] - 1) < 5:
        raise InputError(f"the {config['nx']} px wide phantom is too narrow for {config['n_cycles']} cycle(s) (the "
                         f"anode is {anode} px, its inactive zone grows {config['inactive_step_px']} px a cycle); "
                         "give a larger nx, fewer cycles or a smaller inactive_step_px")


def simulate_neutron_phantom(*, rng: int | np.random.Generator | None = None, **changes: Any) -> Phantom:
    """Simulate an operando radiography run of an anode | separator | cathode cross-section over a few cycles.

    Lithium fills the anode uniformly on charge (leaving the cathode uniformly), leaves it from a zone next to
    the separator on discharge (a linear profile, ``discharge_gradient``), and an inactive zone grows at the anode's
    current collector by ``inactive_step_px`` per cycle. The frames are Poisson counts of an open beam of
    ``open_beam_counts`` (with a smooth flat-field pattern) through the blurred transmission, plus dark current,
    read noise, gamma spots (some with halos), a per-frame beam flicker and a slow linear drift.

    Parameters
    ----------
    rng : int or Generator, optional
        Seed.
    **changes
        Parameters of :func:`default_config`.

    Returns
    -------
    Phantom
        Raw frames, truth and configuration.
    """
    config = default_config(**changes)
    seed = int(np.random.default_rng(rng).integers(0, 2**31 - 1)) if not isinstance(rng, int) else rng
    gen = np.random.default_rng(seed)
    ny, nx, fph, n_rest = config["ny"], config["nx"], config["frames_per_half_cycle"], config["rest_frames"]
    n_half = 2 * config["n_cycles"]
    n_frames = n_rest + n_half * fph
    margin_y = max(4, ny // 8)
    config["cell_rows"] = (margin_y, ny - margin_y)
    layout = _layout(nx, max(3, nx // 16))
    tau = np.clip((np.arange(n_frames) - (n_rest - 1)) / fph, 0, None)
    static, li, truth = _attenuation_series(config, layout, tau, gen)
    drift = np.linspace(0, 1, n_frames)[:, None] * np.asarray(config["drift_px"])[None, :]
    psf = config["psf_sigma_px"]
    seen = np.stack([ndimage.gaussian_filter(np.exp(-(static + a)), psf) for a in li])
    moved = np.stack([ndimage.shift(np.exp(-(static + a)), -d, order=3, mode="nearest") for a, d in zip(li, drift,
                                                                                                        strict=True)])
    moved = np.stack([ndimage.gaussian_filter(np.clip(m, 1e-6, None), psf) for m in moved])
    yy, xx = np.mgrid[0:ny, 0:nx] / max(ny, nx)
    flat = config["open_beam_counts"] * (1 + 0.08 * (xx - 0.5) - 0.05 * (yy - 0.5) ** 2)
    flicker = 1 + config["beam_flicker"] * gen.standard_normal(n_frames)
    sample, spots = _counts(config, moved * flicker[:, None, None], flat, gen)
    open_beam, _ = _counts({**config, "spot_rate": config["spot_rate"]}, np.ones((config["open_beam_frames"], ny, nx)),
                           flat, gen)
    dark, _ = _counts({**config, "spot_rate": config["spot_rate"] / 4}, np.zeros((config["dark_frames"], ny, nx)),
                      flat, gen)
    a_seen = -np.log(seen)
    delta_true = (a_seen - a_seen[:n_rest].mean(axis=0)).astype(np.float32)
    boundaries = [n_rest - 1 + h * fph for h in range(n_half + 1)]
    regions = _regions_spec(layout, config["cell_rows"], ny, nx)
    sigma_cm2 = li_cross_section_barn(config["li6_fraction"]) * 1e-24
    area_cm2 = (config["pixel_size_um"] * 1e-4) ** 2
    moved_mol = _anode_changes(li, boundaries, layout) * area_cm2 / sigma_cm2 / AVOGADRO
    cycler = _cycler_record(config, boundaries, moved_mol.tolist())
    truth.update({"drift_px": drift.tolist(), "beam_flicker": flicker.tolist(), "spots_per_frame": spots,
                  "li_moved_mol": moved_mol.tolist(), "cross_section_barn": sigma_cm2 * 1e24})
    times = tuple(float(i * config["frame_interval_s"]) for i in range(n_frames))
    meta = Metadata(pixel_size=config["pixel_size_um"], pixel_unit="um", frame_times=times,
                    original_dtype="uint16", extra={"exposure_time_s": config["exposure_time_s"]})
    ob_meta = Metadata(pixel_size=config["pixel_size_um"], pixel_unit="um", original_dtype="uint16",
                       extra={"exposure_time_s": config["exposure_time_s"]})
    config = {**config, "seed": seed, "drift_px": list(config["drift_px"]),
              "coulombic_efficiency": list(config["coulombic_efficiency"])}
    return Phantom(Stack(sample, axes="TYX", metadata=meta), Stack(open_beam, axes="TYX", metadata=ob_meta),
                   Stack(dark, axes="TYX", metadata=ob_meta), delta_true, regions, boundaries, (0, n_rest),
                   cycler, truth, config)


def _anode_changes(li: np.ndarray, boundaries: list[int], layout: list) -> np.ndarray:
    """Return the Li attenuation summed over the anode that each half-cycle moved (absolute)."""
    _, x0, x1, _ = next(lay for lay in layout if lay[0] == "anode")
    totals = np.array([li[b][:, x0:x1].sum() for b in boundaries])
    return np.abs(np.diff(totals))


def _regions_spec(layout: list, rows: tuple[int, int], ny: int, nx: int) -> dict[str, Any]:
    """Return regions.json for the phantom: layers shrunk by 2 px (no partial-volume pixels), open air boxes."""
    regions: dict[str, Any] = {}
    for name, x0, x1, _ in layout:
        kind = "collector" if name.endswith("collector") else "separator" if name == "separator" else "electrode"
        m = 1 if kind == "collector" else 2
        regions[name] = {"kind": kind, "box": [rows[0] + 2, rows[1] - 2, x0 + m, x1 - m]}
    top, bottom = max(rows[0] - 2, 1), min(rows[1] + 2, ny - 1)
    regions["open"] = {"kind": "open", "boxes": [[1, top, 2, nx - 2], [bottom, ny - 1, 2, nx - 2]]}
    regions["cell"] = {"kind": "other", "box": [rows[0], rows[1], layout[0][1], layout[-1][2]]}
    return {"depth_axis": "X", "regions": regions}
