"""Texture is not noise: white noise on textured images reads white, PSF-blurred noise reads its rho.

The old measurement (a Gaussian first pass whose residual kept the texture) read white noise on these scenes
at a neighbour correlation of 0.15-0.33 and rho = 0.4 at 0.50-0.55.
"""

import numpy as np
import pytest

from operando.noise import add_correlated_noise, add_poisson_noise, measure_noise_correlation
from tests.scenes import SCENES, labyrinth


@pytest.mark.parametrize("scene", SCENES)
@pytest.mark.parametrize("seed", [0, 1])
def test_white_noise_on_texture_reads_white(scene, seed):
    clean = SCENES[scene]()
    noisy = clean + 0.1 * np.random.default_rng(seed).standard_normal(clean.shape).astype(np.float32)
    m = measure_noise_correlation(noisy)
    assert abs(m.acf_x[1]) < 0.08 and abs(m.acf_y[1]) < 0.08, (m.acf_x, m.acf_y)
    assert m.sigma == pytest.approx(0.1, rel=0.08)
    assert m.blind_spot_ok


@pytest.mark.parametrize("scene", SCENES)
@pytest.mark.parametrize("rho", [0.4, 0.6])
def test_psf_noise_on_texture_reads_its_correlation(scene, rho):
    noisy = add_correlated_noise(SCENES[scene](), sigma=0.1, rho=rho, rng=1)
    m = measure_noise_correlation(noisy)
    assert m.acf_x[1] == pytest.approx(rho, abs=0.07)
    assert m.acf_y[1] == pytest.approx(rho, abs=0.07)
    assert not m.blind_spot_ok and m.correlation_length_px >= 1


def test_poisson_sigma_is_the_rms_over_the_image():
    clean = labyrinth()
    noisy = add_poisson_noise(clean, peak=30, rng=2)
    m = measure_noise_correlation(noisy)
    rms = float(np.std(noisy - clean))
    assert m.sigma == pytest.approx(rms, rel=0.1)  # not the dark pixels' noise (the old bias: ~0.6x)
    assert abs(m.neighbour_corr) < 0.08 and m.blind_spot_ok


def test_standard_error_matches_the_spread_over_noise_draws():
    yy, xx = np.mgrid[:96, :96] / 96
    clean = (0.5 + 0.2 * np.sin(5 * xx) * np.cos(3 * yy)).astype(np.float32)
    draws = [measure_noise_correlation(add_correlated_noise(clean, sigma=0.1, rho=0.3, rng=s)) for s in range(24)]
    spread = np.std([d.acf_x[1] for d in draws])
    se = np.mean([d.acf_se[5, 6] for d in draws])  # the jackknife's error of acf_x[1]
    assert np.mean([d.acf_x[1] for d in draws]) == pytest.approx(0.3, abs=0.02)
    assert 0.6 * spread < se < 1.8 * spread


def test_texture_everywhere_is_no_evidence_of_correlation():
    # domains ~5 px: no 12 px patch is flat, so the measurement cannot tell texture from noise and says so
    clean = labyrinth(width=2.0)
    noisy = clean + 0.1 * np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32)
    m = measure_noise_correlation(noisy)
    assert np.isnan(m.neighbour_corr_se)
    assert m.blind_spot_ok
