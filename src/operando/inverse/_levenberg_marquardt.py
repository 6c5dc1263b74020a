"""A small Levenberg-Marquardt loop (Marquardt scaling, NaN-safe trial steps, wall-clock deadline)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LMResult:
    """Outcome of a least-squares fit."""

    theta: np.ndarray
    cost: float
    jtj: np.ndarray
    n_residuals: int
    iterations: int
    converged: bool
    reason: str


def levenberg_marquardt(
    residual: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], np.ndarray],
    theta0: np.ndarray,
    *,
    penalty: np.ndarray | None = None,
    max_iter: int = 30,
    xtol: float = 1e-6,
    ftol: float = 1e-10,
    deadline: float | None = None,
    damping: float = 1e-3,
) -> LMResult:
    """Minimise ||r(theta)||^2 + sum(penalty * theta^2).

    Trial steps that give NaN or a higher cost are rejected and the damping raised; ``deadline``
    (a ``time.perf_counter`` value) stops the loop after the current iteration.
    """
    theta = np.asarray(theta0, float).copy()
    pen = np.zeros_like(theta) if penalty is None else np.asarray(penalty, float)

    def cost_of(r: np.ndarray, th: np.ndarray) -> float:
        return float(r @ r + np.sum(pen * th * th))

    r = np.asarray(residual(theta), float)
    cost = cost_of(r, theta)
    if not np.isfinite(cost):
        raise FloatingPointError("the starting parameters give a non-finite residual")
    jac = np.asarray(jacobian(theta), float)
    lam = damping
    reason = "max_iter"
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        jtj = jac.T @ jac + np.diag(pen)
        grad = jac.T @ r + pen * theta
        accepted = False
        while lam < 1e10:
            a = jtj + lam * np.diag(np.maximum(np.diag(jtj), 1e-12))
            try:
                delta = -np.linalg.solve(a, grad)
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            trial = theta + delta
            r_trial = np.asarray(residual(trial), float)
            cost_trial = cost_of(r_trial, trial) if np.all(np.isfinite(r_trial)) else np.inf
            if cost_trial < cost:
                accepted = True
                break
            lam *= 4
        if not accepted:
            # no step lowers the cost: a minimum if we moved before, else the data carry too little signal
            reason, converged = ("no_decrease", True) if it > 1 else ("no_progress", False)
            if it == 1:
                logger.warning("no Levenberg-Marquardt step lowered the cost: the fit stays at its start")
            break
        rel_cost = (cost - cost_trial) / max(cost, 1e-300)
        small_step = np.linalg.norm(delta) <= xtol * (np.linalg.norm(theta) + xtol)
        theta, r, cost = trial, r_trial, cost_trial
        lam = max(lam / 3, 1e-12)
        logger.info("LM iteration %d: cost %.6g, step %.3g", it, cost, float(np.linalg.norm(delta)))
        if small_step or rel_cost < ftol:
            reason, converged = ("xtol" if small_step else "ftol"), True
            jac = np.asarray(jacobian(theta), float)
            break
        if deadline is not None and time.perf_counter() > deadline:
            reason = "time_budget"
            jac = np.asarray(jacobian(theta), float)
            break
        jac = np.asarray(jacobian(theta), float)
    return LMResult(theta=theta, cost=cost, jtj=jac.T @ jac, n_residuals=int(r.size), iterations=it,
                    converged=converged, reason=reason)
