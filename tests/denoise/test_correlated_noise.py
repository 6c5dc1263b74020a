"""Denoisers for spatially correlated noise: pixel shuffle, shaped blind spots, BM3D with the measured PSD."""

import numpy as np
import pytest
import torch

from operando.denoise._pixel_shuffle import pixel_shuffle, pixel_unshuffle, strides_for
from operando.denoise._shaped_masks import (
    carve_donut_hole,
    disc_footprint,
    footprint_from_correlation,
    shaped_blind_spot_mask,
)
from operando.noise import add_correlated_noise, measure_noise_correlation


@pytest.mark.parametrize("shape", [(64, 64), (3, 61, 50), (2, 2, 17, 9)])
@pytest.mark.parametrize("stride", [1, 2, 3, 5])
def test_pixel_shuffle_round_trip(shape, stride):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    subs = pixel_shuffle(x, stride)
    assert subs.shape[-3] == stride * stride
    np.testing.assert_array_equal(pixel_unshuffle(subs, stride, shape[-2:]), x)


def test_pixel_shuffle_decorrelates_neighbours():
    noise = add_correlated_noise(np.zeros((128, 128), np.float32), sigma=1.0, rho=0.4, rng=0)
    subs = pixel_shuffle(noise, 2)
    rho = np.mean([np.corrcoef(s[:, :-1].ravel(), s[:, 1:].ravel())[0, 1] for s in subs])
    assert abs(rho) < 0.08  # rho(2 px) of the blurred noise, ~0.03
    assert strides_for(0) == (2, 1) and strides_for(1)[0] == 2 and strides_for(9)[0] == 5


def _scene(n=128):
    yy, xx = np.mgrid[:n, :n] / n
    return (0.5 + 0.3 * np.sin(6 * xx) * np.cos(4 * yy)).astype(np.float32)


@pytest.mark.parametrize("rho", [0.4, 0.6])
def test_footprint_covers_the_measured_correlation(rho):
    m = measure_noise_correlation(add_correlated_noise(_scene(), sigma=0.1, rho=rho, rng=3))
    fp = footprint_from_correlation(m.acf_2d)
    r = fp.shape[0] // 2
    assert r >= 1 and fp[r, r] and (fp == fp[::-1, ::-1]).all()
    lag = m.acf_2d.shape[0] // 2
    acf = m.acf_2d[lag - r - 1:lag + r + 2, lag - r - 1:lag + r + 2]
    uncovered = np.ones_like(acf, bool)
    uncovered[1:-1, 1:-1] = ~fp
    assert acf[uncovered].max() < 0.1 + 1e-9  # every neighbour the network still sees is nearly independent


def test_white_noise_footprint_is_the_pixel():
    m = measure_noise_correlation(_scene() + 0.1 * np.random.default_rng(0).standard_normal((128, 128)))
    assert footprint_from_correlation(m.acf_2d).shape == (1, 1)
    assert disc_footprint(0).shape == (1, 1) and disc_footprint(2).sum() == 13


def test_shaped_mask_hides_the_footprint():
    images = torch.arange(64 * 64, dtype=torch.float32).reshape(1, 1, 64, 64)
    fp = disc_footprint(1)
    masked, mask = shaped_blind_spot_mask(images, fraction=0.002, generator=torch.Generator().manual_seed(0),
                                          footprint=fp)
    ys, xs = torch.nonzero(mask[0, 0], as_tuple=True)
    assert len(ys) >= 1
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        if 2 <= y < 62 and 2 <= x < 62:
            for dy, dx in ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0)):
                assert masked[0, 0, y + dy, x + dx] != images[0, 0, y + dy, x + dx]


def test_carved_donut_sees_nothing_inside_the_footprint():
    hole = torch.ones(1, 1, 9, 9)
    hole[..., 4, 4] = 0
    carve_donut_hole(hole, disc_footprint(2))
    assert hole[0, 0, 2:7, 2:7][torch.from_numpy(disc_footprint(2))].sum() == 0
    assert hole.sum() == 81 - 13


def test_bm3d_with_the_measured_psd_beats_white_bm3d():
    pytest.importorskip("bm3d")
    from operando.denoise._bm3d import denoise_bm3d
    from operando.metrics import psnr

    clean = _scene(64)
    noisy = add_correlated_noise(clean, sigma=0.1, rho=0.5, rng=0)
    white = np.zeros((11, 11))
    white[5, 5] = float(np.var(noisy - clean))
    measured = denoise_bm3d(noisy)
    assert measured.shape == noisy.shape and measured.dtype == noisy.dtype
    assert psnr(clean, measured, data_range=1) > psnr(clean, denoise_bm3d(noisy, autocovariance=white), data_range=1)


def test_bm3d_channels_together_helps_the_faint_channel():
    """Two images of one scene, one faint: matching blocks on their common part denoises the faint one better."""
    pytest.importorskip("bm3d")
    from operando import Stack
    from operando._errors import InputError
    from operando.denoise import denoise_bm3d
    from operando.metrics import psnr

    yy, xx = np.mgrid[:64, :64]
    scene = ((np.hypot(yy - 24, xx - 30) < 12) + 0.6 * ((yy > 40) & (xx > 8) & (xx < 50))).astype(np.float64)
    clean = np.stack([scene, 0.25 * scene])  # the faint channel: a quarter of the contrast, the same noise
    noisy = clean + np.random.default_rng(0).normal(0, 0.1, clean.shape)
    together = denoise_bm3d(Stack(noisy, "CYX"), channels_together=True)
    apart = denoise_bm3d(Stack(noisy, "CYX"))
    assert together.shape == noisy.shape and together.metadata.extra["denoise"]["channels_together"]
    faint = {k: psnr(clean[1], v.to_numpy()[1], data_range=0.25) for k, v in (("together", together),
                                                                               ("apart", apart))}
    assert faint["together"] > faint["apart"] + 1.0  # dB
    with pytest.raises(InputError, match="C axis"):
        denoise_bm3d(noisy[0], channels_together=True)


def test_bm3d_refuses_data_whose_flat_regions_hold_no_noise():
    """A map filled with a constant outside its region of interest measures zero noise: one clear error, no crash."""
    pytest.importorskip("bm3d")
    from operando._errors import InputError
    from operando.denoise import denoise_bm3d

    filled = np.zeros((64, 64))
    filled[24:40, 24:40] = np.random.default_rng(0).normal(0.5, 0.1, (16, 16))
    with pytest.raises(InputError, match="noise measured on the data is zero"):
        denoise_bm3d(filled)
