import numpy as np
import pytest

from operando import InputError
from operando.simulate import free_energy, simulate_cahn_hilliard


def test_defaults_separate_phases_and_conserve_mass(small_video):
    v = small_video.to_numpy().astype(np.float64)
    assert small_video.axes == "TYX" and v.shape == (24, 32, 32)
    assert v[0].std() == pytest.approx(0.01, rel=0.2)
    assert v[-1].std() > 0.25  # spinodal decomposition into c ~ 0.07 / 0.93
    means = v.reshape(len(v), -1).mean(axis=1)
    assert np.max(np.abs(means - means[0])) / means[0] < 1e-6


def test_late_frames_sit_near_the_binodals(small_video):
    last = small_video.to_numpy()[-1]
    low, high = np.percentile(last, [5, 95])
    assert 0.04 < low < 0.15 and 0.85 < high < 0.96  # binodal of Omega = 3 is 0.0707 / 0.9293


def test_free_energy_never_increases(small_video):
    energies = [free_energy(f) for f in small_video.to_numpy()]
    assert np.all(np.diff(energies) <= 1e-7)


def test_seed_reproduces_and_differs():
    a = simulate_cahn_hilliard(size=16, n_frames=3, t_end=0.01, rng=3).to_numpy()
    b = simulate_cahn_hilliard(size=16, n_frames=3, t_end=0.01, rng=3).to_numpy()
    c = simulate_cahn_hilliard(size=16, n_frames=3, t_end=0.01, rng=4).to_numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_the_seed_used_is_recorded_and_repeats_the_run():
    first = simulate_cahn_hilliard(size=16, n_frames=3, t_end=0.01)  # no seed: one is drawn and recorded
    seed = first.metadata.extra["simulation"]["seed"]
    assert isinstance(seed, int)
    again = simulate_cahn_hilliard(size=16, n_frames=3, t_end=0.01, rng=seed)
    np.testing.assert_array_equal(first.to_numpy(), again.to_numpy())


def test_frame_times_and_settings_recorded():
    s = simulate_cahn_hilliard(size=16, n_frames=5, t_end=0.04, rng=0)
    assert s.metadata.frame_times == pytest.approx((0, 0.01, 0.02, 0.03, 0.04))
    assert s.metadata.extra["simulation"]["kappa"] == 0.002


def test_constant_current_reaction_fills_at_the_imposed_rate():
    current = 0.5
    s = simulate_cahn_hilliard(size=32, n_frames=5, t_end=0.2, mean=0.3, current=current, rng=0)
    means = s.to_numpy().reshape(5, -1).astype(np.float64).mean(axis=1)
    np.testing.assert_allclose(np.diff(means), current * 0.05, rtol=5e-3)


def test_custom_constitutive_laws():
    import jax.numpy as jnp

    # a single-phase (Omega = 1) system only smooths its initial noise
    s = simulate_cahn_hilliard(size=16, n_frames=3, t_end=0.05, mu_h=lambda c: jnp.log(c / (1 - c)) + (1 - 2 * c),
                               mobility=lambda c: 0.5 * jnp.ones_like(c), rng=0)
    v = s.to_numpy()
    assert v[-1].std() < v[0].std()


def test_finer_time_step_converges():
    coarse = simulate_cahn_hilliard(size=32, n_frames=2, t_end=0.06, dt=8e-5, rng=1).to_numpy()[-1]
    fine = simulate_cahn_hilliard(size=32, n_frames=2, t_end=0.06, dt=2e-5, rng=1).to_numpy()[-1]
    finest = simulate_cahn_hilliard(size=32, n_frames=2, t_end=0.06, dt=5e-6, rng=1).to_numpy()[-1]
    err_coarse = np.sqrt(np.mean((coarse - finest) ** 2))
    err_fine = np.sqrt(np.mean((fine - finest) ** 2))
    assert err_fine < err_coarse / 2.5  # first order: 4x smaller step, ~4x (>2.5x) smaller error


def test_bad_arguments():
    with pytest.raises(InputError, match="n_frames"):
        simulate_cahn_hilliard(n_frames=1)
    with pytest.raises(InputError, match="size"):
        simulate_cahn_hilliard(size=4)
