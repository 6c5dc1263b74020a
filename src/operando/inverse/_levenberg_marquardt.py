"""A small Levenberg-Marquardt loop (Marquardt scaling, Broyden updates, NaN-safe steps, wall-clock deadline)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._progress import Progress, check_cancel, emit

logger = logging.getLogger(__name__)

PRECISION_FLOOR = 1e-4  # relative cost gain below which a failed exact step ends the fit


@dataclass(frozen=True)
class LMResult:
    """Outcome of a least-squares fit.

    ``jacobian`` is evaluated exactly at ``theta`` (never a Broyden estimate), so ``jtj`` is the Gauss-Newton
    information matrix there; ``jacobian_evaluations`` and ``residual_evaluations`` count the work done.
    """

    theta: np.ndarray
    cost: float
    jacobian: np.ndarray
    residual: np.ndarray
    n_residuals: int
    iterations: int
    converged: bool
    reason: str
    jacobian_evaluations: int = 0
    residual_evaluations: int = 0

    @property
    def jtj(self) -> np.ndarray:
        """J^T J at the solution."""
        return self.jacobian.T @ self.jacobian


def levenberg_marquardt(
    residual: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], np.ndarray],
    theta0: np.ndarray,
    *,
    penalty: np.ndarray | None = None,
    max_iter: int = 30,
    xtol: float = 1e-5,
    ftol: float = 1e-7,
    deadline: float | None = None,
    damping: float = 1e-3,
    broyden: bool = True,
    refresh_every: int = 4,
    progress: Progress | None = None,
) -> LMResult:
    """Minimise ||r(theta)||^2 + sum(penalty * theta^2).

    With ``broyden`` the Jacobian is evaluated exactly only at the start, every ``refresh_every`` accepted
    steps, after a rejected step, before declaring convergence and at the solution; in between it is
    updated with Broyden's rank-one formula from the residual change. An exact forward-mode Jacobian costs
    about (1 + P) residual evaluations, so this cuts a fit of P parameters by several times while the
    convergence test and the returned Jacobian stay exact. Trial steps that give NaN or a higher cost are
    rejected and the damping raised; ``deadline`` (a ``time.perf_counter`` value) stops the loop after the
    current iteration. ``progress`` receives a :class:`~operando.ProgressEvent` per iteration (``step``: the
    iteration, ``fields["cost"]``) and is called before every residual and Jacobian evaluation, so a
    :class:`~operando.Cancelled` raised by it stops the fit within one evaluation.
    """
    problem = _Counted(residual, jacobian, np.zeros(np.size(theta0)) if penalty is None else np.asarray(penalty, float),
                       progress)
    theta = np.asarray(theta0, float).copy()
    r = problem.residual(theta)
    cost = problem.cost(r, theta)
    if not np.isfinite(cost):
        raise FloatingPointError("the starting parameters give a non-finite residual")
    s = _Iterate(theta=theta, r=r, cost=cost, jac=problem.jacobian(theta), exact=True, since_refresh=0, lam=damping)
    reason, converged, it = "max_iter", False, 0
    while it < max_iter:
        emit(progress, it / max_iter, f"iteration {it + 1}/{max_iter}", step=it + 1, cost=s.cost)
        it += 1
        found = _Search()
        while True:
            _search_step(s, found, problem, it, xtol, ftol)
            if found.accepted or s.exact:
                break
            s.jac, s.exact, s.since_refresh = problem.jacobian(s.theta), True, 0
        if found.tiny and (not found.rejected or it > 1):  # nothing left to gain from an exact Jacobian
            reason, converged = ("precision_floor" if found.floor else "xtol"), True
            break
        if not found.accepted:
            # no step lowers the cost: a minimum if we moved before, else the data carry too little signal
            reason, converged = ("no_decrease", True) if it > 1 else ("no_progress", False)
            if it == 1:
                logger.warning("no Levenberg-Marquardt step lowered the cost: the fit stays at its start")
            break
        # (a step within xtol never gets here: the search above ends on it as converged or refreshes first)
        rel_cost = (s.cost - found.cost_trial) / max(s.cost, 1e-300)
        step_was_exact = s.exact
        _take_step(s, found, broyden, it)
        if rel_cost < ftol:
            if step_was_exact or not broyden:
                reason, converged = "ftol", True
                break
            s.since_refresh = refresh_every  # converged on an estimate: refresh and confirm with an exact step
        if deadline is not None and time.perf_counter() > deadline:
            reason = "time_budget"
            break
        if not broyden or s.since_refresh >= refresh_every:
            s.jac, s.exact, s.since_refresh = problem.jacobian(s.theta), True, 0
    if not s.exact:
        s.jac = problem.jacobian(s.theta)
    return LMResult(theta=s.theta, cost=s.cost, jacobian=s.jac, residual=s.r, n_residuals=int(s.r.size),
                    iterations=it, converged=converged, reason=reason, jacobian_evaluations=problem.jacobians,
                    residual_evaluations=problem.residuals)


class _Counted:
    """The residual, its Jacobian and the penalised cost, counting evaluations."""

    def __init__(self, residual: Callable[[np.ndarray], np.ndarray], jacobian: Callable[[np.ndarray], np.ndarray],
                 penalty: np.ndarray, progress: Progress | None = None) -> None:
        self._residual, self._jacobian, self.penalty, self.progress = residual, jacobian, penalty, progress
        self.residuals = self.jacobians = 0

    def residual(self, theta: np.ndarray) -> np.ndarray:
        """Evaluate the residual (as float64); the caller may cancel first."""
        check_cancel(self.progress)
        self.residuals += 1
        return np.asarray(self._residual(theta), float)

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """Evaluate the exact Jacobian (as float64); the caller may cancel first."""
        check_cancel(self.progress)
        self.jacobians += 1
        return np.asarray(self._jacobian(theta), float)

    def cost(self, r: np.ndarray, theta: np.ndarray) -> float:
        """Return ||r||^2 + sum(penalty * theta^2)."""
        return float(r @ r + np.sum(self.penalty * theta * theta))


@dataclass
class _Iterate:
    """The loop's state: the point, its residual and cost, the Jacobian (exact or a Broyden estimate), the damping."""

    theta: np.ndarray
    r: np.ndarray
    cost: float
    jac: np.ndarray
    exact: bool  # is jac the exact Jacobian at theta?
    since_refresh: int
    lam: float


