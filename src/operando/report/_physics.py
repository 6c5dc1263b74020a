"""Figures of learned physics: mu_h(c) and D(c) with their bootstrap bands, against a truth."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._errors import InputError
from ..inverse import InversionResult, Truth, gauge_fix, regular_solution_truth
from ._style import figure_format, new_figure, save_figure


def plot_learned(results: dict[str, InversionResult], path: str | os.PathLike, truth: Truth | None = None) -> Path:
    """Plot learned mu_h(c) (gauge-fixed) and D(c) with shaded 95 % bootstrap bands, against the truth.

    Parameters
    ----------
    results : dict of str to InversionResult
        Learned results by name; each is one line (and its band when it has bootstrap samples).
    path : path
        Figure to write (atomically): ``.png``, ``.pdf``, ``.svg``, ``.jpg`` or ``.jpeg``.
    truth : Truth, optional
        Drawn dashed (default: the simulator's regular solution, D = 1).

    Returns
    -------
    Path
        ``path``.
    """
    figure_format(path)  # refuses any other ending before the work
    if not results:
        raise InputError("no learned results to plot; pass at least one InversionResult")
    truth = truth or regular_solution_truth()
    c = np.linspace(0.05, 0.95, 91)
    fig, axes = new_figure(1, 2, size=(9, 3.6))
    axes[0].plot(c, gauge_fix(c, truth.mu_h(c)), "k--", lw=2, label=truth.label)
    axes[1].plot(c, truth.diffusivity(c), "k--", lw=2, label=truth.label)
    for name, res in results.items():
        curves = res.curves(c)
        label = name if res.converged else f"{name} ({res.status.replace('_', ' ')})"
        for ax, key in ((axes[0], "mu_h"), (axes[1], "D")):
            line = ax.plot(c, curves[key]["mean"], lw=1.6, label=label)[0]
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
