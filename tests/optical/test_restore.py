import numpy as np
import pytest
from scipy import ndimage as ndi

from operando import InputError
from operando.optical import estimate_noise_variance, restore_colour

BLUE, RED = np.array([0.2, 0.3, 0.6]), np.array([0.6, 0.2, 0.15])
NOISE = 0.08


def _rings(seed, width_px=3, frames=2, size=64):
    """Concentric rings, alternately blue and red, 3 px wide; noisy frames and a guide pulled towards neighbours."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    red = (np.hypot(yy - size / 2, xx - size / 2) // width_px) % 2 == 1
    clean = np.where(red[None, ..., None], RED, BLUE) * np.ones((frames, size, size, 3))
    noisy = clean + NOISE * rng.standard_normal(clean.shape)
    # a denoiser's output: low noise, but each pixel mixed 30 % with its neighbours' colour (blind-spot bias)
    guide = clean + 0.3 * (ndi.gaussian_filter(clean, (0, 1, 1, 0)) - clean) + 0.01 * rng.standard_normal(clean.shape)
    return clean, noisy, guide, np.broadcast_to(red, clean.shape[:3])


def _worst_region_error(video, red):
    return max(np.abs(video[red].mean(0) - RED).max(), np.abs(video[~red].mean(0) - BLUE).max())


@pytest.mark.parametrize("seed", [0, 1])
def test_restored_ring_colours_keep_their_means_where_the_guide_is_pulled_to_the_neighbours(seed):
    clean, noisy, guide, red = _rings(seed)
    restored = restore_colour(guide, noisy)
    assert restored.shape == noisy.shape and restored.dtype == np.float32
    assert _worst_region_error(guide, red) > 0.025  # the biased guide: each ring's colour moved
    assert _worst_region_error(restored, red) < 0.008  # restored: the measured colours, noise averaged out
    rmse = lambda x: np.sqrt(((x - clean) ** 2).mean())  # noqa: E731
    assert rmse(restored) < 0.5 * rmse(noisy)  # and still denoised


def test_noise_variance_is_estimated_from_the_residual():
    _, noisy, guide, _ = _rings(2)
    assert estimate_noise_variance(guide, noisy) == pytest.approx(NOISE**2, rel=0.2)


def test_single_frame_and_explicit_eps_work():
    clean, noisy, guide, red = _rings(3, frames=1)
    restored = restore_colour(guide[0], noisy[0], eps=1e-3, radius_px=2)
    assert restored.shape == (64, 64, 3)
    assert _worst_region_error(restored[None], red[:1]) < _worst_region_error(guide[:1], red[:1])


def test_bad_input_is_refused_with_one_line():
    _, noisy, guide, _ = _rings(4, frames=1)
    with pytest.raises(InputError, match="one shape"):
        restore_colour(guide, noisy[..., :2])
    with pytest.raises(InputError, match="radius_px"):
        restore_colour(guide, noisy, radius_px=0)
    with pytest.raises(InputError, match="eps"):
        restore_colour(guide, noisy, eps=-1.0)