@dataclass
class _Search:
    """What the damped-step searches of one iteration found (flags accumulate over Jacobian refreshes)."""

    accepted: bool = False
    tiny: bool = False
    rejected: bool = False
    floor: bool = False
    delta: np.ndarray | None = None
    trial: np.ndarray | None = None
    r_trial: np.ndarray | None = None
    cost_trial: float = np.inf


def _search_step(s: _Iterate, found: _Search, problem: _Counted, it: int, xtol: float, ftol: float) -> None:
    """Raise the damping until a step lowers the cost, is negligible, or an estimated Jacobian fails."""
    pen = problem.penalty
    jtj = s.jac.T @ s.jac + np.diag(pen)
    grad = s.jac.T @ s.r + pen * s.theta
    while s.lam < 1e10:
        a = jtj + s.lam * np.diag(np.maximum(np.diag(jtj), 1e-12))
        try:
            delta = -np.linalg.solve(a, grad)
        except np.linalg.LinAlgError:
            s.lam *= 10
            continue
        predicted = -(2 * grad @ delta + delta @ jtj @ delta)  # cost decrease the linear model expects
        if np.linalg.norm(delta) <= xtol * (np.linalg.norm(s.theta) + xtol) or (
                s.exact and predicted <= ftol * s.cost):
            found.tiny = True  # a negligible step or gain: converged, or (after rejections) stuck
            return
        trial = s.theta + delta
        r_trial = problem.residual(trial)
        cost_trial = problem.cost(r_trial, trial) if np.all(np.isfinite(r_trial)) else np.inf
        if cost_trial < s.cost:
            found.accepted = True
            found.delta, found.trial, found.r_trial, found.cost_trial = delta, trial, r_trial, cost_trial
            return
        if not s.exact:
            return  # an estimated Jacobian failed: refresh it before damping harder
        found.rejected = True
        if it > 1 and predicted <= PRECISION_FLOOR * s.cost:
            # an exact step promising almost nothing failed: the gain is below what the residual's
            # precision (float32 solver output) resolves; more damping only shrinks it further
            found.tiny = found.floor = True
            return
        s.lam *= 4


def _take_step(s: _Iterate, found: _Search, broyden: bool, it: int) -> None:
    """Move to the accepted trial point; Broyden-update the Jacobian (or mark it stale) and relax the damping."""
    delta = found.delta
    step_was_exact = s.exact
    if broyden:  # Broyden's rank-one update: the new Jacobian maps delta onto the observed residual change
        s.jac = s.jac + np.outer(found.r_trial - s.r - s.jac @ delta, delta / (delta @ delta))
    s.exact = False  # theta moved: jac is now an estimate (Broyden) or stale
    s.theta, s.r, s.cost = found.trial, found.r_trial, found.cost_trial
    s.since_refresh += 1
    s.lam = max(s.lam / 3, 1e-12)
    logger.info("LM iteration %d: cost %.6g, step %.3g%s", it, s.cost, float(np.linalg.norm(delta)),
                "" if step_was_exact else " (Broyden)")
