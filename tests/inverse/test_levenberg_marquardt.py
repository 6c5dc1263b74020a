import numpy as np
import pytest

from operando.inverse._levenberg_marquardt import levenberg_marquardt


def _decay_problem(noise=0.0, seed=0):
    """y = a exp(-k t) + b: a small nonlinear least-squares problem with a known answer."""
    t = np.linspace(0, 4, 200)
    truth = np.array([2.0, 1.3, 0.5])
    y = truth[0] * np.exp(-truth[1] * t) + truth[2] + noise * np.random.default_rng(seed).standard_normal(t.size)

    def residual(th):
        return th[0] * np.exp(-th[1] * t) + th[2] - y

    def jacobian(th):
        e = np.exp(-th[1] * t)
        return np.stack([e, -th[0] * t * e, np.ones_like(t)], axis=1)

    return residual, jacobian, truth


@pytest.mark.parametrize("broyden", [True, False])
def test_recovers_a_nonlinear_model(broyden):
    residual, jacobian, truth = _decay_problem()
    res = levenberg_marquardt(residual, jacobian, np.array([1.0, 0.5, 0.0]), broyden=broyden, max_iter=100)
    assert res.converged
    np.testing.assert_allclose(res.theta, truth, atol=1e-5)
    np.testing.assert_allclose(res.jacobian, jacobian(res.theta), rtol=1e-3, atol=1e-6)  # exact at the solution


def test_broyden_needs_fewer_jacobians_for_the_same_answer():
    residual, jacobian, _ = _decay_problem(noise=0.05)
    start = np.array([1.0, 0.5, 0.0])
    exact = levenberg_marquardt(residual, jacobian, start, broyden=False, max_iter=100)
    cheap = levenberg_marquardt(residual, jacobian, start, broyden=True, max_iter=100)
    assert exact.converged and cheap.converged
    np.testing.assert_allclose(cheap.theta, exact.theta, atol=1e-4)
    assert cheap.jacobian_evaluations < exact.jacobian_evaluations


def test_fit_that_cannot_move_says_so():
    # a residual no step can lower (a flat plateau): reported as no progress, not convergence
    res = levenberg_marquardt(lambda th: np.ones(3), lambda th: np.ones((3, 1)), np.zeros(1), max_iter=5)
    assert not res.converged and res.reason == "no_progress"


def test_non_finite_start_is_refused():
    with pytest.raises(FloatingPointError, match="non-finite"):
        levenberg_marquardt(lambda th: np.full(3, np.nan), lambda th: np.ones((3, 1)), np.zeros(1))


def test_stops_at_the_residual_precision_instead_of_damping_forever():
    # a residual with evaluation jitter (like float32 solver output): once an exact step that promises almost
    # nothing fails, the fit must stop as converged near the exact answer, not keep raising the damping
    residual, jacobian, _ = _decay_problem(noise=0.05)
    start = np.array([1.0, 0.5, 0.0])
    exact = levenberg_marquardt(residual, jacobian, start, max_iter=100)

    def jittery(th):
        return residual(th) + 1e-4 * np.sin(1e5 * th.sum() + np.arange(200))

    res = levenberg_marquardt(jittery, jacobian, start, max_iter=100, xtol=1e-8)
    assert res.converged and res.reason == "precision_floor"
    assert res.residual_evaluations <= 12
    np.testing.assert_allclose(res.theta, exact.theta, atol=5e-3)
