"""Refits of the physics on fresh noise realisations (operando.bench.physics_replicates)."""

import jax.numpy as jnp
import numpy as np
import pytest

from operando.simulate import simulate_cahn_hilliard

TRUTH_SLOPE = 0.5  # ln D = 0.5 (2c - 1)


def _mobility(c):
    c = jnp.clip(c, 0.0, 1.0)
    return jnp.exp(TRUTH_SLOPE * (2 * c - 1)) * c * (1 - c)


@pytest.fixture(scope="module")
def truth_video():
    return simulate_cahn_hilliard(size=32, n_frames=16, t_end=0.2, dt=1e-5, mobility=_mobility, rng=0)


def test_refits_on_fresh_noise_give_noise_bands(truth_video):
    from operando.bench.physics_replicates import refit_on_fresh_noise

    res = refit_on_fresh_noise(truth_video, "gaussian:0.005", replicates=2, n_mu=2, n_d=2, window=2, dt=8e-5,
                               max_iter=4, rng=0)
    assert res.bootstrap.shape == (2, 4)
    assert not np.array_equal(res.bootstrap[0], res.bootstrap[1])  # different noise, different fits
    curves = res.curves()
    assert "lo" in curves["mu_h"] and res.settings["replicates"] == "noise"
    assert abs(res.a[0] + 3.0) < 0.2
