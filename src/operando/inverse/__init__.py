"""PDE-constrained learning of mu_h(c) and D(c) from videos, with bootstrap uncertainty (JAX).

``learn_physics(video, InversionConfig(...))`` (or ``learn_physics(video, window=4, ...)``) returns an
:class:`InversionResult`; :func:`compare_to_truth` measures it against known laws. Figures of learned curves
are drawn by :func:`operando.report.plot_learned`; refits on fresh noise realisations live in
:mod:`operando.bench.physics_replicates` (they need the noise and denoise packages).
"""

from ._basis import (
    diffusivity_from_mobility,
    fit_legendre_log_d,
    fit_legendre_mu,
    gauge_fix,
    mobility_from_diffusivity,
)
from ._compare import Truth, compare_learned, compare_to_truth, regular_solution_truth
from ._config import InversionConfig
from ._kinetics import learn_kinetics, particles_of
from ._kinetics_config import KineticsConfig
from ._kinetics_result import KineticsResult
from ._learn import learn_physics
from ._result import FIT_STATUSES, InversionResult

__all__ = [
    "FIT_STATUSES",
    "InversionConfig",
    "InversionResult",
    "KineticsConfig",
    "KineticsResult",
    "Truth",
    "compare_learned",
    "compare_to_truth",
    "diffusivity_from_mobility",
    "fit_legendre_log_d",
    "fit_legendre_mu",
    "gauge_fix",
    "learn_kinetics",
    "learn_physics",
    "mobility_from_diffusivity",
    "particles_of",
    "regular_solution_truth",
]
