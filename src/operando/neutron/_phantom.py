"""A synthetic operando neutron radiography run of a cell cross-section, with its ground truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._regions import format_region
from .._stack import Metadata, Stack
from .._units import convert
from ._metrics import AVOGADRO, barn_in_cm2, li_cross_section_barn, pixel_area_cm2

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
        regions.json content: electrodes, separator, collectors and the open (air) boxes ('y0:y1,x0:x1').
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


def _layout(nx: int, margin: int | tuple[int, int], shares: Sequence[float] | None = None,
            attenuation: Sequence[float] | None = None) -> list[tuple[str, int, int, float]]:
    """Return (name, x0, x1, attenuation) of each layer for a cell spanning ``margin .. nx - margin``.

    ``margin`` is one width for both ends or ``(low, high)``; ``shares`` (normalised to 1) and ``attenuation``
    replace the defaults of :data:`LAYERS` (anode collector, anode, separator, cathode, cathode collector).
    """
    low, high = (margin, margin) if isinstance(margin, (int, np.integer)) else margin
    width = nx - low - high
    if shares is None:
        shares = [s for _, s, _ in LAYERS]
    else:
        shares = list(np.asarray(shares, float) / float(np.sum(shares)))
    att = [a for _, _, a in LAYERS] if attenuation is None else list(attenuation)
    edges = low + np.round(np.cumsum([0.0, *shares]) * width).astype(int)
    return [(name, int(edges[i]), int(edges[i + 1]), float(att[i])) for i, (name, _, _) in enumerate(LAYERS)]


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
    ny, nx, rows = config["_rows"], config["_depth"], config["cell_rows"]
    static = np.zeros((ny, nx))
    for _, x0, x1, a in layout:
        static[rows[0]:rows[1], x0:x1] = a
    n_half = 2 * config["n_cycles"]
    step = config["inactive_step_px"]
    inactive = [c * step for c in range(config["n_cycles"])]
    ce = list(config["coulombic_efficiency"])
    li = np.zeros((len(tau), ny, nx))
    in_plane = 1.0 + config["in_plane_variation"] * np.sin(np.linspace(0, 2 * np.pi, rows[1] - rows[0])
                                                           + rng.uniform(0, 2 * np.pi))
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


PLACEMENTS = ("above_below", "above", "beside", "none")


def default_config(**changes: Any) -> dict[str, Any]:
    """Return the phantom's default parameters with ``changes`` applied (unknown keys are refused).

    Parameters
    ----------
    **changes
        Parameters to change (``ny``, ``nx``, ``n_cycles``, ``frames_per_half_cycle``, ``open_beam_counts``,
        ``li_amplitude``, ...; the geometry: ``layer_shares``, ``layer_attenuation``, ``cell_margin_px``,
        ``depth_axis``, ``anode_side``, ``open_beam_placement``; see :data:`FAMILY` for what varies).

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
        "in_plane_variation": 0.08, "layer_shares": None, "layer_attenuation": None, "cell_margin_px": None,
        "depth_axis": "X", "anode_side": "low", "open_beam_placement": "above_below",
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
    "ny": (16, 4096, True), "nx": (16, 4096, True), "n_cycles": (1, 100, True),
    "frames_per_half_cycle": (1, 10000, True), "rest_frames": (1, 10000, True), "open_beam_counts": (1, 50000, True),
    "open_beam_frames": (1, 1000, True), "dark_frames": (1, 1000, True), "dark_counts": (0, 10000, True),
    "read_noise_sd": (0, 1000, True), "spot_rate": (0, 0.1, True), "beam_flicker": (0, 0.5, True),
    "psf_sigma_px": (0, 10, True), "li_amplitude": (0, 1, True), "discharge_gradient": (0, 1, True),
    "inactive_step_px": (0, 1000, True), "pixel_size_um": (0, 1e6, False), "frame_interval_s": (0, 1e7, False),
    "exposure_time_s": (0, 1e6, False), "li6_fraction": (0, 1, True), "in_plane_variation": (0, 0.5, True),
}
_INTEGERS = ("ny", "nx", "n_cycles", "frames_per_half_cycle", "rest_frames", "open_beam_frames", "dark_frames",
             "inactive_step_px")
#: The most frames the phantom makes (the whole series is held in memory several times over).
MAX_FRAMES = 20000


