"""Noise correlation measured from the data alone: white noise is white, PSF-blurred noise has its rho."""

from pathlib import Path

import numpy as np
import pytest

from operando import InputError
from operando.noise import (
    add_correlated_noise,
    add_scintillator_noise,
    correlated_noise_kernel,
    corrupt,
    measure_noise_correlation,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "neutron" / "stepwedge"


def _scene(n=128):
    yy, xx = np.mgrid[:n, :n] / n
    return (0.5 + 0.3 * np.sin(6 * xx) * np.cos(4 * yy) + 0.2 * (xx > 0.5)).astype(np.float32)


def test_white_noise_is_measured_white():
    noisy = _scene() + 0.1 * np.random.default_rng(0).standard_normal((128, 128))
    m = measure_noise_correlation(noisy)
    assert abs(m.acf_x[1]) < 0.05 and abs(m.acf_y[1]) < 0.05
    assert m.sigma == pytest.approx(0.1, rel=0.1)
    assert m.blind_spot_ok and m.correlation_length_px == 0


@pytest.mark.parametrize("rho", [0.2, 0.4, 0.6])
def test_blurred_noise_has_its_neighbour_correlation(rho):
    noisy = add_correlated_noise(_scene(), sigma=0.1, rho=rho, rng=1)
    m = measure_noise_correlation(noisy)
    assert m.acf_x[1] == pytest.approx(rho, abs=0.05)
    assert m.acf_y[1] == pytest.approx(rho, abs=0.05)
    assert not m.blind_spot_ok and m.correlation_length_px >= 1
    assert m.sigma == pytest.approx(0.1, rel=0.1)


def test_video_spatial_and_temporal_correlation():
    clean = np.repeat(_scene(96)[None], 6, axis=0)
    noisy = add_correlated_noise(clean, sigma=0.1, rho=0.4, rng=2)
    m = measure_noise_correlation(noisy, axes="TYX")
    assert m.source == "frame differences"
    assert m.acf_x[1] == pytest.approx(0.4, abs=0.05)
    assert abs(m.temporal_corr) < 0.1
    static = corrupt(clean, "fixed:0.1", axes="TYX").to_numpy() + 0.02 * np.random.default_rng(3).standard_normal(
        clean.shape)
    assert measure_noise_correlation(static, axes="TYX").temporal_corr > 0.8


def test_psd_integrates_to_the_variance():
    noisy = add_correlated_noise(_scene(), sigma=0.1, rho=0.4, rng=4)
    m = measure_noise_correlation(noisy)
    psd = m.psd((64, 64))
    assert (psd >= 0).all()
    assert psd.mean() / (64 * 64) == pytest.approx(m.sigma**2, rel=0.05)
    assert psd[0, 0] > 2 * psd[32, 32]  # correlated noise: more power at low frequencies


def test_kernel_and_models():
    k = correlated_noise_kernel(0.4)
    assert (k * k).sum() == pytest.approx(1.0)
    assert (k[:, :-1] * k[:, 1:]).sum() == pytest.approx(0.4, abs=1e-6)
    clean = np.full((4, 64, 64), 0.5, np.float32)
    y = add_scintillator_noise(clean, peak=100, rho=0.4, rng=0)
    d = y - clean
    assert abs(d.mean()) < 2e-3
    assert np.corrcoef(d[..., :-1].ravel(), d[..., 1:].ravel())[0, 1] == pytest.approx(0.4, abs=0.05)
    with pytest.raises(InputError, match="neighbour correlation"):
        correlated_noise_kernel(0.99)


def test_too_small_image_is_refused():
    with pytest.raises(InputError, match="too small"):
        measure_noise_correlation(np.zeros((20, 20)))


@pytest.fixture
def stepwedge():
    if not DATA.is_dir():
        pytest.skip("shared data folder not present")
    from operando.neutron import read_normalized

    return tuple(read_normalized(*(DATA / f"exp{e}_{k}.tif" for k in ("h2o", "ob", "dc"))).stack.to_numpy()
                 [100:800, 100:1400] for e in ("5s", "120s"))


def test_real_radiograph_noise_is_positively_correlated(stepwedge):
    short, long = stepwedge
    measured = measure_noise_correlation(short).neighbour_corr
    # the reference: the difference from the 24x longer exposure is (almost) the short one's noise; local
    # planes removed over 48 px tiles, the median lag-1 correlation along X
    diff = short - long
    rhos = []
    for i in range(0, diff.shape[0] - 48, 48):
        for j in range(0, diff.shape[1] - 48, 48):
            t = diff[i:i + 48, j:j + 48]
            t = t - t.mean(0) - t.mean(1)[:, None] + t.mean()
            rhos.append((t[:, :-1] * t[:, 1:]).mean() / t.var())
    reference = float(np.median(rhos))
    assert 0.05 < measured < 0.5
    assert measured == pytest.approx(reference, abs=0.1)


def test_real_radiograph_image_alone_reads_what_the_scene_free_difference_reads(stepwedge):
    short, long = stepwedge
    alone = measure_noise_correlation(short)
    # the difference from the 24x longer exposure has no scene: its flat patches are everywhere
    diff = measure_noise_correlation(short - long)
    assert alone.acf_x[1] == pytest.approx(diff.acf_x[1], abs=0.04)
    assert alone.acf_y[1] == pytest.approx(diff.acf_y[1], abs=0.04)
    assert not alone.blind_spot_ok  # correlated beyond the measurement's error: no pixel-wise blind spot
