"""Operando neutron radiography, end to end: raw counts or transmission -> Delta A (raw and denoised) -> metrics.

::

    from operando.workflows.neutron import AnalysisConfig, analyze_files

    config = AnalysisConfig(reference=(0, 4), open_regions=["1:6,2:126"], time_budget_s=120)
    analysis, metrics = analyze_files("sample/", "run/", config=config, open_beam="ob/", dark="dc/",
                                      regions="regions.json", cycler="cycler.csv")

``analyze_series`` works on in-memory stacks, ``analyze_files`` reads the inputs and writes
``delta_a_raw.tif``, ``delta_a_denoised.tif``, ``delta_a_sd.tif``, ``metrics.json`` and the figures;
``normalize_files`` is ``operando neutron normalize``. One concern per private module: ``_config`` (the settings),
``_run`` (the analysis), ``_denoise`` (denoiser, TV polish, region means), ``_metrics`` (metrics.json),
``_files`` (inputs and outputs), ``_figures``. The phantom writer, the demo and the benchmark know a truth and
live in :mod:`operando.bench` (``neutron_demo``, ``neutron``).
"""

from ._config import AnalysisConfig, DenoiseTarget, parse_reference
from ._denoise import MEAN_CORRECTION_SIGMA, restore_region_means
from ._files import load_regions, read_images, transmission_targets
from ._metrics import Analysis, inventory_vs_cycler, metrics_document
from ._run import analyze_files, analyze_series, normalize_files

__all__ = [
    "MEAN_CORRECTION_SIGMA", "Analysis", "AnalysisConfig", "DenoiseTarget", "analyze_files", "analyze_series",
    "inventory_vs_cycler", "load_regions", "metrics_document", "normalize_files", "parse_reference",
    "read_images", "restore_region_means", "transmission_targets",
]
