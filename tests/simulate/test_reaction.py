"""The reaction-driven phase field on bounded particles: mass, no flux, convergence, the phantom."""

import numpy as np
import pytest

from operando import InputError
from operando.simulate import (
    KineticsPhantomConfig,
    ReactionLaws,
    integrate_particles,
    particle_grid,
    rate_of_change,
    simulate_kinetics,
)


def _two_particles(size=40):
    labels = np.zeros((size, size), np.int32)
    yy, xx = np.mgrid[:size, :size]
    labels[(yy - 12) ** 2 + (xx - 12) ** 2 < 64] = 1
    labels[(yy - 27) ** 2 / 2 + (xx - 27) ** 2 < 60] = 2
    return labels


def _laws(labels, model="acr", omega=4.5):
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    return ReactionLaws(mu_h=lambda c: jnp.log(c / (1 - c)) + omega * (1 - 2 * c),
                        j0=lambda c: jnp.sqrt(c) * (1 - c), kappa=1.5,
                        log_k=np.where(labels > 0, 0.3 * rng.standard_normal(labels.shape), 0.0),
                        mobility=(lambda c: 0.5 * c * (1 - c)) if model == "chr" else None)


@pytest.mark.parametrize("model", ["acr", "chr"])
def test_each_particle_mean_changes_by_its_current_to_round_off(model):
    labels = _two_particles()
    grid = particle_grid(labels)
    rng = np.random.default_rng(1)
    c0 = np.where(labels > 0, 0.2 + 0.05 * rng.standard_normal(labels.shape), 0.5).astype(np.float32)
    currents = np.array([[0.2, -0.1]] * 5, np.float32)
    frames = np.asarray(integrate_particles(c0, _laws(labels, model), grid, drive=currents, steps_per_frame=6,
                                            dt=0.02))
    for p, current in zip((1, 2), currents[0], strict=True):
        means = np.array([c0[labels == p].mean(dtype=np.float64)] + [f[labels == p].mean(dtype=np.float64)
                                                                      for f in frames])
        np.testing.assert_allclose(np.diff(means), current * 6 * 0.02, atol=2e-6)
    assert np.array_equal(frames[:, labels == 0], np.broadcast_to(c0[labels == 0], frames[:, labels == 0].shape))


def test_no_flux_leaves_the_particle_and_chr_conserves_mass_at_zero_current():
    labels = _two_particles()
    grid = particle_grid(labels)
    rng = np.random.default_rng(2)
    c0 = np.where(labels > 0, 0.5 + 0.2 * rng.standard_normal(labels.shape).clip(-2, 2), 0.5).astype(np.float32)
    frames = np.asarray(integrate_particles(c0, _laws(labels, "chr"), grid, drive=np.zeros((4, 2), np.float32),
                                            steps_per_frame=8, dt=0.01))
    for p in (1, 2):
        assert abs(frames[-1][labels == p].mean() - c0[labels == p].mean()) < 1e-5
    assert frames[-1][labels > 0].std() != pytest.approx(c0[labels > 0].std())  # it did evolve


def test_potentiostatic_low_electrode_potential_lithiates():
    labels = _two_particles()
    c = np.where(labels > 0, 0.3, 0.5).astype(np.float32)
    rate = np.asarray(rate_of_change(c, _laws(labels), particle_grid(labels), mu_e=3.0))
    assert (rate[labels > 0] > 0).all() and (rate[labels == 0] == 0).all()


def test_ros2_is_second_order_in_time():
    labels = _two_particles()
    grid = particle_grid(labels)
    rng = np.random.default_rng(3)
    c0 = np.where(labels > 0, 0.3 + 0.05 * rng.standard_normal(labels.shape), 0.5)
    laws, drive = _laws(labels), np.full((1, 2), 0.3)
    import jax

    with jax.enable_x64(True):
        ref = np.asarray(integrate_particles(c0, laws, grid, drive=drive, steps_per_frame=256, dt=0.2 / 256))[-1]
        errors = [np.abs(np.asarray(integrate_particles(c0, laws, grid, drive=drive, steps_per_frame=n,
                                                        dt=0.2 / n))[-1] - ref).max() for n in (4, 8, 16)]
    assert errors[0] / errors[1] > 3 and errors[1] / errors[2] > 3, errors


def test_particle_grid_refuses_an_empty_or_gapped_label_image():
    with pytest.raises(InputError, match="no particle"):
        particle_grid(np.zeros((8, 8), np.int32))
    gapped = np.zeros((8, 8), np.int32)
    gapped[1, 1], gapped[5, 5] = 1, 3
    with pytest.raises(InputError, match="without gaps"):
        particle_grid(gapped)


def test_the_kinetics_phantom_has_what_the_issue_asks():
    phantom = simulate_kinetics(KineticsPhantomConfig(frames=8, duration=0.8, c_end=0.25))
    labels = phantom.labels
    assert labels.max() == 4 and phantom.video.shape == (8, 96, 96)
    for p in range(1, 5):
        ys, xs = np.nonzero(labels == p)
        across = max(np.ptp(ys), np.ptp(xs)) + 1
        assert 19 <= across <= 36, across
    k = np.exp(phantom.log_k[labels > 0])
    assert k.mean() == pytest.approx(1.0, abs=1e-9)
    assert np.log(k).std() == pytest.approx(0.3, abs=0.01)
    assert np.isnan(phantom.video[:, labels == 0]).all()
    means = np.nanmean(np.where(labels > 0, phantom.video, np.nan), axis=(1, 2))
    np.testing.assert_allclose(np.diff(means), (0.25 - 0.05) / 7, atol=1e-6)
    assert phantom.mu_h(np.array([0.5]))[0] == pytest.approx(0.0)
