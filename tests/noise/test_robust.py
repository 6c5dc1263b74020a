"""operando.noise.robust_sd / subsample: the ONE robust SD (1.4826 x MAD), shared by every package."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from operando.noise import robust_sd, subsample


def test_robust_sd_is_the_normal_scaled_mad_and_ignores_outliers():
    rng = np.random.default_rng(3)
    values = rng.normal(0.0, 2.0, 200_000)
    assert robust_sd(values) == pytest.approx(2.0, rel=0.02)
    spiked = values.copy()
    spiked[:2_000] = 1e6  # 1 % impulses move the plain SD by orders of magnitude, the MAD hardly
    assert np.std(spiked) > 1e4
    assert robust_sd(spiked) == pytest.approx(2.0, rel=0.05)
    small = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    assert robust_sd(small) == pytest.approx(1.4826 * 1.0, rel=1e-3)  # median 3, |dev| median 1
    assert isinstance(robust_sd(small.reshape(5, 1)), float)


def test_subsample_keeps_about_n_evenly_strided_values():
    a = np.arange(1000).reshape(10, 100)
    kept = subsample(a, 100)
    assert kept.size == 100
    np.testing.assert_array_equal(kept, np.arange(0, 1000, 10))
    np.testing.assert_array_equal(subsample(a, 5000), a.ravel())  # fewer values than n: all of them


def test_the_denoise_copy_is_gone():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("operando.denoise._robust")
