from pathlib import Path

import numpy as np
import pytest

STEPWEDGE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "neutron" / "stepwedge"


@pytest.fixture(scope="session")
def small_video():
    """A 24-frame 32x32 Cahn-Hilliard video (float32, values in (0, 1)), simulated once per session."""
    from operando.simulate import simulate_cahn_hilliard

    return simulate_cahn_hilliard(size=32, n_frames=24, t_end=0.2, rng=0)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def small_phantom():
    """A 48 x 64 neutron cell phantom, 2 cycles of 6 frames per half-cycle (28 frames), simulated once."""
    from operando.neutron import simulate_neutron_phantom

    return simulate_neutron_phantom(rng=3, ny=48, nx=64, n_cycles=2, frames_per_half_cycle=6)


@pytest.fixture(scope="session")
def stepwedge():
    """The real neutron step wedge (5 s and 120 s exposures) in ../shared/data."""
    if not STEPWEDGE.is_dir():
        pytest.skip("shared step-wedge data not found")
    return STEPWEDGE


@pytest.fixture(scope="session")
def tiny_phantom():
    """A 96 x 96 optical phantom with ~15 particles and 8 frames (seconds to render)."""
    from operando.optical import simulate_graphite_phantom

    return simulate_graphite_phantom(shape=(96, 96), n_particles=15, n_frames=8, radius_px=7.0, rng=3)


@pytest.fixture(scope="session")
def truth_video():
    """A 32 x 32 x 16 Cahn-Hilliard video with a known D(c), integrated with a 4x finer step than the fits use
    (no inverse crime); shared by tests/inverse/test_learn.py and tests/bench/test_physics_replicates.py."""
    import jax.numpy as jnp

    from operando.simulate import simulate_cahn_hilliard
    from tests.scenes import CH_TRUTH_SLOPE

    def mobility(c):
        c = jnp.clip(c, 0.0, 1.0)
        return jnp.exp(CH_TRUTH_SLOPE * (2 * c - 1)) * c * (1 - c)

    return simulate_cahn_hilliard(size=32, n_frames=16, t_end=0.2, dt=1e-5, mobility=mobility, rng=0)
