"""Compare learned constitutive laws with a known truth; plot them in the style of the paper."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._basis import gauge_fix
from ._learn import InversionResult


@dataclass(frozen=True)
class Truth:
    """Known constitutive laws: mu_h(c) (any gauge) and D(c), as numpy functions of c."""

    mu_h: Callable[[np.ndarray], np.ndarray]
    diffusivity: Callable[[np.ndarray], np.ndarray]
    label: str = "truth"


def regular_solution_truth(omega: float = 3.0, d_slope: float = 0.0) -> Truth:
    """mu_h = ln(c/(1-c)) + omega (1 - 2c) and D = exp(d_slope (2c - 1)) (D = 1: M = c(1-c))."""
    return Truth(
        mu_h=lambda c: np.log(c / (1 - c)) + omega * (1 - 2 * c),
        diffusivity=lambda c: np.exp(d_slope * (2 * c - 1)),
        label=f"truth (Omega = {omega:g}" + (f", ln D = {d_slope:g} (2c-1))" if d_slope else ", D = 1)"),
    )


def _rel_l2(est: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(est - truth) / np.linalg.norm(truth))


def compare_to_truth(result: InversionResult, truth: Truth, *, c_range: tuple[float, float] = (0.1, 0.9)
                     ) -> dict[str, float]:
    """Relative L2 errors of mu_h (gauge-fixed), M and D over ``c_range``; band widths and coverage.

    Coverage is the share of the c grid where the 95 % bootstrap band contains the truth (NaN without a
    bootstrap): band width alone hides the errors-in-variables bias that noisy starting frames cause.
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
    """One row per learned result: errors against the truth (default: the simulator's defaults)."""
    truth = truth or regular_solution_truth()
    rows = []
    for name, res in results.items():
        rows.append({"data": name, **compare_to_truth(res, truth), "seconds": res.seconds,
                     "bootstrap": int(len(res.bootstrap)), "fit": res.settings.get("stop_reason", "")})
    return rows


def plot_learned(results: dict[str, InversionResult], path: str | os.PathLike, truth: Truth | None = None) -> Path:
    """Learned mu_h(c) (gauge-fixed) and D(c) with shaded 95 % bootstrap bands, against the truth."""
    from ..report import save_figure
    from ..report._figures import _pyplot

    plt = _pyplot()
    truth = truth or regular_solution_truth()
    c = np.linspace(0.05, 0.95, 91)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    axes[0].plot(c, gauge_fix(c, truth.mu_h(c)), "k--", lw=2, label=truth.label)
    axes[1].plot(c, truth.diffusivity(c), "k--", lw=2, label=truth.label)
    for name, res in results.items():
        curves = res.curves(c)
        for ax, key in ((axes[0], "mu_h"), (axes[1], "D")):
            line = ax.plot(c, curves[key]["mean"], lw=1.6, label=name)[0]
            if "lo" in curves[key]:
                ax.fill_between(c, curves[key]["lo"], curves[key]["hi"], color=line.get_color(), alpha=0.25)
    axes[0].set_ylabel(r"$\mu_h(c) - \mu_h(0.5)$  [$k_BT$]")
    axes[1].set_ylabel(r"$D(c)$,  $M = D\,c(1-c)$")
    for ax in axes:
        ax.set_xlabel("c")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
