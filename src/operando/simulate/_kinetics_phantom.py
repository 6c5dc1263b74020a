"""A kinetics phantom: reaction-driven LiFePO4-like platelets with a known mu_h(c), j0(c), kappa and rate map k(x).

Defaults follow MPET's LFP parameters (``configs/params_LFP.cfg``: regular-solution Omega = 4.51 kT, symmetric
Butler-Volmer, alpha = 1/2) in operando's units: lengths in pixels, energies in kT, time in units of 1 / k0 (the
rate constant's scale). MPET's gradient energy (kappa = 5.0e-10 J/m) gives an interface of a few nm; a 50 nm
pixel cannot resolve that, so the phantom widens it to ~3 px (kappa = 1.5 kT px^2): what a reaction-limited model
at the microscope's resolution can describe. The exchange current is j0(c) = sqrt(c) (1 - c) (asymmetric, peak
at c = 1/3) unless ``symmetric_j0``; ln k is a Gaussian random field (sd 0.3, correlation length 5 px) scaled
to mean k = 1 over the particle pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .._errors import InputError
from .._stack import Metadata, Stack


class KineticsPhantomConfig(BaseModel):
    """Settings of :func:`simulate_kinetics` (all lengths in pixels, energies in kT, times in 1 / k0)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["acr", "chr"] = Field("acr", description="Allen-Cahn-reaction or Cahn-Hilliard-reaction.")
    size: int = Field(96, ge=48, le=1024, description="Field side, pixels.")
    particles: int = Field(4, ge=1, le=16, description="Particles (different shapes, 20-35 px across).")
    frames: int = Field(40, ge=5, le=2000, description="Frames, the first the initial state.")
    c_start: float = Field(0.05, gt=0, lt=1, description="Mean Li fraction of the first frame.")
    c_end: float = Field(0.95, gt=0, lt=1, description="Mean Li fraction of the last frame.")
    omega: float = Field(4.5, ge=0, le=10, description="Regular-solution interaction, kT.")
    kappa: float = Field(1.5, gt=0, le=50, description="Gradient energy, kT px^2.")
    symmetric_j0: bool = Field(False, description="j0 = sqrt(c (1 - c)) instead of sqrt(c) (1 - c).")
    j0_scale: float = Field(1.0, gt=0, le=100, description="Peak-scale of j0 (rate units).")
    duration: float = Field(4.0, gt=0, le=1e4, description="Time of the whole run, 1 / k0.")
    log_k_sd: float = Field(0.3, ge=0, le=2, description="Standard deviation of ln k.")
    log_k_length: float = Field(5.0, gt=0, le=100, description="Correlation length of ln k, pixels.")
    mobility: float = Field(0.0, ge=0, le=100, description="CHR: D of M(c) = D c (1 - c) (0 with ACR).")
    elastic: float = Field(0.0, ge=0, le=20, description="Mean-field coherency strain B, kT.")
    substeps: int = Field(1, ge=1, le=64, description="Solver steps per stable step (truth ~30x finer than a fit).")
    double: bool = Field(True, description="Integrate in float64 (the truth; float32 is faster).")
    seed: int = Field(0, ge=0, description="Seed of shapes, rate map and initial state.")


