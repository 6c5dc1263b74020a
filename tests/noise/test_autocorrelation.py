"""operando.noise.noise_autocorrelation: the ONE autocorrelation of a residual or noise image over lags."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from operando import InputError
from operando.noise import add_correlated_noise, correlated_noise_kernel, noise_autocorrelation


def _brute(images, max_lag, valid):
    """The definition, pixel pair by pixel pair (slow; small arrays only)."""
    x = np.asarray(images, float).reshape(-1, *np.shape(images)[-2:])
    v = np.broadcast_to(valid, x.shape).reshape(x.shape)
    r = np.zeros_like(x)
    for i in range(len(x)):
        r[i][v[i]] = x[i][v[i]] - x[i][v[i]].mean()
    var = (r[v] ** 2).mean()
    acf = np.full((2 * max_lag + 1,) * 2, np.nan)
    n, ny, nx = x.shape
    for dy in range(-max_lag, max_lag + 1):
        for dx in range(-max_lag, max_lag + 1):
            total, count = 0.0, 0
            for i in range(n):
                for y in range(ny):
                    for xx in range(nx):
                        y2, x2 = y + dy, xx + dx
                        if 0 <= y2 < ny and 0 <= x2 < nx and v[i, y, xx] and v[i, y2, x2]:
                            total += r[i, y, xx] * r[i, y2, x2]
                            count += 1
            if count >= 3:
                acf[dy + max_lag, dx + max_lag] = total / count / var
    return acf, var


def test_it_is_the_pooled_sample_autocorrelation_pair_by_pair():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((2, 9, 11)) + np.array([3.0, -1.0])[:, None, None]
    valid = rng.random(images.shape) > 0.25
    data = np.where(valid, images, np.nan)
    expected, var = _brute(images, 3, valid)
    got = noise_autocorrelation(data, max_lag=3)
    np.testing.assert_allclose(got.acf_2d, expected, rtol=1e-12, atol=1e-14)
    assert got.variance == pytest.approx(var, rel=1e-12)
    assert got.n_pixels == int(valid.sum())
    np.testing.assert_allclose(got.acf_x, expected[3, 3:], rtol=1e-12)
    np.testing.assert_allclose(got.acf_y, expected[3:, 3], rtol=1e-12)
    assert got.acf_x[0] == 1.0


def test_nan_pixels_and_masked_pixels_are_the_same_thing():
    rng = np.random.default_rng(1)
    img = rng.standard_normal((40, 50))
    keep = rng.random(img.shape) > 0.2
    a = noise_autocorrelation(np.where(keep, img, np.nan), max_lag=4)
    b = noise_autocorrelation(img, max_lag=4, mask=keep)
    np.testing.assert_array_equal(a.acf_2d, b.acf_2d)
    with pytest.raises(InputError, match="does not fit"):
        noise_autocorrelation(img, mask=keep[:10])
    with pytest.raises(InputError, match="no valid pixel"):
        noise_autocorrelation(np.full((8, 8), np.nan))


def test_white_noise_is_white_and_its_area_is_one():
    m = noise_autocorrelation(np.random.default_rng(2).standard_normal((4, 128, 128)), max_lag=5)
    off = np.delete(m.acf_2d.ravel(), m.acf_2d.size // 2)
    assert m.acf_2d[5, 5] == 1.0 and np.abs(off).max() < 0.02
    assert m.correlation_length() == 0
    assert m.correlation_area() == pytest.approx(1.0, abs=0.25)


@pytest.mark.parametrize("rho", [0.3, 0.6])
def test_blurred_noise_has_the_kernels_autocorrelation_length_and_area(rho):
    noise = add_correlated_noise(np.zeros((4, 128, 128)), sigma=1.0, rho=rho, rng=3)
    m = noise_autocorrelation(noise, max_lag=5)
    kernel = correlated_noise_kernel(rho)
    theory = signal.correlate2d(kernel, kernel)  # unit energy: lag 0 is 1
    c = theory.shape[0] // 2
    theory = theory[c - 5 : c + 6, c - 5 : c + 6]
    np.testing.assert_allclose(m.acf_2d, theory, atol=0.03)
    assert m.acf_x[1] == pytest.approx(rho, abs=0.03) and m.acf_y[1] == pytest.approx(rho, abs=0.03)
    assert m.correlation_length() == int(np.max(np.maximum(*np.abs(np.mgrid[-5:6, -5:6]))[theory >= 0.1]))
    assert m.correlation_area() == pytest.approx(theory.sum(), rel=0.1)
    assert m.correlation_area(1) == pytest.approx(theory[4:7, 4:7].sum(), rel=0.05)


def test_a_per_image_offset_is_not_correlation():
    rng = np.random.default_rng(4)
    noise = rng.standard_normal((6, 32, 32))
    shifted = noise + 10.0 * rng.standard_normal((6, 1, 1))
    a = noise_autocorrelation(noise, max_lag=2, temporal=True)
    b = noise_autocorrelation(shifted, max_lag=2, temporal=True)
    np.testing.assert_allclose(a.acf_2d, b.acf_2d, atol=1e-12)
    np.testing.assert_allclose(a.acf_t, b.acf_t, atol=1e-12)


def test_temporal_lags_see_noise_that_repeats_from_frame_to_frame():
    rng = np.random.default_rng(5)
    fixed = rng.standard_normal((48, 48))
    static = fixed + 0.5 * rng.standard_normal((5, 48, 48))  # rho_t = 1 / 1.25
    m = noise_autocorrelation(static, max_lag=3, temporal=True)
    assert len(m.acf_t) == 4 and m.acf_t[0] == 1.0
    assert m.acf_t[1] == pytest.approx(0.8, abs=0.03) and m.acf_t[3] == pytest.approx(0.8, abs=0.03)
    fresh = noise_autocorrelation(rng.standard_normal((5, 48, 48)), max_lag=1, temporal=True)
    assert abs(fresh.acf_t[1]) < 0.03
    assert noise_autocorrelation(fixed, max_lag=2).acf_t is None


def test_axes_only_measures_the_axes_and_refuses_area_and_length():
    img = add_correlated_noise(np.zeros((64, 64)), sigma=1.0, rho=0.4, rng=6)
    full = noise_autocorrelation(img, max_lag=3)
    axes = noise_autocorrelation(img, max_lag=3, axes_only=True)
    assert axes.acf_x == full.acf_x and axes.acf_y == full.acf_y
    assert np.isnan(axes.acf_2d[4, 4]) and np.isfinite(full.acf_2d[4, 4])
    with pytest.raises(InputError, match="axes_only=False"):
        axes.correlation_area()
    assert "correlation_area_px" not in axes.to_dict() and "correlation_area_px" in full.to_dict()


def test_constant_data_and_too_few_pairs_read_nan():
    flat = noise_autocorrelation(np.ones((16, 16)), max_lag=2)
    assert flat.variance == 0.0 and np.isnan(flat.acf_2d).all()
    tiny = noise_autocorrelation(np.random.default_rng(7).standard_normal((2, 3)), max_lag=2)
    assert np.isnan(tiny.acf_x[2]) and np.isfinite(tiny.acf_x[1])  # lag 2 along X: 2 pairs only
    with pytest.raises(InputError, match="max_lag"):
        noise_autocorrelation(np.ones((8, 8)), max_lag=-1)
