"""learn_kinetics's inputs: where the windows start from."""

import numpy as np
import pytest

from operando import InputError
from operando.inverse import KineticsConfig, learn_kinetics
from operando.simulate import KineticsPhantomConfig, simulate_kinetics


@pytest.fixture(scope="module")
def small():
    return simulate_kinetics(KineticsPhantomConfig(size=64, particles=2, frames=10, c_end=0.5, duration=2.0, seed=3))


def test_windows_can_start_from_another_copy_of_the_video(small):
    config = KineticsConfig(k_modes=6, n_mu=2, max_iter=3, compare_models=False)
    own = learn_kinetics(small.stack(), config, rng=0)
    same = learn_kinetics(small.stack(), config, starts_from=small.video, rng=0)
    np.testing.assert_array_equal(own.theta, same.theta)
    shifted = learn_kinetics(small.stack(), config, starts_from=np.clip(small.video + 0.05, 0, 1), rng=0)
    assert not np.array_equal(own.theta, shifted.theta)
    with pytest.raises(InputError, match="starts_from"):
        learn_kinetics(small.stack(), config, starts_from=small.video[:-1])