@dataclass(frozen=True, eq=False)
class KineticsPhantom:
    """A clean composition video with its truth.

    Attributes
    ----------
    video : ndarray, float32, shape (T, Y, X)
        Li fraction, NaN outside the particles.
    labels : ndarray of int32, shape (Y, X)
        Particles 1..P, 0 outside.
    log_k : ndarray, float64, shape (Y, X)
        ln k(x) (mean k = 1 over the particle pixels), NaN outside.
    frame_interval : float
        Time between frames, 1 / k0.
    currents : ndarray, shape (T - 1, P)
        Each particle's mean rate of change of c per interval.
    config : KineticsPhantomConfig
    """

    video: np.ndarray
    labels: np.ndarray
    log_k: np.ndarray
    frame_interval: float
    currents: np.ndarray
    config: KineticsPhantomConfig
    truth: dict[str, Any] = field(default_factory=dict)

    def mu_h(self, c: np.ndarray) -> np.ndarray:
        """Return the true mu_h(c), kT, gauge-fixed to mu_h(0.5) = 0."""
        c = np.asarray(c, float)
        return np.log(c / (1 - c)) + self.config.omega * (1 - 2 * c)

    def j0(self, c: np.ndarray) -> np.ndarray:
        """Return the true j0(c) (with the k gauge: mean k = 1)."""
        c = np.asarray(c, float)
        shape = np.sqrt(c * (1 - c)) if self.config.symmetric_j0 else np.sqrt(c) * (1 - c)
        return self.config.j0_scale * shape

    def stack(self, video: np.ndarray | None = None) -> Stack:
        """Return ``video`` (default: the clean one) as a TYX Stack with the frame times and the truth recorded."""
        data = self.video if video is None else video
        times = tuple(float(i * self.frame_interval) for i in range(data.shape[0]))
        meta = Metadata(pixel_size=1.0, pixel_unit="px", frame_times=times, original_dtype="float32",
                        extra={"simulation": {"model": self.config.model, "config": self.config.model_dump()}})
        return Stack(np.asarray(data, np.float32), "TYX", meta)

    def noisy(self, sd: float, *, scanline: float = 0.0, rng: int | np.random.Generator | None = None
              ) -> np.ndarray:
        """Return the video with Gaussian noise of ``sd`` (and per-row offsets of sd ``scanline``) on the particles."""
        gen = np.random.default_rng(rng)
        out = self.video + sd * gen.standard_normal(self.video.shape)
        if scanline:
            out = out + scanline * gen.standard_normal(self.video.shape[:2])[:, :, None]
        return np.where(self.labels > 0, out, np.nan).astype(np.float32)


