"""The outcome of :func:`learn_kinetics`: curves with bands, the rate map, fit quality and model comparisons."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._basis import legendre
from ._kinetics_model import log_j0_basis, symmetry_contrasts

N_GRID = 81


@dataclass(frozen=True, eq=False)
class KineticsResult:
    """Learned kinetics, in the gauges mu_h(0.5) = 0 and mean k = 1 over the particle pixels.

    Attributes
    ----------
    c : ndarray
        Composition grid on [0.1, 0.9] where the curves are given.
    mu_h, mu_h_band : ndarray
        mu_h(c) in kT and its 95 % band, shape (2, N) (lower, upper).
    j0, j0_band : ndarray
        j0(c) in the video's rate unit (1 / time unit) and its 95 % band.
    kappa, kappa_band : float, (float, float)
        Gradient energy, kT px^2.
    k_map : ndarray, float32, shape (Y, X)
        The rate map, NaN outside the particles, mean 1 inside.
    predicted : ndarray, float32, shape (T, Y, X)
        The fitted model's prediction of each frame a window predicts (NaN elsewhere).
    residual_over_sigma : float
        Root-mean-square of (prediction - observation) / sd (NaN when no sd was given).
    status, reason : str
        ``converged``, ``did_not_move`` or ``not_converged``, and the fit's stop reason.
    comparison : dict
        ``symmetric_j0`` (Wald test of j0's asymmetric terms) and ``uniform_k`` (the k = 1 refit).
    settings : dict
        Configuration, seed, windows, currents, timings.
    diffusivity, diffusivity_band : ndarray or None
        CHR only: D(c) of the mobility M(c) = D(c) c (1 - c), px^2 per time unit, and its 95 % band (ln D is
        linear in its Legendre coefficients, so the band is the Gauss-Newton covariance's, exactly).
    """

    c: np.ndarray
    mu_h: np.ndarray
    mu_h_band: np.ndarray
    j0: np.ndarray
    j0_band: np.ndarray
    kappa: float
    kappa_band: tuple[float, float]
    k_map: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    predicted: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0, 0)))
    residual_over_sigma: float = math.nan
    status: str = "not_converged"
    reason: str = ""
    comparison: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    theta: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    covariance: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)
    diffusivity: np.ndarray | None = None
    diffusivity_band: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data (the k map is written separately, as ``k.tif``)."""
        return {
            "c": self.c.tolist(), "mu_h": self.mu_h.tolist(), "mu_h_band": self.mu_h_band.tolist(),
            "j0": self.j0.tolist(), "j0_band": self.j0_band.tolist(), "kappa": self.kappa,
            "kappa_band": list(self.kappa_band), "residual_over_sigma": self.residual_over_sigma,
            "status": self.status, "reason": self.reason, "comparison": self.comparison,
            "units": {"mu_h": "kT", "j0": "1/time unit of the video", "kappa": "kT px^2", "k": "1 (mean 1)"},
            "gauges": "mu_h(0.5) = 0; mean k over the particle pixels = 1", **self.settings,
            **({"D": self.diffusivity.tolist(), "D_band": self.diffusivity_band.tolist(),
                "D_units": "px^2 / time unit of the video; M(c) = D(c) c (1 - c)"}
               if self.diffusivity is not None else {}),
        }


def curves(spec, theta: np.ndarray, c: np.ndarray, log_mean_k: float) -> tuple[np.ndarray, np.ndarray]:
    """mu_h (gauge mu_h(0.5) = 0) and j0 (gauge mean k = 1) of ``theta`` on ``c``."""
    s = spec.slices
    x = 2 * c - 1
    a, b = theta[s["a"]], theta[s["b"]]
    mu = np.log(c / (1 - c)) + legendre(x, spec.n_mu, np)[:, 1:] @ a
    mu0 = legendre(np.zeros(1), spec.n_mu, np)[:, 1:] @ a
    j0 = np.exp(log_j0_basis(c, spec.n_j0, np) @ b + log_mean_k)
    return mu - mu0, j0


def diffusivity_curve(spec, theta: np.ndarray, covariance: np.ndarray, c: np.ndarray):
    """CHR: D(c) and its 95 % band from the Gauss-Newton covariance of the ln D coefficients (None with ACR)."""
    if not spec.n_d:
        return None, None
    d = spec.slices["d"]
    basis = legendre(2 * c - 1, spec.n_d - 1, np)
    log_d = basis @ theta[d]
    sd = np.sqrt(np.maximum(np.einsum("ip,pq,iq->i", basis, np.nan_to_num(covariance[d, d]), basis), 0))
    return np.exp(log_d), np.stack([np.exp(log_d - 1.96 * sd), np.exp(log_d + 1.96 * sd)])


def _log_mean_k(spec, theta: np.ndarray) -> tuple[float, np.ndarray]:
    g = np.tensordot(theta[spec.slices["g"]], spec.modes, axes=1) if spec.n_k else np.zeros(spec.labels.shape)
    inside = spec.labels > 0
    shift = float(np.log(np.mean(np.exp(g[inside]))))
    return shift, g - shift


def _bands(spec, main, samples: np.ndarray, covariance: np.ndarray, c: np.ndarray):
    """95 % bands of mu_h, j0 and kappa: bootstrap percentiles with >= 10 samples, else the delta method."""
    def evaluate(theta):
        mu, j0 = curves(spec, theta, c, _log_mean_k(spec, theta)[0])
        kappa = math.exp(theta[spec.slices["log_kappa"]][0]) if spec.fit_kappa else spec.kappa
        return mu, j0, kappa

    if len(samples) >= 10:
        values = [evaluate(t) for t in samples]
        mus, j0s = np.array([v[0] for v in values]), np.array([v[1] for v in values])
        kap = np.array([v[2] for v in values])
        return (np.percentile(mus, [2.5, 97.5], axis=0), np.percentile(j0s, [2.5, 97.5], axis=0),
                tuple(np.percentile(kap, [2.5, 97.5]).tolist()))
    mu, j0, kappa = evaluate(main.theta)
    eps = 1e-4
    grads = []
    for i in range(main.theta.size):  # finite differences: cheap, the curves are closed-form in theta
        t = main.theta.copy()
        t[i] += eps
        m2, j2, k2 = evaluate(t)
        grads.append(np.concatenate([(m2 - mu) / eps, (np.log(j2) - np.log(j0)) / eps, [(k2 - kappa) / eps]]))
    g = np.asarray(grads).T
    var = np.einsum("ip,pq,iq->i", g, np.nan_to_num(covariance), g)
    sd = np.sqrt(np.maximum(var, 0))
    n = c.size
    return (np.stack([mu - 1.96 * sd[:n], mu + 1.96 * sd[:n]]),
            np.stack([j0 * np.exp(-1.96 * sd[n:2 * n]), j0 * np.exp(1.96 * sd[n:2 * n])]),
            (kappa - 1.96 * sd[-1], kappa + 1.96 * sd[-1]))


def _comparison(spec, main, uniform, covariance: np.ndarray, chi2_scale: float) -> dict[str, Any]:
    from scipy.stats import chi2

    out: dict[str, Any] = {}
    if spec.n_j0 >= 3:
        sb = spec.slices["b"]
        contrasts = symmetry_contrasts(spec.n_j0)
        value = contrasts @ main.theta[sb]
        try:
            wald = float(value @ np.linalg.solve(contrasts @ covariance[sb, sb] @ contrasts.T, value))
        except np.linalg.LinAlgError:
            wald = math.nan
        p = float(chi2.sf(wald, len(contrasts))) if math.isfinite(wald) else math.nan
        out["symmetric_j0"] = {"test": "Wald test of j0(c) = j0(1 - c): equal powers of c and 1 - c, no odd "
                               "Legendre terms", "statistic": wald, "dof": int(len(contrasts)), "p_value": p,
                               "excluded": bool(p < 0.01),
                               "powers": [float(main.theta[sb][1]), float(main.theta[sb][2])]}
    if uniform is not None:
        delta = (uniform.cost - main.cost) / max(chi2_scale, 1e-300)
        p = float(chi2.sf(delta, spec.n_k))
        n = main.n_residuals
        out["uniform_k"] = {
            "test": "chi-square of the k = 1 refit against the fit (scaled by the fit's reduced chi-square)",
            "residual_ratio": float(math.sqrt(uniform.cost / max(main.cost, 1e-300))), "delta_chi2": float(delta),
            "dof": int(spec.n_k), "p_value": p, "rejected": bool(p < 0.01),
            "delta_bic": float(n * math.log(max(uniform.cost, 1e-300) / max(main.cost, 1e-300))
                               - spec.n_k * math.log(n))}
    return out


def _data_residual(problem, main) -> float:
    """Root-mean-square of (prediction - observation) / sd over the windows' frames (continuity terms left out)."""
    n_data = int(np.count_nonzero(np.broadcast_to(problem.spec.labels > 0, problem.targets.shape)))
    r = np.asarray(main.residual, float)[:n_data]
    return float(np.sqrt(np.mean(r ** 2)))


def summarise(problem, cfg, main, theta0: np.ndarray, uniform, samples: np.ndarray, *, seed: int,
              seconds: float, predicted: np.ndarray, joint_columns=None) -> KineticsResult:
    """Build the :class:`KineticsResult` of a fit.

    ``joint_columns`` = (indices, rows): rows of (J^T J)^-1 of the errors-in-variables fit for those parameters,
    the starting states integrated out; they replace the laws-only covariance's rows and columns (the rate map's
    own block stays the laws-only one).
    """
    from ._learn import fit_status

    spec = problem.spec
    n, p = main.n_residuals, main.theta.size
    chi2_red = main.cost / max(n - p, 1)
    try:
        covariance = chi2_red * np.linalg.inv(main.jtj)
    except np.linalg.LinAlgError:
        covariance = np.full((p, p), np.nan)
    if joint_columns is not None:
        index, rows = joint_columns
        covariance[:, index] = chi2_red * rows.T
        covariance[index, :] = chi2_red * rows
    c = np.linspace(*(0.1, 0.9), N_GRID)
    shift, g = _log_mean_k(spec, main.theta)
    mu, j0 = curves(spec, main.theta, c, shift)
    mu_band, j0_band, kappa_band = _bands(spec, main, samples, covariance, c)
    diffusivity, diffusivity_band = diffusivity_curve(spec, main.theta, covariance, c)
    kappa = math.exp(main.theta[spec.slices["log_kappa"]][0]) if spec.fit_kappa else spec.kappa
    k_map = problem.packing.unpack(np.where(spec.labels > 0, np.exp(g), np.nan)).astype(np.float32)
    if uniform is not None:
        uniform_sigma = math.sqrt(uniform.cost / n) if problem.sigma_known else math.nan
    settings = {
        "model": cfg.model, "config": cfg.model_dump(), "seed": seed, "seconds": seconds,
        "iterations": main.iterations, "n_params": int(p), "n_residuals": int(n),
        "frame_interval": problem.interval, "window_starts": problem.window_starts.tolist(),
        "steps_per_frame": spec.steps_per_frame, "k_modes": int(spec.n_k), "particles": int(spec.labels.max()),
        "currents": problem.currents.tolist(), "theta": main.theta.tolist(),
        "residual_over_sigma_uniform_k": uniform_sigma if uniform is not None else None,
        "source": problem.source, "sigma_given": problem.sigma_known, "bootstrap_samples": int(len(samples)),
    }
    return KineticsResult(
        c=c, mu_h=mu, mu_h_band=mu_band, j0=j0, j0_band=j0_band, kappa=kappa, kappa_band=kappa_band,
        k_map=k_map, labels=problem.packing.field_labels, predicted=predicted,
        residual_over_sigma=_data_residual(problem, main) if problem.sigma_known else math.nan,
        status=fit_status(main.theta, theta0, main.reason), reason=main.reason,
        comparison=_comparison(spec, main, uniform, covariance, chi2_red), settings=settings, theta=main.theta,
        covariance=covariance, diffusivity=diffusivity, diffusivity_band=diffusivity_band)
