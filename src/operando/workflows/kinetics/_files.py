"""Write a kinetics run: ``kinetics.json``, ``k.tif``, three figures and ``report.md`` in one folder."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..._files import atomic_path, write_json_file
from ..._provenance import versions
from ..._stack import Metadata, Stack
from ._run import KineticsRun

#: The files :func:`write_kinetics` writes into its folder.
OUTPUTS = ("kinetics.json", "k.tif", "kinetics.png", "k_map.png", "particles.png", "report.md")


def record(run: KineticsRun, inputs: list[str] | None = None) -> dict[str, Any]:
    """Return the JSON record of a run: the result, where the noise level came from, inputs and versions."""
    return {**run.result.to_dict(), "sigma_source": run.sigma_source, **run.inputs,
            "inputs": inputs or [run.source], "pixel_size": run.pixel_size, "pixel_unit": run.pixel_unit,
            "versions": versions()}


def write_kinetics(run: KineticsRun, folder: str | os.PathLike, *, inputs: list[str] | None = None,
                   figures: bool = True) -> dict[str, Path]:
    """Write the run into ``folder`` (made if missing); every file is written atomically.

    Returns
    -------
    dict
        Name -> path of each file written.
    """
    from ...io import write
    from ._figures import plot_curves, plot_k_map, plot_particles

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"kinetics.json": out / "kinetics.json", "k.tif": out / "k.tif"}
    meta = Metadata(pixel_size=run.pixel_size, pixel_unit=run.pixel_unit,
                    extra={"quantity": "rate constant k (mean 1 over the particle pixels)", "outside_mask": "NaN"})
    write(Stack(run.result.k_map.astype(np.float32), "YX", meta), paths["k.tif"], dtype="float32")
    if figures:
        paths["kinetics.png"] = plot_curves(run.result, out / "kinetics.png")
        paths["k_map.png"] = plot_k_map(run, out / "k_map.png")
        paths["particles.png"] = plot_particles(run, out / "particles.png")
    write_json_file(paths["kinetics.json"], record(run, inputs))
    paths["report.md"] = out / "report.md"
    with atomic_path(paths["report.md"]) as tmp:
        tmp.write_text(report_text(run, [p.name for p in paths.values()]), encoding="utf-8")
    return paths


def report_text(run: KineticsRun, files: list[str]) -> str:
    """Return a short Markdown report of the run."""
    r = run.result
    comp = r.comparison
    lines = [
        "# Reaction kinetics", "",
        f"Model: {r.settings['model'].upper()}, {r.settings['particles']} particle(s), "
        f"{len(r.settings['window_starts'])} windows, {r.settings['n_params']} parameters; fit {r.status} "
        f"({r.reason}, {r.settings['iterations']} iterations, {r.settings['seconds']:.0f} s).", "",
        f"- kappa = {r.kappa:.4g} kT px^2 (95 %: {r.kappa_band[0]:.4g} to {r.kappa_band[1]:.4g})",
        f"- residual / sigma = {_fmt(r.residual_over_sigma)} (noise sd: {run.sigma_source})",
    ]
    if r.diffusivity is not None:
        mid = len(r.c) // 2
        lines.append(f"- D(c = {r.c[mid]:.2f}) = {r.diffusivity[mid]:.4g} px^2 per time unit (95 %: "
                     f"{r.diffusivity_band[0][mid]:.4g} to {r.diffusivity_band[1][mid]:.4g}); D(c) in kinetics.json")
    if "symmetric_j0" in comp:
        s = comp["symmetric_j0"]
        lines.append(f"- symmetric j0 (j0(c) = j0(1 - c)): {'excluded' if s['excluded'] else 'not excluded'} "
                     f"(Wald {s['statistic']:.3g}, {s['dof']} dof, p = {s['p_value']:.3g}); j0 ~ c^{s['powers'][0]:.2f}"
                     f" (1 - c)^{s['powers'][1]:.2f}")
    if "uniform_k" in comp:
        u = comp["uniform_k"]
        lines.append(f"- uniform k: {'rejected' if u['rejected'] else 'not rejected'} (residual x "
                     f"{u['residual_ratio']:.3g} of the fit's, p = {u['p_value']:.3g}, delta BIC {u['delta_bic']:.4g})")
    lines += ["", "Gauges: mu_h(0.5) = 0; mean k over the particle pixels = 1 (a constant moves between k and j0).",
              "", "Files: " + ", ".join(files), ""]
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return "n/a (no noise level)" if not math.isfinite(value) else f"{value:.3f}"
