"""Refits of the physics on fresh noise realisations (operando.bench.physics_replicates)."""

import numpy as np


def test_refits_on_fresh_noise_give_noise_bands(truth_video):
    from operando.bench.physics_replicates import refit_on_fresh_noise

    res = refit_on_fresh_noise(truth_video, "gaussian:0.005", replicates=2, n_mu=2, n_d=2, window=2, dt=8e-5,
                               max_iter=4, rng=0)
    assert res.bootstrap.shape == (2, 4)
    assert not np.array_equal(res.bootstrap[0], res.bootstrap[1])  # different noise, different fits
    curves = res.curves()
    assert "lo" in curves["mu_h"] and res.settings["replicates"] == "noise"
    assert abs(res.a[0] + 3.0) < 0.2
