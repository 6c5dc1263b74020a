from pathlib import Path

import pytest

STEPWEDGE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "neutron" / "stepwedge"


@pytest.fixture(scope="session")
def small_phantom():
    """A 48 x 64 cell phantom, 2 cycles of 6 frames per half-cycle (28 frames), simulated once."""
    from operando.neutron import simulate_neutron_phantom

    return simulate_neutron_phantom(rng=3, ny=48, nx=64, n_cycles=2, frames_per_half_cycle=6)


@pytest.fixture(scope="session")
def stepwedge():
    if not STEPWEDGE.is_dir():
        pytest.skip("shared step-wedge data not found")
    return STEPWEDGE
