"""The neutron phantom as files, and the demo that analyses it (``operando neutron phantom`` and ``demo``).

The built-in cell phantom is written as a user's run would look (with its truth), and analysed from raw counts
with its cycler record.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._files import Target, check_outputs, write_csv_file, write_json_file
from .._progress import Progress, emit, sub_progress
from .._provenance import versions
from .._stack import Stack
from ..workflows.neutron import AnalysisConfig, analyze_files


def write_phantom(output_dir: str | os.PathLike, *, rng: int | None = 0, **changes: Any) -> dict[str, Path]:
    """Simulate the built-in phantom and write it as a user's run would look, with its truth.

    Writes ``sample.tif`` (uint16 ``TYX``), ``open_beam.tif``, ``dark.tif``, ``regions.json``, ``cycler.csv``,
    ``truth/delta_a_true.tif`` and ``truth/truth.json`` (half-cycle frames, reference, drift, beam flicker,
    spots, inactive zone, configuration, seed and versions); ``regions.json`` also names the seed and versions.

    Parameters
    ----------
    output_dir : str or path
        Folder.
    rng : int, optional
        Seed (a concrete one is drawn and recorded when None).
    **changes
        Phantom parameters (:func:`operando.neutron.default_config`).

    Returns
    -------
    dict of str to Path
        The files written.
    """
    from ..io import write
    from ..neutron import simulate_neutron_phantom

    out = Path(output_dir)
    check_outputs([Target(out, "output folder", kind="folder")])
    ph = simulate_neutron_phantom(rng=rng, **changes)  # every parameter checked before the folder is made
    out.mkdir(parents=True, exist_ok=True)
    files = {"sample": write(ph.sample, out / "sample.tif"), "open_beam": write(ph.open_beam, out / "open_beam.tif"),
             "dark": write(ph.dark, out / "dark.tif"),
             "regions": write_json_file(out / "regions.json", {**ph.regions, "seed": ph.config["seed"],
                                                               "versions": versions()})}
    rows = [{"time_s": t, "current_a": i, "voltage_v": v}
            for t, i, v in zip(ph.cycler["time_s"], ph.cycler["current_a"], ph.cycler["voltage_v"], strict=True)]
    files["cycler"] = write_csv_file(out / "cycler.csv", rows)
    files["delta_a_true"] = write(Stack(ph.delta_a_true, axes="TYX"), out / "truth" / "delta_a_true.tif",
                                  dtype="float32")
    files["truth"] = write_json_file(out / "truth" / "truth.json",
                                     {"boundaries": ph.boundaries, "reference": list(ph.reference), **ph.truth,
                                      "configuration": ph.config, "seed": ph.config["seed"], "versions": versions()})
    return files


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its outputs and the headline numbers."""

    folder: Path
    metrics: dict[str, Any]


def run_demo(output_dir: str | os.PathLike, *, time_budget_s: float = 60.0,
             rng: int | np.random.Generator | None = 0, quick: bool = False,
             progress: Progress | None = None) -> DemoResult:
    """Make a phantom, analyse it from raw counts with the cycler record, and write everything into a folder.

    Parameters
    ----------
    output_dir : str or path
        Folder: ``phantom/`` (the inputs) and ``analysis/`` (the outputs of ``operando neutron analyze``).
    time_budget_s : float
        Denoiser budget.
    rng : int, Generator or None
        Seed of the phantom and the denoiser (a Generator or None draws one; the seed used is recorded).
    quick : bool
        A small phantom (48 x 64, 2 cycles of 6 frames) for tests.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    DemoResult
        The folder and metrics.json's content.
    """
    out = Path(output_dir)
    changes: dict[str, Any] = {"ny": 48, "nx": 64, "n_cycles": 2, "frames_per_half_cycle": 6} if quick else \
        {"frames_per_half_cycle": 16}
    seed = rng if isinstance(rng, int) else int(np.random.default_rng(rng).integers(0, 2**31 - 1))
    config = AnalysisConfig(reference=(0, 4), time_budget_s=time_budget_s, seed=seed)
    emit(progress, 0.0, "phantom")
    files = write_phantom(out / "phantom", rng=seed, **changes)
    _, document = analyze_files(files["sample"], out / "analysis", config=config, open_beam=files["open_beam"],
                                dark=files["dark"], regions=files["regions"], cycler=files["cycler"],
                                progress=sub_progress(progress, 0.05, 1.0))
    return DemoResult(out, document)
