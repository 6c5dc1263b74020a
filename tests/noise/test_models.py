import numpy as np
import pytest

from operando import InputError, Stack
from operando.noise import (
    add_fixed_pattern_noise,
    add_gaussian_noise,
    add_impulse_noise,
    add_mixed_noise,
    add_poisson_noise,
    add_scanline_noise,
    corrupt,
    parse_noise,
)

CLEAN = np.full((8, 64, 64), 0.4, np.float32)


def test_gaussian_statistics():
    y = add_gaussian_noise(CLEAN, sigma=0.1, rng=0)
    assert np.mean(y - CLEAN) == pytest.approx(0, abs=3e-3)
    assert np.std(y - CLEAN) == pytest.approx(0.1, rel=0.02)


@pytest.mark.parametrize("peak", [3.0, 30.0, 100.0])
def test_poisson_variance_equals_mean_over_peak(peak):
    y = add_poisson_noise(CLEAN, peak=peak, rng=0)
    assert np.mean(y) == pytest.approx(0.4, rel=0.02)
    assert np.var(y) == pytest.approx(0.4 / peak, rel=0.05)


def test_impulse_fraction_and_values():
    clean = np.random.default_rng(0).uniform(0.2, 0.8, (8, 64, 64)).astype(np.float32)
    y = add_impulse_noise(clean, fraction=0.2, low=0.0, high=1.0, rng=0)
    changed = y != clean
    assert changed.mean() == pytest.approx(0.2, abs=0.01)
    assert (y[changed] == 0).mean() == pytest.approx(0.5, abs=0.03)
    assert set(np.unique(y[changed])) <= {0.0, 1.0}


def test_mixed_is_poisson_gaussian_plus_impulse():
    y = add_mixed_noise(CLEAN, peak=30, sigma=0.05, rng=0)
    assert np.var(y) == pytest.approx(0.4 / 30 + 0.05**2, rel=0.05)
    z = add_mixed_noise(CLEAN, peak=30, sigma=0.05, impulse=0.1, rng=0)
    assert np.mean(z == 0.4) < 0.2


def test_scanline_noise_is_constant_along_rows():
    y = add_scanline_noise(CLEAN, offset_sigma=0.05, rng=0)
    resid = y - CLEAN
    assert np.allclose(resid.std(axis=-1), 0, atol=1e-6)  # one offset per row
    assert resid[..., 0].std() == pytest.approx(0.05, rel=0.1)  # rows differ
    assert not np.allclose(resid[0], resid[1])  # new lines in every frame


def test_scanline_correlation_between_rows():
    y = add_scanline_noise(np.zeros((4, 256, 8), np.float32), offset_sigma=1.0, correlation=0.9, rng=0)
    rows = y[..., 0]
    r = np.mean([np.corrcoef(r[:-1], r[1:])[0, 1] for r in rows])
    assert r == pytest.approx(0.9, abs=0.08)


def test_fixed_pattern_is_the_same_in_every_frame():
    y = add_fixed_pattern_noise(CLEAN, sigma=0.05, rng=0)
    resid = y - CLEAN
    np.testing.assert_allclose(resid[0], resid[-1])
    assert resid[0].std() == pytest.approx(0.05, rel=0.1)


def test_seeds_reproduce():
    a = corrupt(CLEAN, "mixed:30,0.05,0.1", axes="TYX", rng=7).data
    b = corrupt(CLEAN, "mixed:30,0.05,0.1", axes="TYX", rng=7).data
    c = corrupt(CLEAN, "mixed:30,0.05,0.1", axes="TYX", rng=8).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_corrupt_applies_rows_along_y_whatever_the_axis_order():
    stack = Stack(np.zeros((64, 3, 32), np.float32), axes="YTX")
    y = corrupt(stack, "scanline:0.1", rng=0)
    assert y.axes == "YTX" and y.shape == (64, 3, 32)
    assert np.allclose(y.data.std(axis=-1), 0, atol=1e-6)


def test_corrupt_does_not_modify_input():
    clean = CLEAN.copy()
    corrupt(clean, "gaussian:0.1+impulse:0.1", axes="TYX", rng=0)
    np.testing.assert_array_equal(clean, CLEAN)


@pytest.mark.parametrize(("spec", "match"), [
    ("blur:1", "unknown noise"), ("gaussian", "takes 1 to 1"), ("gaussian:abc", "must be numbers"),
    ("mixed:30", "takes 2 to 3"),
])
def test_bad_specs(spec, match):
    with pytest.raises(InputError, match=match):
        parse_noise(spec)


def test_bad_parameters():
    with pytest.raises(InputError, match="non-negative"):
        add_poisson_noise(CLEAN - 1, peak=10)
    with pytest.raises(InputError, match="fraction"):
        add_impulse_noise(CLEAN, fraction=1.5)
