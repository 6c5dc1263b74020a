"""The residual check flags an output that kept the noise or removed signal, and passes honest denoisers."""

import numpy as np
import pytest
from scipy import ndimage

from operando import InputError
from operando.metrics import check_residual
from operando.metrics._residual import MAX_KEPT_NOISE, MAX_REMOVED_SIGNAL, MIN_CORRELATION_KEPT
from operando.noise import add_correlated_noise, add_gaussian_noise, measure_noise_correlation


def _scene(n=128):
    from skimage import data
    from skimage.transform import resize

    return resize(data.camera() / 255.0, (n, n), anti_aliasing=True)


def _blind_spot_copy(noise, radius=1):
    """What a blind-spot network learns on the noise: each pixel predicted (least squares) from its neighbours."""
    offsets = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1) if dy or dx]
    cols = np.stack([np.roll(noise, off, axis=(0, 1)).ravel() for off in offsets], axis=1)
    coef, *_ = np.linalg.lstsq(cols, noise.ravel(), rcond=None)
    return (cols @ coef).reshape(noise.shape)


def _wiener(noisy, noise):
    """The yardstick itself: a Wiener filter from the data's smoothed periodogram and the measured noise PSD."""
    from operando.noise import psd_from_autocovariance

    p_n = psd_from_autocovariance(noise.autocovariance(), noisy.shape)
    f = np.fft.fft2(noisy - noisy.mean())
    p_y = ndimage.uniform_filter(np.abs(f) ** 2, 5, mode="wrap")
    gain = np.clip(1 - p_n / np.maximum(p_y, 1e-30), 0, 1)
    return noisy.mean() + np.real(np.fft.ifft2(gain * f))


@pytest.fixture(scope="module", params=[0.4, 0.6], ids=["rho0.4", "rho0.6"])
def correlated(request):
    clean = _scene()
    noisy = add_correlated_noise(clean, sigma=0.1, rho=request.param, rng=0)
    return clean, noisy, measure_noise_correlation(noisy)


@pytest.fixture(scope="module")
def white():
    clean = _scene()
    noisy = add_gaussian_noise(clean, sigma=0.1, rng=0)
    return clean, noisy, measure_noise_correlation(noisy)


def test_truth_passes(correlated):
    clean, noisy, noise = correlated
    check = check_residual(noisy, clean, noise=noise)
    assert check.passed, check.problems
    assert check.variance_ratio == pytest.approx(1.0, abs=0.15)
    assert check.kept_noise < 0.1 and check.removed_signal < 0.15
    assert check.correlation_kept > 0.9  # the noise itself is at least as correlated as the Wiener residual


def test_the_wiener_yardstick_and_a_truth_based_smooth_pass(correlated):
    clean, noisy, noise = correlated
    check = check_residual(noisy, _wiener(noisy, noise), noise=noise)
    assert check.passed, check.problems
    assert check.variance_ratio == pytest.approx(check.wiener_variance_ratio, abs=0.15)
    # an honest denoiser that keeps a little noise and softens the image slightly
    honest = ndimage.gaussian_filter(clean, 0.7) + 0.05 * (noisy - clean)
    check = check_residual(noisy, honest, noise=noise)
    assert check.passed, check.problems


def test_copying_the_noise_is_flagged(correlated):
    clean, noisy, noise = correlated
    assert not check_residual(noisy, noisy, noise=noise).passed
    # a blind-spot network on correlated noise keeps the part of the noise its neighbours predict
    check = check_residual(noisy, clean + _blind_spot_copy(noisy - clean), noise=noise)
    assert not check.passed
    assert check.kept_noise > MAX_KEPT_NOISE
    assert check.correlation_kept < MIN_CORRELATION_KEPT
    assert any("copied" in p for p in check.problems) and any("kept" in p for p in check.problems)


def test_over_smoothing_is_flagged(correlated):
    _, noisy, noise = correlated
    check = check_residual(noisy, ndimage.gaussian_filter(noisy, 3.0), noise=noise)
    assert not check.passed
    assert check.removed_signal > MAX_REMOVED_SIGNAL
    assert any("signal" in p for p in check.problems)


def test_white_noise_truth_wiener_and_blind_spot_pass_without_a_correlation_test(white):
    clean, noisy, noise = white
    # on white noise a blind spot has nothing to copy: its neighbours predict none of the noise
    for denoised in (clean, _wiener(noisy, noise), clean + _blind_spot_copy(noisy - clean)):
        check = check_residual(noisy, denoised, noise=noise)
        assert check.passed, check.problems
        assert check.correlation_kept is None


def test_white_noise_under_and_over_smoothing_are_flagged(white):
    _, noisy, noise = white
    clean = white[0]
    kept = check_residual(noisy, clean + 0.6 * (noisy - clean), noise=noise)
    assert not kept.passed and kept.kept_noise > MAX_KEPT_NOISE
    smooth = check_residual(noisy, ndimage.gaussian_filter(noisy, 3.0), noise=noise)
    assert not smooth.passed and smooth.removed_signal > MAX_REMOVED_SIGNAL


def test_a_stack_and_a_measured_noise(correlated):
    clean, noisy, _ = correlated
    stack = np.stack([noisy, noisy[::-1]])
    check = check_residual(stack, np.stack([clean, clean[::-1]]), axes="TYX")
    assert check.passed, check.problems
    assert set(check.to_dict()) >= {"kept_noise", "removed_signal", "correlation_kept", "variance_ratio"}


def test_shape_mismatch_is_refused(correlated):
    _, noisy, _ = correlated
    with pytest.raises(InputError, match="differ in shape"):
        check_residual(noisy, noisy[:64])


def test_the_residual_autocorrelation_is_operando_noise_s_pooled_one_to_the_last_digit():
    """The residual's lags come from operando.noise.noise_autocorrelation: the pooled sample ACF, unchanged."""
    from operando.noise import noise_autocorrelation

    rng = np.random.default_rng(8)
    noisy = add_correlated_noise(np.zeros((3, 64, 64)), sigma=0.1, rho=0.4, rng=9) + rng.normal(0, 1, (3, 1, 1))
    denoised = ndimage.gaussian_filter(noisy, (0, 1, 1))
    check = check_residual(noisy, denoised, axes="TYX")
    r = noisy - denoised
    r = r - r.mean(axis=(-2, -1), keepdims=True)
    var = float((r * r).mean())
    assert check.residual_acf_x == tuple([1.0] + [float((r[..., :-k] * r[..., k:]).mean() / var) for k in (1, 2, 3)])
    assert check.residual_acf_y == tuple(
        [1.0] + [float((r[..., :-k, :] * r[..., k:, :]).mean() / var) for k in (1, 2, 3)])
    measured = noise_autocorrelation(noisy - denoised, max_lag=3)
    assert check.residual_acf_x == measured.acf_x and check.residual_acf_y == measured.acf_y
    flat = check_residual(np.ones((32, 32)), np.ones((32, 32)), noise=measure_noise_correlation(noisy[0]))
    assert flat.residual_acf_x == (1.0, 0.0, 0.0, 0.0)
