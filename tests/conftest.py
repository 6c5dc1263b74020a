import numpy as np
import pytest


@pytest.fixture(scope="session")
def small_video():
    """A 24-frame 32x32 Cahn-Hilliard video (float32, values in (0, 1)), simulated once per session."""
    from operando.simulate import simulate_cahn_hilliard

    return simulate_cahn_hilliard(size=32, n_frames=24, t_end=0.2, rng=0)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
