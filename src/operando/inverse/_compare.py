"""Compare learned constitutive laws with a known truth (the figures are drawn by ``operando.report``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._basis import gauge_fix
from ._result import InversionResult


@dataclass(frozen=True)
class Truth:
    """Known constitutive laws: mu_h(c) (any gauge) and D(c), as numpy functions of c."""

    mu_h: Callable[[np.ndarray], np.ndarray]
    diffusivity: Callable[[np.ndarray], np.ndarray]
    label: str = "truth"


def regular_solution_truth(omega: float = 3.0, d_slope: float = 0.0) -> Truth:
    """Return the regular-solution truth: mu_h = ln(c/(1-c)) + omega (1 - 2c), D = exp(d_slope (2c - 1)).

    Parameters
    ----------
    omega : float
        Regular-solution interaction parameter (the simulator's default is 3).
    d_slope : float
        Slope of ln D in 2c - 1 (0: D = 1, M = c (1 - c), the simulator's default mobility).

    Returns
    -------
    Truth
        The two laws as numpy functions of c, with a label for figures.
    """
    return Truth(
        mu_h=lambda c: np.log(c / (1 - c)) + omega * (1 - 2 * c),
        diffusivity=lambda c: np.exp(d_slope * (2 * c - 1)),
        label=f"truth (Omega = {omega:g}" + (f", ln D = {d_slope:g} (2c-1))" if d_slope else ", D = 1)"),
    )


def _rel_l2(est: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(est - truth) / np.linalg.norm(truth))


def compare_to_truth(result: InversionResult, truth: Truth, *, c_range: tuple[float, float] = (0.1, 0.9)
                     ) -> dict[str, float]:
    """Measure relative L2 errors of mu_h (gauge-fixed), M and D over ``c_range``; band widths and coverage.

    Coverage is the share of the c grid where the 95 % bootstrap band contains the truth (NaN without a
    bootstrap): band width alone hides the errors-in-variables bias that noisy starting frames cause.

    Parameters
    ----------
    result : InversionResult
        A learned result.
    truth : Truth
        The known laws.
    c_range : (float, float)
        Concentrations compared (81 points).

    Returns
    -------
    dict
        ``mu_h_rel_l2``, ``mobility_rel_l2``, ``D_rel_l2``, and ``<mu_h|mobility>_band_width`` /
        ``_coverage`` (NaN without bootstrap samples).
    """
    c = np.linspace(*c_range, 81)
    curves = result.curves(c)
    mu_true = gauge_fix(c, truth.mu_h(c))
    d_true = truth.diffusivity(c)
    m_true = d_true * c * (1 - c)
    out = {
        "mu_h_rel_l2": _rel_l2(np.asarray(curves["mu_h"]["mean"]), mu_true),
        "mobility_rel_l2": _rel_l2(np.asarray(curves["mobility"]["mean"]), m_true),
        "D_rel_l2": _rel_l2(np.asarray(curves["D"]["mean"]), d_true),
    }
    for key, true in (("mu_h", mu_true), ("mobility", m_true)):
        entry = curves[key]
        if "lo" in entry:
            lo, hi = np.asarray(entry["lo"]), np.asarray(entry["hi"])
            out[f"{key}_band_width"] = float(np.mean(hi - lo))
            out[f"{key}_coverage"] = float(np.mean((true >= lo) & (true <= hi)))
        else:
            out[f"{key}_band_width"] = float("nan")
            out[f"{key}_coverage"] = float("nan")
    return out


def compare_learned(results: dict[str, InversionResult], truth: Truth | None = None) -> list[dict[str, object]]:
    """Tabulate learned results against a truth, one row each, with how each fit ended.

    Parameters
    ----------
    results : dict of str to InversionResult
        Learned results by name (e.g. ``"clean"``, ``"noisy"``).
    truth : Truth, optional
        The known laws (default: :func:`regular_solution_truth`, the simulator's defaults).

    Returns
    -------
    list of dict
        Per result: ``data``, the errors of :func:`compare_to_truth`, ``seconds``, ``bootstrap`` (samples),
        ``status`` (``converged``, ``did_not_move`` or ``not_converged``) and ``stop_reason``.
    """
    truth = truth or regular_solution_truth()
    rows = []
    for name, res in results.items():
        rows.append({"data": name, **compare_to_truth(res, truth), "seconds": res.seconds,
                     "bootstrap": int(len(res.bootstrap)), "status": res.status,
                     "stop_reason": res.settings.get("stop_reason", "")})
    return rows
