"""The STXM phantom: LFP platelets with evolving Li domains, imaged at two or more energies, and its family.

:func:`make_phantom` draws the counts a beamline would record (Poisson counting noise, scan-line gains and
offsets, drift between images, a slow ring-current decay) with the ground truth (Li fraction, thickness, particle
labels) and a 2x finer, low-noise "ptychography" reference. :func:`phantom_family` draws variants within the
ranges of :class:`PhantomFamily` (docs/xray.md): what real data varies in.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .._errors import InputError
from .._files import write_json_file
from .._progress import Progress, emit
from .._stack import Metadata, Stack
from ._composition import default_references

if TYPE_CHECKING:
    from ..simulate import KineticsPhantom


class PhantomConfig(BaseModel):
    """Settings of the built-in STXM phantom (LFP platelets with evolving Li domains)."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    size: int = Field(96, ge=24, description="STXM pixels per side")
    frames: int = Field(3, ge=1, description="time points of the operando series")
    energies_ev: tuple[float, ...] = (708.2, 710.2)
    pixel_size_um: float = Field(0.03, gt=0, description="STXM pixel (the ptychography reference has half)")
    n_particles: int = Field(4, ge=1)
    thickness_um: tuple[float, float] = (0.06, 0.14)
    i0_counts: float = Field(150.0, gt=0, description="incident counts per pixel at the reference dwell")
    dwell_ms: float = Field(2.0, gt=0)
    line_gain_sd: float = Field(0.04, ge=0, description="per scan line multiplicative flux change (sd)")
    line_offset_sd: float = Field(0.005, ge=0, description="per scan line additive offset, fraction of I0 (sd)")
    drift_px: float = Field(1.0, ge=0, description="sd of the drift between frames and between energies, pixels")
    ptycho_noise_od: float = Field(0.01, ge=0, description="Gaussian noise of the reference image, OD")
    current: float = Field(3.0, description="Cahn-Hilliard-reaction insertion rate (domains grow)")
    ch_dt: float = Field(2e-5, gt=0, description="largest Cahn-Hilliard time step (larger: faster, coarser)")
    particle_scale: float = Field(1.0, gt=0, le=1.5, description="platelet radius, times the default (0.25-0.37 "
                                  "of a grid cell); above ~1.3 neighbours may touch")
    row_drift: float = Field(0.0, ge=0, description="I0 drift across one image's scan: each image's flux ramps "
                             "linearly from the first to the last line by a change drawn with this sd (fraction)")
    background_od_sd: float = Field(0.0, ge=0, description="smooth, energy-independent OD of the support around "
                                    "and under the particles (membrane, carbon), zero mean, this sd")
    energy_offset_ev: float = Field(0.0, ge=-1.0, le=1.0, description="energy calibration error: images taken at "
                                    "energy + offset, recorded as energy (the spectra are exact otherwise)")
    li_model: Literal["cahn_hilliard", "acr"] = Field(
        "cahn_hilliard", description="what makes the Li maps: a periodic Cahn-Hilliard-reaction run on the fine grid "
        "(domains grow), or the Allen-Cahn-reaction model of operando.simulate.simulate_kinetics run on the "
        "platelets' own masks on the STXM grid (a kinetics truth: mu_h, j0, kappa, k map; needs >= 5 frames)")
    c_start: float = Field(0.05, gt=0, lt=1, description="acr: mean Li fraction of the first frame")
    c_end: float = Field(0.95, gt=0, lt=1, description="acr: mean Li fraction of the last frame (below c_start: "
                         "delithiation)")
    seed: int = 0

    @field_validator("energies_ev")
    @classmethod
    def _energies(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        """At least one energy, each finite, distinct and inside the built-in reference spectra."""
        check_energy_list(value)
        grid = default_references().energies_ev
        outside = [e for e in value if not grid[0] <= e <= grid[-1]]
        if outside:
            raise ValueError(f"{outside[0]:g} eV lies outside the built-in spectra ({grid[0]:g}-{grid[-1]:g} eV); "
                             "give energies inside them")
        return value

    @model_validator(mode="after")
    def _offset_inside(self) -> PhantomConfig:
        """Check that the energies moved by ``energy_offset_ev`` stay inside the built-in spectra."""
        grid = default_references().energies_ev
        moved = [e + self.energy_offset_ev for e in self.energies_ev]
        if self.energy_offset_ev and not all(grid[0] <= e <= grid[-1] for e in moved):
            raise ValueError(f"energy_offset_ev {self.energy_offset_ev:g} moves an energy outside the built-in "
                             f"spectra ({grid[0]:g}-{grid[-1]:g} eV)")
        return self

    @model_validator(mode="after")
    def _kinetics(self) -> PhantomConfig:
        """With the ACR Li maps: >= 5 frames and a composition change of >= 0.05."""
        if self.li_model == "acr" and self.frames < 5:
            raise ValueError(f"li_model acr needs >= 5 frames (the kinetics fit's least), got {self.frames}")
        if self.li_model == "acr" and abs(self.c_end - self.c_start) < 0.05:
            raise ValueError(f"c_start {self.c_start:g} and c_end {self.c_end:g}: the composition must change by "
                             ">= 0.05")
        return self

    @field_validator("thickness_um")
    @classmethod
    def _thickness(cls, value: tuple[float, float]) -> tuple[float, float]:
        """Check the range: 0 < low <= high."""
        if not (0 < value[0] <= value[1] and math.isfinite(value[1])):
            raise ValueError("give a thickness range (low, high) with 0 < low <= high, in um")
        return value


def check_energy_list(values: Any) -> list[float]:
    """Refuse an energy list that is empty, holds a non-finite value or names an energy twice.

    Parameters
    ----------
    values : sequence of float
        Energies, eV.

    Returns
    -------
    list of float
        The energies, checked.

    Raises
    ------
    InputError
        One line saying what is wrong (a ``ValueError``, so pydantic validators report it as theirs).
    """
    values = list(values)
    if not values:
        raise InputError("no energies given; give one or more, e.g. 708.2,710.2")
    if not all(math.isfinite(float(v)) for v in values):
        raise InputError("energies must be finite numbers (eV)")
    repeated = sorted({float(v) for v in values if values.count(v) > 1})
    if repeated:
        raise InputError(f"{', '.join(f'{v:g}' for v in repeated)} eV given twice; give each energy once")
    return [float(v) for v in values]


@dataclass(frozen=True)
class Phantom:
    """Counts, ground truth and a high-resolution reference of the STXM phantom.

    Attributes
    ----------
    counts : Stack
        ``TEYX`` counts (int32) with energies, pixel size, dwell and ring current in the metadata.
    x_true : ndarray, shape (T, Y, X)
        Li fraction (fraction of LiFePO4) on the STXM grid of frame 0 / energy 0 (NaN outside particles).
    thickness_true : ndarray, shape (Y, X)
        Material thickness, um.
    labels : ndarray, shape (Y, X)
        Particle index (0: background).
    od_observed : ndarray, shape (T, E, Y, X)
        Noise-free OD as each image saw it (drifted), for measuring stripe errors in the scan geometry.
    shifts : ndarray, shape (T, E, 2)
        Drift of every image, pixels (the alignment should find minus these).
    reference : Stack
        ``TYX`` "ptychography" OD at the first energy, on a 2x finer grid, low noise, slightly offset.
    config : PhantomConfig
        The settings (with the seed).
    kinetics : KineticsPhantom or None
        With ``li_model="acr"``: the reaction run that made the Li maps, on the STXM grid (its ``labels`` are
        ``labels``, ``log_k`` the rate map, ``mu_h(c)``, ``j0(c)``, ``config.kappa`` in STXM pixels, the frame
        interval in 1 / k0); None with the Cahn-Hilliard maps.
    """

    counts: Stack
    x_true: np.ndarray
    thickness_true: np.ndarray
    labels: np.ndarray
    od_observed: np.ndarray
    shifts: np.ndarray
    reference: Stack
    config: PhantomConfig
    kinetics: KineticsPhantom | None = None


def _platelets(n_fine: int, n_particles: int, t_range: tuple[float, float], rng: np.random.Generator,
               scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Draw rounded hexagonal platelets of varying thickness on the fine grid: (thickness um, labels)."""
    from scipy import ndimage
    from skimage.draw import polygon

    thickness = np.zeros((n_fine, n_fine))
    labels = np.zeros((n_fine, n_fine), np.int32)
    cells = int(np.ceil(np.sqrt(n_particles)))
    cell = n_fine / cells
    for k in range(n_particles):
        cy, cx = (k // cells + 0.5) * cell, (k % cells + 0.5) * cell
        cy, cx = cy + rng.uniform(-0.1, 0.1) * cell, cx + rng.uniform(-0.1, 0.1) * cell
        radius = rng.uniform(0.25, 0.37) * cell * scale
        angle = rng.uniform(0, np.pi / 3)
        stretch = rng.uniform(0.75, 1.0)
        a = angle + np.arange(6) * np.pi / 3
        rr, cc = polygon(cy + radius * stretch * np.sin(a), cx + radius * np.cos(a), (n_fine, n_fine))
        shape = np.zeros((n_fine, n_fine))
        shape[rr, cc] = 1.0
        shape = np.clip(ndimage.gaussian_filter(shape, 1.5) * 1.6 - 0.3, 0, 1)  # rounded corners, soft edge
        yy, xx = np.mgrid[:n_fine, :n_fine]
        tilt = 1 + 0.25 * ((yy - cy) * np.sin(angle) + (xx - cx) * np.cos(angle)) / radius
        thickness += shape * rng.uniform(*t_range) * tilt
        labels[shape > 0.5] = k + 1
    return thickness, labels


def _block_mean(a: np.ndarray, f: int = 2) -> np.ndarray:
    h, w = a.shape[-2] // f * f, a.shape[-1] // f * f
    a = a[..., :h, :w]
    return a.reshape(*a.shape[:-2], h // f, f, w // f, f).mean(axis=(-3, -1))


def _lithium_fields(cfg: PhantomConfig, n_fine: int, rng: np.random.Generator) -> np.ndarray:
    """Li fraction on the fine grid for every frame: a Cahn-Hilliard-reaction run (domains grow under insertion)."""
    from ..simulate import simulate_cahn_hilliard

    skip = 3
    video = simulate_cahn_hilliard(size=n_fine, n_frames=cfg.frames + skip, t_end=0.025 * (cfg.frames + skip - 1),
                                   mean=0.3, current=cfg.current, dx=0.01 * 128 / n_fine * 0.75, dt=cfg.ch_dt,
                                   rng=int(rng.integers(2**31 - 1)))
    return np.clip(video.to_numpy()[skip:].astype(float), 0.0, 1.0)


def _acr_fields(cfg: PhantomConfig, labels: np.ndarray, rng: np.random.Generator
                ) -> tuple[np.ndarray, KineticsPhantom]:
    """Li fraction on the fine grid from an ACR run on the STXM grid's particles, and the run (the kinetics truth).

    The model runs on the observed (coarse) grid, on the particles as the STXM pixels see them, so that the model
    a kinetics fit of the composition video assumes is the one that made the data (kappa and the k map are in
    STXM pixels). Each STXM pixel's x is copied onto its 2 x 2 fine pixels, so the thickness-weighted block mean
    gives x back exactly; fine pixels of a platelet's soft edge outside the STXM particle mask take the x of the
    nearest particle pixel.
    """
    from scipy import ndimage

    from ..simulate import KineticsPhantomConfig, simulate_kinetics

    kcfg = KineticsPhantomConfig(model="acr", frames=cfg.frames, c_start=cfg.c_start, c_end=cfg.c_end,
                                 seed=int(rng.integers(2**31 - 1)))
    run = simulate_kinetics(kcfg, labels=labels)
    nearest = ndimage.distance_transform_edt(labels == 0, return_distances=False, return_indices=True)
    x = run.video.astype(float)[:, nearest[0], nearest[1]]  # NaN outside -> the nearest particle pixel's value
    return np.repeat(np.repeat(x, 2, axis=-2), 2, axis=-1), run


def make_phantom(config: PhantomConfig | None = None, *, progress: Progress | None = None) -> Phantom:
    """Build the STXM phantom: LFP platelets with phase-separated Li domains, imaged at two or more energies.

    Parameters
    ----------
    config : PhantomConfig, optional
        Size, frames, energies, photon budget, scan-line noise, drift, seed.
    progress : callable, optional
        Called with :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    Phantom
        Poisson counts with scan-line gains and offsets and drift (``TEYX``), ground-truth x and thickness, and
        a 2x finer, low-noise "ptychography" reference.
    """
    from scipy import ndimage

    cfg = config or PhantomConfig()
    rng = np.random.default_rng(cfg.seed)
    n_fine = 2 * cfg.size
    thickness_f, labels_f = _platelets(n_fine, cfg.n_particles, cfg.thickness_um, rng, cfg.particle_scale)
    labels = ndimage.label(_block_mean((labels_f > 0).astype(float)) > 0.5)[0]
    kinetics = None
    if cfg.li_model == "acr":
        emit(progress, 0.1, "phantom: Allen-Cahn-reaction run on the particles")
        x_f, kinetics = _acr_fields(cfg, labels, rng)
    else:
        emit(progress, 0.1, "phantom: Cahn-Hilliard domains")
        x_f = _lithium_fields(cfg, n_fine, rng)
    mu = default_references().at([e + cfg.energy_offset_ev for e in cfg.energies_ev])  # (E, 2)
    comp_f = np.stack([thickness_f * x_f, thickness_f * (1 - x_f)], axis=1)  # (T, 2, Yf, Xf)
    od_f = np.einsum("ek,tkyx->teyx", mu, comp_f)
    if cfg.background_od_sd > 0:  # drawn only when asked, so the default phantom's draws stay as they were
        od_f = od_f + _support_od(n_fine, cfg.background_od_sd, rng)
    comp = _block_mean(comp_f)
    od = _block_mean(od_f)
    thickness = comp.sum(axis=1)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        x_true = np.where(labels[None] > 0, comp[:, 0] / comp.sum(axis=1), np.nan)
    n_t, n_e = od.shape[:2]
    shifts = np.cumsum(rng.normal(0, cfg.drift_px, (n_t, 1, 2)), axis=0) + rng.normal(0, cfg.drift_px / 2,
                                                                                       (n_t, n_e, 2))
    shifts -= shifts[0, 0]
    observed = np.stack([[ndimage.shift(od[t, e], shifts[t, e], order=3, mode="nearest") for e in range(n_e)]
                         for t in range(n_t)])
    ring = _ring_current(n_t, n_e)
    counts = _draw_counts(cfg, observed, ring, rng)
    extra = {"dwell_ms": cfg.dwell_ms, "ring_current_ma": ring.tolist(), "phantom": cfg.model_dump(mode="json")}
    step = 1.0 if kinetics is None else kinetics.frame_interval  # acr: the model's time unit, 1 / k0
    meta = Metadata(pixel_size=cfg.pixel_size_um, pixel_unit="um", energies=tuple(cfg.energies_ev),
                    frame_times=tuple(float(t * step) for t in range(n_t)), extra=extra)
    ptycho_shift = rng.uniform(-1.5, 1.5, 2)
    ref = np.stack([ndimage.shift(od_f[t, 0], ptycho_shift, order=3, mode="nearest") for t in range(n_t)])
    ref = ref + rng.normal(0, cfg.ptycho_noise_od, ref.shape)
    ref_meta = Metadata(pixel_size=cfg.pixel_size_um / 2, pixel_unit="um", energies=(cfg.energies_ev[0],),
                        extra={"quantity": "optical density", "modality": "phantom ptychography",
                               "offset_fine_px": ptycho_shift.tolist()})
    emit(progress, 1.0, "phantom ready")
    return Phantom(Stack(counts, "TEYX", meta), x_true, thickness, labels, observed, shifts,
                   Stack(ref.astype(np.float32), "TYX", ref_meta), cfg, kinetics)


def _support_od(n_fine: int, sd: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth zero-mean OD of the support (membrane thickness, carbon): white noise blurred over ~1/8 of the field."""
    from scipy import ndimage

    field_ = ndimage.gaussian_filter(rng.normal(0, 1, (n_fine, n_fine)), n_fine / 8, mode="wrap")
    field_ -= field_.mean()
    return field_ * (sd / max(float(field_.std()), 1e-12))


def _ring_current(n_t: int, n_e: int) -> np.ndarray:
    """Ring current of every image, mA (a slow decay, as between top-up injections)."""
    return 300.0 - 0.8 * np.arange(n_t * n_e).reshape(n_t, n_e)


def _draw_counts(cfg: PhantomConfig, observed: np.ndarray, ring: np.ndarray, rng: np.random.Generator
                 ) -> np.ndarray:
    """Poisson counts of the noise-free OD ``observed`` with per-line gains and offsets (int32, ``TEYX``)."""
    n_t, n_e = observed.shape[:2]
    gain = np.exp(rng.normal(0, cfg.line_gain_sd, (n_t, n_e, cfg.size, 1)))
    offset = rng.normal(0, cfg.line_offset_sd * cfg.i0_counts, (n_t, n_e, cfg.size, 1))
    flux = cfg.i0_counts * (ring / 300.0)[:, :, None, None] * gain
    if cfg.row_drift > 0:  # drawn only when asked (the default phantom's draws stay as they were)
        ramp = rng.normal(0, cfg.row_drift, (n_t, n_e, 1, 1))
        flux = flux * np.maximum(1 + ramp * (np.linspace(-0.5, 0.5, cfg.size)[:, None]), 0.05)
    return rng.poisson(np.maximum(flux * np.exp(-observed) + offset, 0)).astype(np.int32)


def noise_draw(phantom: Phantom, rng: int | np.random.SeedSequence | np.random.Generator) -> Stack:
    """Return new counts of the same phantom: another draw of the counting and scan-line noise.

    The particles, Li domains, drift and reference stay those of ``phantom``; only the Poisson counts and the
    per-line gains and offsets are drawn again, from ``SeedSequence([config.seed, rng])`` for an int. Averaging an
    estimate over draws gives its expected value, so that a bias can be told from one draw's noise.

    Parameters
    ----------
    phantom : Phantom
        The phantom (from :func:`make_phantom`).
    rng : int, SeedSequence or Generator
        This draw: an int is the draw's number (recorded), combined with the phantom's seed; a SeedSequence or
        Generator is used as it is.

    Returns
    -------
    Stack
        ``TEYX`` int32 counts with the phantom's metadata plus ``extra["noise_seed"]`` (the int given, else None).
    """
    cfg = phantom.config
    numbered = isinstance(rng, int | np.integer) and not isinstance(rng, bool)
    gen = np.random.default_rng([cfg.seed, int(rng)] if numbered else rng)
    n_t, n_e = phantom.od_observed.shape[:2]
    counts = _draw_counts(cfg, phantom.od_observed, _ring_current(n_t, n_e), gen)
    meta = phantom.counts.metadata
    return Stack(counts, "TEYX", meta.replace(extra={**meta.extra, "noise_seed": int(rng) if numbered else None}))


def write_phantom(phantom: Phantom, directory: str | os.PathLike) -> dict[str, Path]:
    """Write the phantom as a beamline would (``.hdr``/``.xim`` per frame, NXstxm) plus its ground truth.

    Parameters
    ----------
    phantom : Phantom
        From :func:`make_phantom`.
    directory : str or path
        Output folder (created).

    Returns
    -------
    dict
        Name -> path of every file written: ``stxm_t000.hdr`` ... (with ``_a000.xim`` images), ``stxm.nxstxm.h5``
        (TEYX), ``truth_x.tif``, ``truth_thickness.tif``, ``truth_labels.tif``, ``ptychography.tif``,
        ``phantom.json``; with the ACR Li maps also ``k.tif`` (the true rate map, NaN outside the particles,
        mean 1 inside) and ``truth.json`` (mu_h, j0 on c in [0.1, 0.9], kappa, frame interval, the run's settings).
    """
    from ..io import write

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    counts = phantom.counts
    files: dict[str, Path] = {}
    ring = counts.metadata.extra["ring_current_ma"]
    for t in range(counts.size("T")):
        meta = counts.metadata.replace(frame_times=None, extra={**counts.metadata.extra, "ring_current_ma": ring[t]})
        files[f"hdr_t{t:03d}"] = write(Stack(counts.to_numpy()[t], "EYX", meta), out / f"stxm_t{t:03d}.hdr")
    files["nxstxm"] = write(counts, out / "stxm.nxstxm.h5")
    truth_meta = Metadata(pixel_size=phantom.config.pixel_size_um, pixel_unit="um")
    files["truth_x"] = write(Stack(phantom.x_true.astype(np.float32), "TYX", truth_meta), out / "truth_x.tif")
    files["truth_thickness"] = write(Stack(phantom.thickness_true.astype(np.float32), "YX", truth_meta),
                                     out / "truth_thickness.tif")
    files["truth_labels"] = write(Stack(phantom.labels.astype(np.int32), "YX", truth_meta), out / "truth_labels.tif")
    files["ptychography"] = write(phantom.reference, out / "ptychography.tif")
    if phantom.kinetics is not None:
        files.update(_write_kinetics_truth(phantom.kinetics, out, truth_meta))
    files["json"] = write_json_file(out / "phantom.json", {
        "config": phantom.config.model_dump(mode="json"), "seed": phantom.config.seed,
        "drift_px": phantom.shifts.tolist(), "energies_ev": list(phantom.config.energies_ev),
        "files": {k: p.name for k, p in files.items()},
        "note": "truth_x is on the grid of frame 0 / energy 0 (the alignment reference); NaN outside particles",
        **({} if phantom.kinetics is None else {"frame_interval": phantom.kinetics.frame_interval})})
    return files


def _write_kinetics_truth(run: KineticsPhantom, out: Path, meta: Metadata) -> dict[str, Path]:
    """Write the kinetics truth of an ACR phantom: ``k.tif`` and ``truth.json`` (as ``operando simulate`` does)."""
    from ..io import write

    c = np.linspace(0.1, 0.9, 81)
    k = Stack(np.exp(run.log_k).astype(np.float32), "YX", meta.replace(extra={
        "quantity": "true rate constant k (mean 1 over the particle pixels)", "outside_mask": "NaN"}))
    files = {"k": write(k, out / "k.tif", dtype="float32")}
    files["truth"] = write_json_file(out / "truth.json", {
        "model": run.config.model, "config": run.config.model_dump(mode="json"), "frame_interval": run.frame_interval,
        "frame_interval_unit": "1 / k0 (the frame times of the counts)", "c": c.tolist(),
        "mu_h": run.mu_h(c).tolist(), "j0": run.j0(c).tolist(), "kappa": run.config.kappa,
        "kappa_unit": "kT px^2 (STXM pixels)", "particles": int(run.labels.max()),
        "gauges": "mu_h(0.5) = 0; mean k over the particle pixels = 1",
        "grid": "the ACR run is on the STXM grid (truth_labels.tif); size and particles of config are not used",
        **run.truth})
    return files


# ---------------------------------------------------------------------------------------------------- phantom family
Range = tuple[float, float]


class PhantomFamily(BaseModel):
    """Ranges from which :func:`draw_phantom_config` draws STXM phantoms: what real data varies in.

    Every value of a variant is drawn uniformly from its range (``i0_counts`` log-uniformly, ``n_particles`` as an
    integer, ends included); a range (a, a) fixes the value. Size, frames, pixel size, dwell and the
    ptychography reference's noise are not drawn: they come from the base configuration.
    """

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    i0_counts: Range = Field((80.0, 400.0), description="incident counts per pixel (photon-limited to moderate)")
    thickness_low_um: Range = Field((0.04, 0.10), description="thinnest platelet, um")
    thickness_span_um: Range = Field((0.03, 0.10), description="thickest minus thinnest platelet, um")
    n_particles: Range = Field((2, 9), description="platelets in the field (fewer: larger, 2 x 2 or 3 x 3 grid)")
    particle_scale: Range = Field((0.8, 1.2), description="platelet radius, times the default")
    drift_px: Range = Field((0.3, 2.0), description="sd of the drift between frames and (half) between energies")
    line_gain_sd: Range = Field((0.01, 0.08), description="per scan line flux change, sd")
    line_offset_sd: Range = Field((0.0, 0.01), description="per scan line additive offset, fraction of I0, sd")
    row_drift: Range = Field((0.0, 0.06), description="I0 ramp across one image's scan, sd")
    background_od_sd: Range = Field((0.0, 0.02), description="smooth support OD around and under the particles, sd")
    energy_shift_ev: Range = Field((-0.3, 0.3), description="each energy moved from the base's (the user's choice "
                                   "around the LiFePO4 and FePO4 peaks, recorded in the file)")
    energy_offset_ev: Range = Field((0.0, 0.0), description="energy calibration error, not recorded in the file "
                                    "(not drawn by default: see docs/xray.md)")
    current: Range = Field((2.0, 4.0), description="Cahn-Hilliard-reaction insertion rate (how fast domains grow)")

    @field_validator("*", mode="after")
    @classmethod
    def _ordered(cls, value: Any) -> Any:
        """Every range is (low, high) with finite low <= high."""
        if isinstance(value, tuple):
            if not (len(value) == 2 and all(math.isfinite(v) for v in value) and value[0] <= value[1]):
                raise ValueError(f"give a range (low, high) with finite low <= high, got {value}")
        return value

    def ranges(self) -> dict[str, Range]:
        """Return every drawn range by name (JSON-ready)."""
        return {k: v for k, v in self.model_dump().items() if isinstance(v, tuple)}


def draw_phantom_config(rng: int | np.random.SeedSequence | np.random.Generator, *,
                        base: PhantomConfig | None = None, family: PhantomFamily | None = None) -> PhantomConfig:
    """Draw one phantom of the family: a :class:`PhantomConfig` with every ranged setting drawn from ``rng``.

    Parameters
    ----------
    rng : int, SeedSequence or Generator
        Seed of the draw; the drawn phantom's own ``seed`` (particles, domains, noise) is drawn from it too.
    base : PhantomConfig, optional
        Size, frames, pixel size, dwell, Cahn-Hilliard step and the energies the shifts are applied to.
    family : PhantomFamily, optional
        The ranges (default :class:`PhantomFamily`).

    Returns
    -------
    PhantomConfig
        The variant.

    Raises
    ------
    InputError
        If the drawn energies leave the built-in spectra or come closer than 0.5 eV to each other.
    """
    base = base or PhantomConfig()
    fam = family or PhantomFamily()
    gen = np.random.default_rng(rng)

    def uniform(r: Range) -> float:
        return float(gen.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])

    i0 = float(np.exp(uniform((math.log(fam.i0_counts[0]), math.log(fam.i0_counts[1])))))
    low = uniform(fam.thickness_low_um)
    span = uniform(fam.thickness_span_um)
    n_particles = int(gen.integers(int(fam.n_particles[0]), int(fam.n_particles[1]) + 1))
    energies = tuple(round(e + uniform(fam.energy_shift_ev), 3) for e in base.energies_ev)
    if len(energies) > 1 and float(np.min(np.diff(np.sort(energies)))) < 0.5:
        raise InputError(f"the drawn energies {energies} eV lie within 0.5 eV of each other; narrow "
                         "energy_shift_ev or space the base energies further")
    values = {"i0_counts": i0, "thickness_um": (low, low + span), "n_particles": n_particles,
              "energies_ev": energies, "particle_scale": uniform(fam.particle_scale),
              **{k: uniform(getattr(fam, k)) for k in ("drift_px", "line_gain_sd", "line_offset_sd", "row_drift",
                                                       "background_od_sd", "energy_offset_ev", "current")},
              "seed": int(gen.integers(2**31 - 1))}
    try:
        return PhantomConfig.model_validate(base.model_dump() | values)
    except ValueError as exc:
        raise InputError(f"a drawn phantom is not valid ({exc}); narrow the family's ranges") from None


def phantom_family(n: int, *, base: PhantomConfig | None = None, family: PhantomFamily | None = None,
                   rng: int | np.random.SeedSequence | np.random.Generator = 0) -> list[PhantomConfig]:
    """Return ``n`` phantoms of the family: the base itself first, then ``n - 1`` drawn ones.

    Variant ``k >= 1`` is drawn from the ``k``-th child spawned from ``rng`` (``SeedSequence(rng)`` for an int),
    so a variant does not change when ``n`` does.

    Parameters
    ----------
    n : int
        Variants (>= 1).
    base : PhantomConfig, optional
        Variant 0, and the settings the draws keep (see :func:`draw_phantom_config`).
    family : PhantomFamily, optional
        The ranges.
    rng : int, SeedSequence or Generator
        Seed of the family (the command line's ``--seed``).

    Returns
    -------
    list of PhantomConfig
    """
    if n < 1:
        raise InputError(f"--variants {n}: give 1 or more")
    base = base or PhantomConfig()
    children = np.random.default_rng(rng).spawn(n - 1)
    return [base, *(draw_phantom_config(c, base=base, family=family) for c in children)]

