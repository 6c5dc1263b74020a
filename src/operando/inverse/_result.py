"""The result of a physics inversion: coefficients, uncertainty, how the fit ended, and its JSON document."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._files import write_json_file
from .._provenance import versions
from ._basis import gauge_fix, legendre, log_diffusivity_curve, mobility_curve, mu_h_curve

FIT_STATUSES = ("converged", "did_not_move", "not_converged")


@dataclass(frozen=True)
class InversionResult:
    """Learned constitutive laws with their uncertainty.

    Attributes
    ----------
    a, b : ndarray
        Legendre coefficients of the excess mu_h (a_1..a_N) and of ln D (b_0..b_M).
    kappa : float
        Gradient-energy coefficient (fitted or as given).
    covariance : ndarray
        Gauss-Newton covariance of the fitted parameters.
    bootstrap : ndarray, shape (B, P)
        Refitted parameters of each bootstrap resample of windows (empty when B = 0).
    cost : float
        Mean squared residual of the fit.
    iterations : int
        Levenberg-Marquardt iterations of the last fit.
    status : {"converged", "did_not_move", "not_converged"}
        How the fit ended: ``"did_not_move"`` when the coefficients are still the starting guess (the numbers
        then say nothing about the data), ``"not_converged"`` when it stopped on ``max_iter`` or the time
        budget, or when no step lowered the cost. ``settings["stop_reason"]`` holds the solver's reason.
    seconds : float
        Wall-clock time of fit and bootstrap.
    settings : dict
        Everything needed to reproduce the fit: ``settings["config"]`` (the whole
        :class:`~operando.inverse.InversionConfig`) and ``settings["seed"]`` (the concrete seed used), plus
        the values derived from the data (grid spacing, frame interval, window starts, solver step).
    """

    a: np.ndarray
    b: np.ndarray
    kappa: float
    covariance: np.ndarray
    bootstrap: np.ndarray
    cost: float
    iterations: int
    status: str
    seconds: float
    settings: dict = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        """True when the fit converged (``status == "converged"``)."""
        return self.status == "converged"

    @property
    def theta(self) -> np.ndarray:
        """All fitted parameters in one vector (a, b[, log kappa])."""
        extra = [math.log(self.kappa)] if self.settings.get("fit_kappa") else []
        return np.concatenate([self.a, self.b, extra])

    def curves(self, c: np.ndarray | None = None) -> dict[str, object]:
        """mu_h (gauge-fixed at c = 0.5), D and M on a c grid, with std and 2.5/97.5 % bootstrap bands."""
        c = np.linspace(0.05, 0.95, 91) if c is None else np.asarray(c, float)
        n_mu = self.a.size

        def evaluate(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            a, b = theta[:n_mu], theta[n_mu: n_mu + self.b.size]
            mu = gauge_fix(c, mu_h_curve(c, a))
            d = np.exp(log_diffusivity_curve(c, b))
            return mu, d, mobility_curve(c, b)

        mu, d, m = evaluate(self.theta)
        out: dict[str, object] = {"c": c.tolist()}
        # Gauss-Newton (delta-method) standard deviations
        g_mu = np.zeros((c.size, self.theta.size))
        g_mu[:, :n_mu] = legendre(2 * c - 1, n_mu)[:, 1:] - legendre(np.array([0.0]), n_mu)[:, 1:]
        g_ld = np.zeros((c.size, self.theta.size))
        g_ld[:, n_mu: n_mu + self.b.size] = legendre(2 * c - 1, self.b.size - 1)
        sd_mu = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", g_mu, self.covariance, g_mu), 0))
        sd_ld = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", g_ld, self.covariance, g_ld), 0))
        samples = [evaluate(th) for th in self.bootstrap] if len(self.bootstrap) else []
        for key, mean, gn in (("mu_h", mu, sd_mu), ("D", d, d * sd_ld), ("mobility", m, m * sd_ld)):
            entry: dict[str, list[float]] = {"mean": mean.tolist(), "gn_std": gn.tolist()}
            if samples:
                idx = {"mu_h": 0, "D": 1, "mobility": 2}[key]
                stack = np.stack([s[idx] for s in samples])
                entry["std"] = stack.std(axis=0, ddof=1 if len(stack) > 1 else 0).tolist()
                entry["lo"] = np.percentile(stack, 2.5, axis=0).tolist()
                entry["hi"] = np.percentile(stack, 97.5, axis=0).tolist()
            out[key] = entry
        return out

    def to_dict(self) -> dict[str, object]:
        """Return the JSON document: curves, coefficients, settings (config, seed) and the versions that made it."""
        doc = self.curves()
        doc["status"] = self.status
        doc["coefficients"] = {
            "a": self.a.tolist(), "b": self.b.tolist(), "kappa": self.kappa,
            "covariance": self.covariance.tolist(),
            "bootstrap": self.bootstrap.tolist(),
        }
        doc["settings"] = {**self.settings, "cost": self.cost, "iterations": self.iterations,
                           "converged": self.converged, "status": self.status, "seconds": self.seconds,
                           "bootstrap_samples": int(len(self.bootstrap))}
        doc["versions"] = versions()
        return doc

    def save_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON, atomically."""
        return write_json_file(path, self.to_dict(), indent=1)