def _geometry(config: dict[str, Any]) -> dict[str, Any]:
    """Return the cell's frame in the phantom's own axes (rows = in-plane, columns = depth): sizes, margins, rows.

    Depth runs along the image's X (``depth_axis="X"``) or Y; the phantom is drawn with depth along its columns
    and transposed at the end. ``open_beam_placement``: ``above_below`` (air strips on both in-plane sides, the
    default), ``above`` (one strip), ``beside`` (air beyond both current collectors along the depth axis), ``none``
    (the cell fills the frame).
    """
    n_rows, n_depth = (config["ny"], config["nx"]) if config["depth_axis"] == "X" else (config["nx"], config["ny"])
    placement = config["open_beam_placement"]
    margin = config["cell_margin_px"]
    if margin is None:
        margin = (0, 0) if placement == "none" else (max(3, n_depth // 16),) * 2
    margin_y = max(4, n_rows // 8)
    rows = {"above_below": (margin_y, n_rows - margin_y), "above": (margin_y, n_rows)}.get(placement, (0, n_rows))
    return {"rows": rows, "n_rows": n_rows, "n_depth": n_depth, "margin": (int(margin[0]), int(margin[1]))}


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
    for name, allowed in (("depth_axis", ("X", "Y")), ("anode_side", ("low", "high")),
                          ("open_beam_placement", PLACEMENTS)):
        if config[name] not in allowed:
            raise InputError(f"phantom parameter {name} = {config[name]!r}: choose {', '.join(allowed)}")
    for name, low, high in (("layer_shares", 0.0, 1.0), ("layer_attenuation", 0.0, 5.0)):
        value = config[name]
        if value is not None and (len(value) != len(LAYERS) or not all(np.isfinite(v) and low < v <= high
                                                                          for v in value)):
            raise InputError(f"phantom parameter {name} = {value!r}: give {len(LAYERS)} numbers in ({low:g}, "
                             f"{high:g}] (anode collector, anode, separator, cathode, cathode collector)")
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
    margin = config["cell_margin_px"]
    if margin is not None and (len(margin) != 2 or not all(int(m) == m and m >= 0 for m in margin)):
        raise InputError(f"phantom parameter cell_margin_px = {margin!r}: give (low, high) whole pixels >= 0")
    geo = _geometry(config)
    depth = "nx" if config["depth_axis"] == "X" else "ny"
    if geo["n_depth"] < 48 or geo["n_rows"] < 16:
        raise InputError(f"the phantom needs >= 48 px along the depth axis ({depth} = {geo['n_depth']}) and >= 16 px "
                         "in-plane; give a larger image")
    if config["open_beam_placement"] == "beside" and min(geo["margin"]) < 4:
        raise InputError(f"open_beam_placement 'beside' needs air margins of >= 4 px, got {geo['margin']}")
    layout = _layout(geo["n_depth"], geo["margin"], config["layer_shares"], config["layer_attenuation"])
    anode = next(lay[2] - lay[1] for lay in layout if lay[0] == "anode")
    thinnest = min(lay[2] - lay[1] for lay in layout)
    if thinnest < 3:
        raise InputError(f"the {geo['n_depth']} px deep phantom's thinnest layer is {thinnest} px (need >= 3); give "
                         f"a larger {depth}")
    if anode - config["inactive_step_px"] * (config["n_cycles"] - 1) < 5:
        raise InputError(f"the {geo['n_depth']} px deep phantom is too narrow for {config['n_cycles']} cycle(s) (the "
                         f"anode is {anode} px, its inactive zone grows {config['inactive_step_px']} px a cycle); "
                         f"give a larger {depth}, fewer cycles or a smaller inactive_step_px")


#: The phantom family: what real runs vary in, and the range each variant's value is drawn from (uniform unless
#: "log"). Shares of the cell thickness are normalised to 1 after drawing; "depth_axis" Y swaps the image size so
#: the depth axis keeps its length; "cell_margin_px" is the air beyond each collector ("beside": 6-16 px; "none":
#: 0, the cell fills the frame; otherwise 3-12 px).
FAMILY: dict[str, Any] = {
    "layer_shares": {"anode_collector": (0.04, 0.08), "anode": (0.30, 0.45), "separator": (0.06, 0.14),
                     "cathode": (0.28, 0.42), "cathode_collector": (0.04, 0.08)},
    "layer_attenuation": {"anode_collector": (0.25, 0.45), "anode": (0.50, 1.00), "separator": (0.30, 0.60),
                          "cathode": (0.45, 0.90), "cathode_collector": (0.05, 0.20)},
    "depth_axis": ("X", "Y"),
    "anode_side": ("low", "high"),
    "open_beam_placement": PLACEMENTS,
    "cell_margin_px": (3, 12),
    "psf_sigma_px": (0.4, 1.5),
    "beam_flicker": (0.0, 0.03),
    "spot_rate": (0.0, 1e-3),
    "open_beam_counts": (800.0, 6000.0, "log"),
    "dark_counts": (100.0, 500.0),
    "read_noise_sd": (2.0, 8.0),
    "drift_px": (-1.5, 1.5),
    "in_plane_variation": (0.02, 0.12),
    "li_amplitude": (0.06, 0.14),
    "discharge_gradient": (0.2, 0.8),
    "inactive_step_px": (2, 5),
}


def draw_phantom_config(rng: int | np.random.Generator | None = None, **fixed: Any) -> dict[str, Any]:
    """Draw one member of the phantom family: parameters for :func:`simulate_neutron_phantom`.

    Every parameter of :data:`FAMILY` is drawn from its range (cell geometry, orientation, which side the anode
    is on, where the open beam is, blur, flicker, gamma-spot rate, counts, dark, drift, in-plane variation, the
    lithium moved, the discharge gradient, the inactive zone's growth); ``fixed`` parameters (e.g.
    ``n_cycles``, ``frames_per_half_cycle`` for a run's size, or any family parameter) are kept as given. ``ny``
    and ``nx`` are the image size with depth along X; a variant with depth along Y gets them swapped.

    Parameters
    ----------
    rng : int or Generator, optional
        Seed of the draw (the same seed gives the same variant).
    **fixed
        Parameters of :func:`default_config` to keep.

    Returns
    -------
    dict
        Parameters (checked by :func:`default_config`): pass them as ``simulate_neutron_phantom(rng=..., **p)``.
    """
    gen = np.random.default_rng(rng)
    base = default_config(**{k: v for k, v in fixed.items() if k in ("ny", "nx")})
    out: dict[str, Any] = {}

    def uniform(low: float, high: float, scale: str = "") -> float:
        if scale == "log":
            return float(np.exp(gen.uniform(np.log(low), np.log(high))))
        return float(gen.uniform(low, high))

    out["layer_shares"] = tuple(uniform(*r) for r in FAMILY["layer_shares"].values())
    out["layer_attenuation"] = tuple(uniform(*r) for r in FAMILY["layer_attenuation"].values())
    for name in ("depth_axis", "anode_side", "open_beam_placement"):
        out[name] = str(gen.choice(FAMILY[name]))
    low, high = FAMILY["cell_margin_px"]
    margins = gen.integers(low, high + 1, 2)
    out["cell_margin_px"] = {"beside": tuple(int(m) + 4 for m in margins), "none": (0, 0)}.get(
        out["open_beam_placement"], tuple(int(m) for m in margins))
    for name in ("psf_sigma_px", "beam_flicker", "spot_rate", "open_beam_counts", "dark_counts", "read_noise_sd",
                 "in_plane_variation", "li_amplitude", "discharge_gradient"):
        out[name] = uniform(*FAMILY[name])
    out["drift_px"] = (uniform(*FAMILY["drift_px"]), uniform(*FAMILY["drift_px"]))
    out["inactive_step_px"] = int(gen.integers(FAMILY["inactive_step_px"][0], FAMILY["inactive_step_px"][1] + 1))
    out.update({k: v for k, v in fixed.items() if k not in ("ny", "nx")})
    # ny, nx are the size with depth along X; a variant with depth along Y swaps them (the depth keeps its length)
    out["ny"], out["nx"] = (base["nx"], base["ny"]) if out["depth_axis"] == "Y" else (base["ny"], base["nx"])
    default_config(**out)  # every drawn value checked
    return out


def _orient(image: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    """Return an array drawn with depth along its last axis in the image's orientation (mirror, then transpose)."""
    out = image[..., ::-1] if config["anode_side"] == "high" else image
    return np.swapaxes(out, -1, -2) if config["depth_axis"] == "Y" else out


def _orient_box(box: list[int], config: dict[str, Any], n_depth: int) -> list[int]:
    """Return a box [r0, r1, d0, d1] of the phantom's own axes as [y0, y1, x0, x1] of the image."""
    r0, r1, d0, d1 = box
    if config["anode_side"] == "high":
        d0, d1 = n_depth - d1, n_depth - d0
    return [d0, d1, r0, r1] if config["depth_axis"] == "Y" else [r0, r1, d0, d1]


def simulate_neutron_phantom(*, rng: int | np.random.Generator | None = None, **changes: Any) -> Phantom:
    """Simulate an operando radiography run of an anode | separator | cathode cross-section over a few cycles.

    Lithium fills the anode uniformly on charge (leaving the cathode uniformly), leaves it from a zone next to
    the separator on discharge (a linear profile, ``discharge_gradient``), and an inactive zone grows at the anode's
    current collector by ``inactive_step_px`` per cycle. The frames are Poisson counts of an open beam of
    ``open_beam_counts`` (with a smooth flat-field pattern) through the blurred transmission, plus dark current,
    read noise, gamma spots (some with halos), a per-frame beam flicker and a slow linear drift. The defaults
    are one cell; :func:`draw_phantom_config` draws others (geometry, orientation, blur, flicker, spots, counts,
    where the open beam is) from the ranges of :data:`FAMILY`.

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
    geo = _geometry(config)
    config["cell_rows"] = geo["rows"]
    layout = _layout(geo["n_depth"], geo["margin"], config["layer_shares"], config["layer_attenuation"])
    tau = np.clip((np.arange(n_frames) - (n_rest - 1)) / fph, 0, None)
    static, li, truth = _attenuation_series({**config, "_rows": geo["n_rows"], "_depth": geo["n_depth"]}, layout,
                                            tau, gen)
    boundaries = [n_rest - 1 + h * fph for h in range(n_half + 1)]
    sigma_cm2 = barn_in_cm2(li_cross_section_barn(config["li6_fraction"]))
    area_cm2 = pixel_area_cm2(config["pixel_size_um"])
    moved_mol = _anode_changes(li, boundaries, layout) * area_cm2 / sigma_cm2 / AVOGADRO
    static, li = _orient(static, config), _orient(li, config)
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
    regions = _regions_spec(layout, geo, config)
    cycler = _cycler_record(config, boundaries, moved_mol.tolist())
    truth.update({"drift_px": drift.tolist(), "beam_flicker": flicker.tolist(), "spots_per_frame": spots,
                  "li_moved_mol": moved_mol.tolist(), "cross_section_barn": sigma_cm2 * convert(1.0, "cm**2", "barn")})
    times = tuple(float(i * config["frame_interval_s"]) for i in range(n_frames))
    meta = Metadata(pixel_size=config["pixel_size_um"], pixel_unit="um", frame_times=times,
                    original_dtype="uint16", extra={"exposure_time_s": config["exposure_time_s"]})
    ob_meta = Metadata(pixel_size=config["pixel_size_um"], pixel_unit="um", original_dtype="uint16",
                       extra={"exposure_time_s": config["exposure_time_s"]})
    config = {**config, "seed": seed, "drift_px": list(config["drift_px"]),
              "coulombic_efficiency": list(config["coulombic_efficiency"])}
    for key in ("layer_shares", "layer_attenuation", "cell_margin_px", "cell_rows"):
        config[key] = None if config[key] is None else list(config[key])
    return Phantom(Stack(sample, axes="TYX", metadata=meta), Stack(open_beam, axes="TYX", metadata=ob_meta),
                   Stack(dark, axes="TYX", metadata=ob_meta), delta_true, regions, boundaries, (0, n_rest),
                   cycler, truth, config)


def _anode_changes(li: np.ndarray, boundaries: list[int], layout: list) -> np.ndarray:
    """Return the Li attenuation summed over the anode that each half-cycle moved (absolute)."""
    _, x0, x1, _ = next(lay for lay in layout if lay[0] == "anode")
    totals = np.array([li[b][:, x0:x1].sum() for b in boundaries])
    return np.abs(np.diff(totals))


def _regions_spec(layout: list, geo: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Return regions.json for the phantom: layers shrunk by 2 px (no partial-volume pixels), open air boxes.

    Boxes are drawn in the phantom's own axes (rows in-plane, columns along depth) and turned into the image's.
    """
    rows, n_rows, n_depth = geo["rows"], geo["n_rows"], geo["n_depth"]
    boxes: dict[str, Any] = {}
    for name, x0, x1, _ in layout:
        kind = "collector" if name.endswith("collector") else "separator" if name == "separator" else "electrode"
        m = 1 if kind == "collector" else 2
        r0 = rows[0] + 2 if rows[0] > 0 else 1
        r1 = rows[1] - 2 if rows[1] < n_rows else n_rows - 1
        boxes[name] = {"kind": kind, "box": [r0, r1, x0 + m, x1 - m]}
    placement = config["open_beam_placement"]
    top, bottom = max(rows[0] - 2, 1), min(rows[1] + 2, n_rows - 1)
    low, high = layout[0][1], layout[-1][2]
    open_boxes = {"above_below": [[1, top, 2, n_depth - 2], [bottom, n_rows - 1, 2, n_depth - 2]],
                  "above": [[1, top, 2, n_depth - 2]],
                  "beside": [[1, n_rows - 1, 1, low - 2], [1, n_rows - 1, high + 2, n_depth - 1]],
                  "none": []}[placement]
    if open_boxes:
        boxes["open"] = {"kind": "open", "boxes": open_boxes}
    boxes["cell"] = {"kind": "other", "box": [rows[0], rows[1], low, high]}
    regions: dict[str, Any] = {}
    for name, spec in boxes.items():
        regions[name] = dict(spec)
        if "box" in spec:
            regions[name]["box"] = format_region(_orient_box(spec["box"], config, n_depth))
        if "boxes" in spec:
            regions[name]["boxes"] = [format_region(_orient_box(b, config, n_depth)) for b in spec["boxes"]]
    return {"depth_axis": config["depth_axis"], "regions": regions}
