"""A small Levenberg-Marquardt loop (Marquardt scaling, Broyden updates, NaN-safe steps, wall-clock deadline)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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
) -> LMResult:
    """Minimise ||r(theta)||^2 + sum(penalty * theta^2).

    With ``broyden`` the Jacobian is evaluated exactly only at the start, every ``refresh_every`` accepted
    steps, after a rejected step, before declaring convergence and at the solution; in between it is
    updated with Broyden's rank-one formula from the residual change. An exact forward-mode Jacobian costs
    about (1 + P) residual evaluations, so this cuts a fit of P parameters by several times while the
    convergence test and the returned Jacobian stay exact. Trial steps that give NaN or a higher cost are
    rejected and the damping raised; ``deadline`` (a ``time.perf_counter`` value) stops the loop after the
    current iteration.
    """
    theta = np.asarray(theta0, float).copy()
    pen = np.zeros_like(theta) if penalty is None else np.asarray(penalty, float)
    counts = {"jac": 0, "res": 0}

    def cost_of(r: np.ndarray, th: np.ndarray) -> float:
        return float(r @ r + np.sum(pen * th * th))

    def eval_residual(th: np.ndarray) -> np.ndarray:
        counts["res"] += 1
        return np.asarray(residual(th), float)

    def eval_jacobian(th: np.ndarray) -> np.ndarray:
        counts["jac"] += 1
        return np.asarray(jacobian(th), float)

    r = eval_residual(theta)
    cost = cost_of(r, theta)
    if not np.isfinite(cost):
        raise FloatingPointError("the starting parameters give a non-finite residual")
    jac = eval_jacobian(theta)
    exact = True  # is jac the exact Jacobian at theta?
    since_refresh = 0
    lam = damping
    reason = "max_iter"
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        accepted = tiny = rejected = floor = False
        while True:
            jtj = jac.T @ jac + np.diag(pen)
            grad = jac.T @ r + pen * theta
            while lam < 1e10:
                a = jtj + lam * np.diag(np.maximum(np.diag(jtj), 1e-12))
                try:
                    delta = -np.linalg.solve(a, grad)
                except np.linalg.LinAlgError:
                    lam *= 10
                    continue
                predicted = -(2 * grad @ delta + delta @ jtj @ delta)  # cost decrease the linear model expects
                if np.linalg.norm(delta) <= xtol * (np.linalg.norm(theta) + xtol) or (
                        exact and predicted <= ftol * cost):
                    tiny = True  # a negligible step or gain: converged, or (after rejections) stuck
                    break
                trial = theta + delta
                r_trial = eval_residual(trial)
                cost_trial = cost_of(r_trial, trial) if np.all(np.isfinite(r_trial)) else np.inf
                if cost_trial < cost:
                    accepted = True
                    break
                if not exact:
                    break  # an estimated Jacobian failed: refresh it before damping harder
                rejected = True
                if it > 1 and predicted <= PRECISION_FLOOR * cost:
                    # an exact step promising almost nothing failed: the gain is below what the residual's
                    # precision (float32 solver output) resolves; more damping only shrinks it further
                    tiny = floor = True
                    break
                lam *= 4
            if accepted or exact:
                break
            jac, exact, since_refresh = eval_jacobian(theta), True, 0
        if tiny and (not rejected or it > 1):  # nothing left to gain from an exact Jacobian: converged
            reason, converged = ("precision_floor" if floor else "xtol"), True
            break
        if not accepted:
            # no step lowers the cost: a minimum if we moved before, else the data carry too little signal
            reason, converged = ("no_decrease", True) if it > 1 else ("no_progress", False)
            if it == 1:
                logger.warning("no Levenberg-Marquardt step lowered the cost: the fit stays at its start")
            break
        # (a step within xtol never gets here: the search above ends on it as converged or refreshes first)
        rel_cost = (cost - cost_trial) / max(cost, 1e-300)
        step_was_exact = exact
        if broyden:  # Broyden's rank-one update: the new Jacobian maps delta onto the observed residual change
            jac = jac + np.outer(r_trial - r - jac @ delta, delta / (delta @ delta))
        exact = False  # theta moved: jac is now an estimate (Broyden) or stale
        theta, r, cost = trial, r_trial, cost_trial
        since_refresh += 1
        lam = max(lam / 3, 1e-12)
        logger.info("LM iteration %d: cost %.6g, step %.3g%s", it, cost, float(np.linalg.norm(delta)),
                    "" if step_was_exact else " (Broyden)")
        if rel_cost < ftol:
            if step_was_exact or not broyden:
                reason, converged = "ftol", True
                break
            since_refresh = refresh_every  # converged on an estimate: refresh and confirm with an exact step
        if deadline is not None and time.perf_counter() > deadline:
            reason = "time_budget"
            break
        if not broyden or since_refresh >= refresh_every:
            jac, exact, since_refresh = eval_jacobian(theta), True, 0
    if not exact:
        jac = eval_jacobian(theta)
    return LMResult(theta=theta, cost=cost, jacobian=jac, residual=r, n_residuals=int(r.size), iterations=it,
                    converged=converged, reason=reason, jacobian_evaluations=counts["jac"],
                    residual_evaluations=counts["res"])
