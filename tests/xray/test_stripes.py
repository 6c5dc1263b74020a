"""The stripe diagnosis reads its row/column correlation from operando.noise.noise_autocorrelation."""

import numpy as np
import pytest

from operando.noise import noise_autocorrelation
from operando.xray import diagnose_stripes


def test_the_ridge_is_the_row_minus_column_autocorrelation_of_the_masked_residual():
    rng = np.random.default_rng(0)
    residual = rng.normal(0, 1, (40, 56)) + rng.normal(0, 1.5, (40, 1))
    residual[rng.random(residual.shape) < 0.1] = np.nan
    mask = rng.random(residual.shape) > 0.2
    d = diagnose_stripes(residual, mask=mask, lags=4)
    acf = noise_autocorrelation(np.where(mask, residual, np.nan), max_lag=4)
    assert d.ridge == pytest.approx(np.mean(acf.acf_x[1:]) - np.mean(acf.acf_y[1:]), rel=1e-12)
    assert d.ridge > 0.5  # rows share their offset: X correlates, Y hardly


def test_white_residual_has_no_ridge_and_a_constant_one_reads_nan():
    white = diagnose_stripes(np.random.default_rng(1).normal(0, 1, (64, 64)))
    assert abs(white.ridge) < 0.03
    flat = diagnose_stripes(np.full((16, 16), 2.0))
    assert np.isnan(flat.ridge)


def test_the_stripe_fraction_is_stripe_share_of_the_mean_removed_residual():
    from operando.xray import stripe_share

    rng = np.random.default_rng(2)
    residual = rng.normal(0.3, 1, (30, 40)) + rng.normal(0, 1, (30, 1))
    mask = rng.random(residual.shape) > 0.3
    d = diagnose_stripes(residual, mask=mask)
    r = residual - residual[mask].mean()
    assert d.stripe_fraction == pytest.approx(stripe_share(r, mask), rel=1e-12)
    assert 0.3 < d.stripe_fraction < 0.8
