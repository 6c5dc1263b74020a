"""The residual check flags an output that kept the noise or removed signal, and passes the truth."""

import numpy as np
import pytest
from scipy import ndimage

from operando import InputError
from operando.metrics import check_residual
from operando.noise import add_correlated_noise


def _scene(n=128):
    yy, xx = np.mgrid[:n, :n] / n
    squares = ((np.arange(n)[:, None] // 32 + np.arange(n)[None, :] // 32) % 2) * (yy > 0.5)
    return (0.4 + 0.3 * np.sin(9 * xx) * np.cos(7 * yy) + 0.2 * squares).astype(np.float32)


@pytest.fixture(scope="module")
def correlated():
    clean = _scene()
    return clean, add_correlated_noise(clean, sigma=0.1, rho=0.4, rng=0)


def test_truth_passes(correlated):
    clean, noisy = correlated
    check = check_residual(noisy, clean)
    assert check.passed, check.problems
    assert check.variance_ratio == pytest.approx(1.0, abs=0.15)


def test_copying_the_noise_is_flagged(correlated):
    clean, noisy = correlated
    assert not check_residual(noisy, noisy).passed
    # a blind-spot network on correlated noise keeps the noise's correlated part: emulate it by keeping the
    # blurred (low-frequency) part of the noise in the output
    kept = clean + ndimage.gaussian_filter(noisy - clean, 1.0)
    check = check_residual(noisy, kept)
    assert not check.passed
    assert any("copied" in p or "kept" in p for p in check.problems)


def test_removing_signal_is_flagged(correlated):
    clean, noisy = correlated
    blurred = ndimage.gaussian_filter(clean, 3.0)
    check = check_residual(noisy, blurred)
    assert not check.passed
    assert check.structure_corr > 0.1 or check.variance_ratio > 1.35


def test_shape_mismatch_is_refused(correlated):
    _, noisy = correlated
    with pytest.raises(InputError, match="differ in shape"):
        check_residual(noisy, noisy[:64])
