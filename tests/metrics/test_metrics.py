import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from operando import InputError
from operando.metrics import (
    conditional_bias,
    evaluate,
    local_variability,
    mass_drift,
    mean_bias,
    noise_fit,
    psnr,
    psnr_frames,
    ssim,
    ssim_frames,
)


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    clean = rng.random((6, 24, 24))
    return clean, clean + 0.05 * rng.standard_normal(clean.shape)


def test_psnr_matches_scikit_image(pair):
    clean, test = pair
    assert psnr(clean, test, data_range=1.0) == pytest.approx(peak_signal_noise_ratio(clean, test, data_range=1.0))
    per = psnr_frames(clean, test, data_range=2.0)
    assert per[3] == pytest.approx(peak_signal_noise_ratio(clean[3], test[3], data_range=2.0))


def test_ssim_matches_scikit_image(pair):
    clean, test = pair
    expected = [structural_similarity(c, t, data_range=1.0) for c, t in zip(clean, test, strict=True)]
    np.testing.assert_allclose(ssim_frames(clean, test, data_range=1.0), expected)
    assert ssim(clean, test, data_range=1.0) == pytest.approx(np.mean(expected))


def test_ssim_rgb_matches_scikit_image():
    rng = np.random.default_rng(0)
    clean = rng.random((16, 16, 3))
    test = clean + 0.1 * rng.random(clean.shape)
    got = ssim(clean, test, data_range=1.0, axes="YXC")
    assert got == pytest.approx(structural_similarity(clean, test, data_range=1.0, channel_axis=-1))


def test_bias_and_conditional_bias():
    clean = np.linspace(0, 1, 24 * 24 * 4).reshape(4, 24, 24)
    shrunk = 0.5 + 0.8 * (clean - 0.5)  # a denoiser that pulls values to the middle
    assert mean_bias(clean, shrunk) == pytest.approx(0.0, abs=1e-9)
    cb = conditional_bias(clean, shrunk, bins=10, value_range=(0, 1))
    np.testing.assert_allclose(cb.bias, -0.2 * (cb.centers - 0.5), atol=0.011)
    assert cb.counts.sum() == clean.size


def test_mass_drift():
    video = np.ones((5, 8, 8))
    video[4] *= 1.01
    np.testing.assert_allclose(mass_drift(video), [0, 0, 0, 0, 0.01])


def test_local_variability_matches_definition():
    rng = np.random.default_rng(0)
    video = rng.standard_normal((10, 20, 20))
    # interior pixel by hand: population std of its 3x3x3 box
    from scipy import ndimage

    m = ndimage.uniform_filter(video, 3, mode="reflect")
    m2 = ndimage.uniform_filter(video**2, 3, mode="reflect")
    assert np.sqrt(m2 - m**2)[5, 10, 10] == pytest.approx(video[4:7, 9:12, 9:12].std())
    v = local_variability(video, axes="TYX")
    assert 0.85 < v < 1.0  # white noise of unit std, 27-sample population std
    assert local_variability(np.ones((4, 8, 8)), axes="TYX") == pytest.approx(0, abs=1e-6)
    mask = np.zeros((20, 20), bool)
    mask[:5] = True
    assert local_variability(video, axes="TYX", mask=mask) > 0


def test_evaluate_ranks_cleaner_data_higher(pair):
    clean, test = pair
    worse = clean + 0.2 * np.random.default_rng(1).standard_normal(clean.shape)
    rows = evaluate(clean, {"good": test, "bad": worse}, data_range=1.0)
    assert rows[0].psnr_db > rows[1].psnr_db + 10
    assert rows[0].ssim > rows[1].ssim


def test_shape_mismatch_and_bad_range(pair):
    clean, test = pair
    with pytest.raises(InputError, match="shapes differ"):
        psnr(clean, test[:3], data_range=1)
    with pytest.raises(InputError, match="data_range"):
        psnr(clean, test, data_range=0)


def test_noise_fit_measures_the_noise_a_denoiser_kept():
    rng = np.random.default_rng(0)
    clean = rng.random((6, 16, 16))
    noise = 0.1 * rng.normal(size=clean.shape)
    noisy = clean + noise
    assert noise_fit(clean, noisy, noisy) == pytest.approx(1.0)  # identity: all the noise stays
    assert abs(noise_fit(clean, noisy, clean)) < 1e-12  # perfect denoiser
    # an output that kept 3 % of the noise on frames 0-2 only, plus an error unrelated to the noise
    test = clean + 0.01 * rng.normal(size=clean.shape)
    test[:3] += 0.03 * noise[:3]
    assert noise_fit(clean, noisy, test, frames=slice(0, 3)) == pytest.approx(0.03, abs=0.01)
    assert abs(noise_fit(clean, noisy, test, frames=[3, 4, 5])) < 0.01
    with pytest.raises(InputError, match="no noise"):
        noise_fit(clean, clean, test)
