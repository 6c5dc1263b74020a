"""Errors-in-variables on the windows' starting states: the whole-video update beats each window alone."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from operando.inverse import KineticsConfig
from operando.inverse._kinetics import prepare_kinetics
from operando.inverse._kinetics_model import state_update, trajectory_update, window_links
from operando.simulate import KineticsPhantomConfig, simulate_kinetics


def test_window_links_join_each_start_to_the_frame_an_earlier_window_predicts():
    assert window_links(np.array([0, 2, 4, 6]), 2) == ((1, 0, 2), (2, 1, 2), (3, 2, 2))
    # the last window is moved back to end on the last frame: it starts one frame into its predecessor
    assert window_links(np.array([0, 2, 4, 5]), 2) == ((1, 0, 2), (2, 1, 2), (3, 2, 1))
    assert window_links(np.array([0]), 2) == ()


def _true_theta(problem, phantom):
    """The truth in the fit's bases (mu_h and j0 exactly; ln k projected on the rate modes)."""
    spec, s = problem.spec, problem.spec.slices
    theta = np.zeros(spec.n_params)
    theta[s["a"].start] = -phantom.config.omega
    theta[s["b"].start: s["b"].start + 3] = [math.log(phantom.config.j0_scale), 0.5, 1.0]
    theta[s["log_kappa"].start] = math.log(phantom.config.kappa)
    inside = spec.labels > 0
    log_k = problem.packing.pack(np.nan_to_num(phantom.log_k), fill=0.0)[inside]
    modes = spec.modes.reshape(spec.n_k, -1)[:, inside.ravel()].T
    theta[s["g"]] = np.linalg.lstsq(modes, log_k - log_k.mean(), rcond=None)[0]
    return jnp.asarray(theta, jnp.float32)


@pytest.mark.parametrize("direction", [(0.05, 0.6), pytest.param((0.95, 0.4), marks=pytest.mark.slow)])
def test_the_whole_video_update_brings_noisy_starts_closer_to_the_truth(direction):
    phantom = simulate_kinetics(KineticsPhantomConfig(size=48, particles=2, frames=11, c_start=direction[0],
                                                      c_end=direction[1], duration=2.0, seed=3))
    noisy = phantom.noisy(0.05, rng=1)
    problem = prepare_kinetics(phantom.stack(noisy), KineticsConfig(frame_interval=phantom.frame_interval), sd=0.05,
                               labels=phantom.labels)
    inside = problem.spec.labels > 0
    truth = problem.packing.pack(phantom.video)[problem.window_starts][:, inside]

    def error(states):
        return float(np.sqrt(np.mean((np.asarray(states)[:, inside] - truth) ** 2)))

    theta = _true_theta(problem, phantom)
    args = [jnp.asarray(a) for a in (problem.observed, problem.start_weights, problem.targets, problem.weights,
                                     problem.drives)]
    alone = state_update(problem.spec)(theta, jnp.asarray(problem.starts), *args)
    update = trajectory_update(problem.spec, window_links(problem.window_starts, problem.spec.horizon), 10.0)
    together = update(theta, jnp.asarray(problem.starts), *args)
    raw = error(problem.starts)
    print(f"start error: raw {raw:.4f}, each window alone {error(alone):.4f}, the whole video {error(together):.4f}")
    # measured (seed 3, 2 particles): raw 0.047, each window alone ~0.033, the whole video ~0.02
    assert error(alone) < 0.85 * raw
    assert error(together) < 0.8 * error(alone)
    assert np.all(np.isfinite(np.asarray(together)))

