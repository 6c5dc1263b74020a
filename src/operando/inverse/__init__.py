"""PDE-constrained learning of mu_h(c) and D(c) from videos, with bootstrap uncertainty (JAX)."""

from ._basis import (
    diffusivity_from_mobility,
    fit_legendre_log_d,
    fit_legendre_mu,
    gauge_fix,
    mobility_from_diffusivity,
)
from ._compare import Truth, compare_learned, compare_to_truth, plot_learned, regular_solution_truth
from ._learn import InversionResult, learn_physics, refit_on_fresh_noise

__all__ = [
    "InversionResult",
    "Truth",
    "compare_learned",
    "compare_to_truth",
    "diffusivity_from_mobility",
    "fit_legendre_log_d",
    "fit_legendre_mu",
    "gauge_fix",
    "learn_physics",
    "mobility_from_diffusivity",
    "plot_learned",
    "refit_on_fresh_noise",
    "regular_solution_truth",
]
