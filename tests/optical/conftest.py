import pytest


@pytest.fixture(scope="session")
def tiny_phantom():
    """A 96 x 96 phantom with ~15 particles and 8 frames (seconds to render)."""
    from operando.optical import simulate_graphite_phantom

    return simulate_graphite_phantom(shape=(96, 96), n_particles=15, n_frames=8, radius_px=7.0, rng=3)
