"""The napari sample data: generated on the spot by operando's simulators, never downloaded, each in about a second.

Each function returns napari layer data tuples with scale, units and the operando record (the simulation's
settings and seed in ``metadata["operando"]["extra"]``), small enough to open in well under 2 s (the
Cahn-Hilliard runs take a coarser time step than the benchmarks: a sample, not a physics truth). The first
sample that runs JAX pays its import (about a second); the seeded simulations are kept for the session, so a
sample opened again is instant (its layers get copies).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .._stack import Metadata, Stack
from ._layers import LayerData, stack_to_layer

#: The sizes of the samples: small, so that each opens in about a second on a laptop.
CH_SIZE, CH_FRAMES, CH_DT, CH_SIGMA = 64, 24, 2e-4, 0.1
STXM_SIZE, STXM_CH_DT = 48, 1e-4
NEUTRON_SHAPE = (64, 96)
OPTICAL_SHAPE, OPTICAL_PARTICLES, OPTICAL_FRAMES = (128, 128), 25, 12
#: The names of the sample layers (the widgets' tests pick layers by them).
CH_NOISY, CH_CLEAN = "Cahn-Hilliard (noisy)", "Cahn-Hilliard (clean)"
STXM_COUNTS, STXM_X = "STXM counts", "x (truth)"
NEUTRON_SAMPLE, NEUTRON_OPEN, NEUTRON_DARK, NEUTRON_TRUTH = "sample", "open beam", "dark", "Delta A (truth)"
OPTICAL_VIDEO, OPTICAL_STAGES = "graphite video", "stages (truth)"


def _sample_record(stack: Stack, sample: str, **extra: Any) -> Stack:
    """Return the stack with ``extra["sample"]`` naming the sample (and any other entries given)."""
    return Stack(stack.data, stack.axes, stack.metadata.replace(extra={**stack.metadata.extra, "sample": sample,
                                                                      **extra}))


@functools.lru_cache(maxsize=1)
def _cahn_hilliard_video() -> Stack:
    from ..simulate import simulate_cahn_hilliard

    return simulate_cahn_hilliard(size=CH_SIZE, n_frames=CH_FRAMES, t_end=0.2, dt=CH_DT, rng=0)


def cahn_hilliard() -> list[LayerData]:
    """Return a noisy Cahn-Hilliard video (Gaussian noise, sd 0.1) and its clean layer, 24 frames of 64 x 64.

    Returns
    -------
    list of (data, dict, str)
        The clean video (hidden) and the noisy one (on top, selected), float32 ``TYX`` with the frame times.
    """
    video = _cahn_hilliard_video()
    clean = _sample_record(video.with_data(video.to_numpy().copy()), "cahn_hilliard")
    # operando.noise.add_gaussian_noise(clean, sigma=CH_SIGMA, rng=1), drawn here: that package imports scipy.stats
    noisy = (clean.data + CH_SIGMA * np.random.default_rng(1).standard_normal(clean.shape)).astype(np.float32)
    noise = {"model": "gaussian", "sigma": CH_SIGMA, "seed": 1}
    limits = (0.0, 1.0)
    return [
        stack_to_layer(clean, CH_CLEAN, contrast_limits=limits, visible=False),
        stack_to_layer(_sample_record(clean.with_data(noisy), "cahn_hilliard", noise=noise), CH_NOISY,
                       contrast_limits=limits),
    ]


@functools.lru_cache(maxsize=1)
def _stxm_phantom() -> Any:
    from ..xray import PhantomConfig, make_phantom

    return make_phantom(PhantomConfig(size=STXM_SIZE, frames=1, ch_dt=STXM_CH_DT, seed=0))


def stxm() -> list[LayerData]:
    """Return the STXM phantom: counts at two energies (``EYX``, 48 x 48, 30 nm pixels) and the true x.

    Returns
    -------
    list of (data, dict, str)
        The true Li fraction x (0-1, NaN outside the particles) and the counts (on top, selected).
    """
    phantom = _stxm_phantom()
    counts = phantom.counts
    counts = Stack(counts.to_numpy()[0].copy(), axes=counts.axes.replace("T", ""), metadata=counts.metadata)
    truth = Metadata(pixel_size=counts.metadata.pixel_size, pixel_unit=counts.metadata.pixel_unit,
                     extra={"phantom": counts.metadata.extra.get("phantom"), "truth": "x: fraction of LiFePO4"})
    x_true = Stack(np.array(phantom.x_true[0], dtype=np.float32), "YX", truth)
    return [
        stack_to_layer(_sample_record(x_true, "stxm"), STXM_X, contrast_limits=(0.0, 1.0), colormap="viridis"),
        stack_to_layer(_sample_record(counts, "stxm"), STXM_COUNTS),
    ]


def neutron() -> list[LayerData]:
    """Return the neutron cell phantom: sample, open beam and dark frames (uint16 ``TYX``) and the true Delta A.

    Returns
    -------
    list of (data, dict, str)
        Dark, open beam, the true Delta A (hidden) and the sample frames (on top, selected), 50 um pixels.
    """
    from ..neutron import simulate_neutron_phantom

    ny, nx = NEUTRON_SHAPE
    phantom = simulate_neutron_phantom(rng=0, ny=ny, nx=nx, n_cycles=1, frames_per_half_cycle=6)
    truth = phantom.sample.with_data(np.asarray(phantom.delta_a_true, dtype=np.float32))
    truth = Stack(truth.data, "TYX", truth.metadata.replace(source=None, original_dtype="float32"))
    bound = float(np.nanmax(np.abs(phantom.delta_a_true))) or 1.0
    return [
        stack_to_layer(_sample_record(phantom.dark, "neutron"), NEUTRON_DARK, visible=False),
        stack_to_layer(_sample_record(phantom.open_beam, "neutron"), NEUTRON_OPEN, visible=False),
        stack_to_layer(_sample_record(truth, "neutron", regions=phantom.regions, reference=list(phantom.reference)),
                       NEUTRON_TRUTH, colormap="PiYG", contrast_limits=(-bound, bound), visible=False),
        stack_to_layer(_sample_record(phantom.sample, "neutron", regions=phantom.regions,
                                      reference=list(phantom.reference)), NEUTRON_SAMPLE),
    ]


def optical() -> list[LayerData]:
    """Return the optical graphite phantom: an RGB video (``TYXC`` uint8) and its true stages as labels.

    Returns
    -------
    list of (data, dict, str)
        The video and the stage labels (0 background, 1 stage III, 2 stage II, 3 stage I; hidden).
    """
    from ..optical import simulate_graphite_phantom

    phantom = simulate_graphite_phantom(shape=OPTICAL_SHAPE, n_particles=OPTICAL_PARTICLES, n_frames=OPTICAL_FRAMES,
                                        radius_px=7.0, rng=0)
    video = _sample_record(phantom.video, "optical", phantom=phantom.config)
    data, settings, _ = stack_to_layer(video, OPTICAL_VIDEO)
    stages = {key: settings[key] for key in ("scale", "translate", "units", "axis_labels")}  # TYX: rgb drops C
    labels = (phantom.stages, {"name": OPTICAL_STAGES, "visible": False, **stages,
                               "metadata": {"operando": {"axes": "TYX", "extra": {"sample": "optical"}}}}, "labels")
    return [(data, settings, "image"), labels]