def particle_shapes(size: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Label image of ``n`` separated particles of different shapes, 20-35 px across, in a ``size`` field."""
    from skimage.draw import ellipse, polygon

    labels = np.zeros((size, size), np.int32)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cell_y, cell_x = size / rows, size / cols
    kinds = ("ellipse", "hexagon", "rectangle", "rhombus")
    for i in range(n):
        cy = (i // cols + 0.5) * cell_y + rng.uniform(-0.08, 0.08) * cell_y
        cx = (i % cols + 0.5) * cell_x + rng.uniform(-0.08, 0.08) * cell_x
        across = min(rng.uniform(20, 35), 0.8 * min(cell_y, cell_x))
        angle = rng.uniform(0, np.pi)
        kind = kinds[i % len(kinds)]
        if kind == "ellipse":
            rr, cc = ellipse(cy, cx, across / 2, across / 2 * rng.uniform(0.6, 0.85), (size, size), rotation=angle)
        else:
            corners = {"hexagon": 6, "rectangle": 4, "rhombus": 4}[kind]
            phase = angle + (np.pi / 4 if kind == "rectangle" else 0)
            aspect = rng.uniform(0.6, 0.8) if kind != "hexagon" else 1.0
            t = phase + 2 * np.pi * np.arange(corners) / corners
            ry, rx = np.sin(t), aspect * np.cos(t)
            py, px = ry * np.cos(angle) - rx * np.sin(angle), ry * np.sin(angle) + rx * np.cos(angle)
            scale = across / max(np.ptp(py), np.ptp(px))  # the widest extent is `across`
            rr, cc = polygon(cy + scale * py, cx + scale * px, (size, size))
        free = labels[rr, cc] == 0
        labels[rr[free], cc[free]] = i + 1
    return labels


def gaussian_field(shape: tuple[int, int], length: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Gaussian random field with correlation exp(-r^2 / (2 length^2))."""
    from scipy import ndimage

    field_ = ndimage.gaussian_filter(rng.standard_normal(shape), length / math.sqrt(2), mode="wrap")
    return (field_ - field_.mean()) / field_.std()


def rate_map(labels: np.ndarray, sd: float, length: float, rng: np.random.Generator) -> np.ndarray:
    """Ln k on the particles: a Gaussian random field of sd ``sd``, shifted so that mean k = 1 inside."""
    inside = labels > 0
    g = gaussian_field(labels.shape, length, rng)
    g = sd * (g - g[inside].mean()) / max(g[inside].std(), 1e-12)
    g = g - math.log(np.mean(np.exp(g[inside])))
    return np.where(inside, g, np.nan)


def simulate_kinetics(config: KineticsPhantomConfig | None = None, *, labels: np.ndarray | None = None,
                      **settings: Any) -> KineticsPhantom:
    """Draw particles, a rate map and an initial state, and run the reaction model at constant current.

    Each particle is held at the same constant current (c_end - c_start) / duration (galvanostatic), so its
    mean composition moves linearly from ``c_start`` to ``c_end``; inside, phases nucleate where k is high and
    fronts move, as the model dictates.

    Parameters
    ----------
    config : KineticsPhantomConfig, optional
        All settings (or give its fields as keywords).
    labels : ndarray of int, shape (Y, X), optional
        Given particles (0 outside, 1..P, each one connected region), e.g. the platelets of the STXM phantom:
        they replace the drawn shapes, so ``config.size`` and ``config.particles`` are not used (the rate map
        and the initial state are still drawn from ``config.seed``).

    Returns
    -------
    KineticsPhantom
    """
    import jax
    import jax.numpy as jnp

    from ._reaction import ReactionLaws, integrate_particles, particle_grid, stable_step

    if config is None:
        config = KineticsPhantomConfig(**settings)
    elif settings:
        raise InputError(f"give a config or keyword settings, not both ({sorted(settings)})")
    cfg = config
    if abs(cfg.c_end - cfg.c_start) < 0.05:
        raise InputError(f"c_start {cfg.c_start} and c_end {cfg.c_end}: the composition must change by >= 0.05")
    rng = np.random.default_rng(cfg.seed)
    given = labels is not None
    labels = particle_shapes(cfg.size, cfg.particles, rng) if labels is None else np.asarray(labels, np.int32)
    grid = particle_grid(labels)
    log_k = rate_map(labels, cfg.log_k_sd, cfg.log_k_length, rng)
    omega, scale = cfg.omega, cfg.j0_scale
    laws = ReactionLaws(
        mu_h=lambda c: jnp.log(c / (1 - c)) + omega * (1 - 2 * c),
        j0=(lambda c: scale * jnp.sqrt(c * (1 - c))) if cfg.symmetric_j0 else (lambda c: scale * jnp.sqrt(c) * (1 - c)),
        kappa=cfg.kappa, log_k=np.nan_to_num(log_k),
        mobility=(lambda c: cfg.mobility * c * (1 - c)) if cfg.model == "chr" else None, elastic=cfg.elastic)
    interval = cfg.duration / (cfg.frames - 1)
    current = (cfg.c_end - cfg.c_start) / cfg.duration
    k_max = float(np.exp(np.nanmax(log_k)))
    dt_safe = stable_step(k_max * scale * 1.5, cfg.kappa + (cfg.mobility if cfg.model == "chr" else 0.0), 0.01)
    steps = max(1, math.ceil(interval / dt_safe)) * cfg.substeps
    c0 = np.where(labels > 0, cfg.c_start + 0.002 * rng.standard_normal(labels.shape), cfg.c_start)
    drive = np.full((cfg.frames - 1, grid.n_particles), current)
    with jax.enable_x64(cfg.double):  # the truth in float64: float32 round-off over ~10^4 steps reaches 1e-3
        run = jax.jit(lambda c: integrate_particles(c, laws, grid, drive=jnp.asarray(drive), steps_per_frame=steps,
                                                    dt=interval / steps))
        frames = np.concatenate([c0[None], np.asarray(run(jnp.asarray(c0)))])
    if not np.isfinite(frames).all():
        raise InputError("the kinetics simulation became unstable; lower j0_scale or kappa, or raise substeps")
    video = np.where(labels > 0, frames, np.nan).astype(np.float32)
    truth = {"omega": omega, "kappa": cfg.kappa, "j0_shape": "sqrt(c(1-c))" if cfg.symmetric_j0 else "sqrt(c)(1-c)",
             "j0_scale": scale, "steps_per_frame": steps, "current": current,
             **({"labels": "given", "shape": list(labels.shape), "particles": grid.n_particles} if given else {})}
    return KineticsPhantom(video=video, labels=labels, log_k=log_k, frame_interval=interval, currents=drive,
                           config=cfg, truth=truth)
