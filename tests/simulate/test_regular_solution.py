"""The physics benchmark's and the demo's truth video, simulated in ``operando.simulate``."""

import jax.numpy as jnp
import numpy as np
import pytest

from operando.simulate import simulate_cahn_hilliard, simulate_regular_solution


def test_the_truth_video_is_cahn_hilliard_with_the_benchmarks_mobility():
    video = simulate_regular_solution(size=16, n_frames=4, t_end=0.02, d_slope=0.5, dt=1e-4, rng=2)

    def mobility(c):
        c = jnp.clip(c, 0.0, 1.0)
        return jnp.exp(0.5 * (2 * c - 1)) * c * (1 - c)

    same = simulate_cahn_hilliard(size=16, n_frames=4, t_end=0.02, dt=1e-4, mobility=mobility, rng=2)
    np.testing.assert_array_equal(video.to_numpy(), same.to_numpy())
    assert video.axes == "TYX" and video.metadata.extra["simulation"]["seed"] == 2
    means = video.to_numpy().astype(np.float64).mean(axis=(1, 2))
    assert np.max(np.abs(means - means[0])) < 1e-5  # mass is conserved


@pytest.mark.parametrize("slope", [-0.5, 0.8])
def test_the_slope_of_ln_d_changes_the_dynamics(slope):
    flat = simulate_regular_solution(size=16, n_frames=3, t_end=0.02, d_slope=0.0, dt=1e-4, rng=1).to_numpy()
    other = simulate_regular_solution(size=16, n_frames=3, t_end=0.02, d_slope=slope, dt=1e-4, rng=1).to_numpy()
    np.testing.assert_array_equal(flat[0], other[0])  # the same start
    assert np.abs(flat[-1] - other[-1]).max() > 1e-5  # (early: the fields have barely moved)
