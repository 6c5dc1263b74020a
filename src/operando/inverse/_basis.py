"""Legendre parameterisation of mu_h(c) and D(c), gauge fixing, and mobility-convention converters.

Conventions (Bazant-group linear irreversible thermodynamics, as recommended in shared/reference):

- mu_h(c) = ln(c / (1 - c)) + sum_{n >= 1} a_n P_n(2c - 1), in k_BT. The constant a_0 is a gauge: only grad mu
  enters the dynamics, so curves are reported gauge-fixed to mu_h(0.5) = 0.
- ln D(c) = sum_{m >= 0} b_m P_m(2c - 1), and the mobility is M(c) = D(c) c (1 - c), so D is the Fickian
  diffusivity of an ideal lattice gas. The other convention in use (pde-opt) calls the mobility itself "D":
  :func:`mobility_from_diffusivity` and :func:`diffusivity_from_mobility` convert between them.
"""

from __future__ import annotations

import numpy as np

C_EPS = 1e-6


def legendre(x, n_max: int, xp=np):
    """Return [P_0(x), ..., P_n_max(x)] stacked on a new last axis (three-term recurrence)."""
    polys = [xp.ones_like(x), x]
    for n in range(1, n_max):
        polys.append(((2 * n + 1) * x * polys[n] - n * polys[n - 1]) / (n + 1))
    return xp.stack(polys[: n_max + 1], axis=-1)


def mu_h_curve(c, a, xp=np):
    """mu_h(c) = ln(c/(1-c)) + sum_{n>=1} a_n P_n(2c-1); ``a`` holds a_1..a_N."""
    c = xp.clip(c, C_EPS, 1 - C_EPS)
    a = xp.asarray(a)
    basis = legendre(2 * c - 1, a.shape[0], xp)[..., 1:]
    return xp.log(c / (1 - c)) + basis @ a


def log_diffusivity_curve(c, b, xp=np):
    """Return ln D(c) = sum_{m>=0} b_m P_m(2c-1); ``b`` holds b_0..b_M."""
    b = xp.asarray(b)
    return legendre(2 * xp.clip(c, 0.0, 1.0) - 1, b.shape[0] - 1, xp) @ b


def mobility_curve(c, b, xp=np):
    """M(c) = D(c) c (1 - c)."""
    cc = xp.clip(c, 0.0, 1.0)
    return xp.exp(log_diffusivity_curve(c, b, xp)) * cc * (1 - cc)


def gauge_fix(c: np.ndarray, mu: np.ndarray, c_ref: float = 0.5) -> np.ndarray:
    """Subtract the value at ``c_ref`` (interpolated on the c grid) so curves share a gauge.

    Parameters
    ----------
    c : ndarray, shape (N,)
        Increasing concentration grid.
    mu : ndarray, shape (N,)
        Chemical potential on ``c``, in any gauge.
    c_ref : float
        Concentration where the fixed curve is zero.

    Returns
    -------
    ndarray, shape (N,)
        ``mu - mu(c_ref)``.
    """
    return mu - np.interp(c_ref, c, mu)


def mobility_from_diffusivity(diffusivity, c):
    """Convert our lattice-gas diffusivity D to the mobility M = D c (1 - c) (which pde-opt calls "D").

    Parameters
    ----------
    diffusivity : array_like
        D(c) on the grid ``c``.
    c : array_like
        Concentrations (clipped to [0, 1]).

    Returns
    -------
    ndarray
        The mobility M(c).
    """
    c = np.clip(c, 0.0, 1.0)
    return np.asarray(diffusivity) * c * (1 - c)


def diffusivity_from_mobility(mobility, c):
    """Convert a mobility M (the other convention's "D") to our lattice-gas diffusivity D = M / (c (1 - c)).

    Parameters
    ----------
    mobility : array_like
        M(c) on the grid ``c``.
    c : array_like
        Concentrations (kept 1e-6 away from 0 and 1).

    Returns
    -------
    ndarray
        The diffusivity D(c).
    """
    c = np.clip(c, C_EPS, 1 - C_EPS)
    return np.asarray(mobility) / (c * (1 - c))


def fit_legendre_mu(c: np.ndarray, mu: np.ndarray, n_terms: int) -> np.ndarray:
    """Fit the Legendre coefficients a_1..a_n of a mu_h curve (any gauge) by least squares.

    Parameters
    ----------
    c : ndarray, shape (N,)
        Concentrations.
    mu : ndarray, shape (N,)
        mu_h(c) in k_BT, in any gauge (the constant a_0 absorbs it).
    n_terms : int
        Number of excess terms n.

    Returns
    -------
    ndarray, shape (n_terms,)
        a_1..a_n of mu_h = ln(c/(1-c)) + sum a_n P_n(2c - 1).
    """
    c = np.clip(c, C_EPS, 1 - C_EPS)
    basis = legendre(2 * c - 1, n_terms)
    coef, *_ = np.linalg.lstsq(basis, mu - np.log(c / (1 - c)), rcond=None)
    return coef[1:]


def fit_legendre_log_d(c: np.ndarray, diffusivity: np.ndarray, n_terms: int) -> np.ndarray:
    """Fit the Legendre coefficients b_0..b_{n-1} of ln D(c) by least squares.

    Parameters
    ----------
    c : ndarray, shape (N,)
        Concentrations.
    diffusivity : ndarray, shape (N,)
        D(c) (positive).
    n_terms : int
        Number of terms n.

    Returns
    -------
    ndarray, shape (n_terms,)
        b_0..b_{n-1} of ln D = sum b_m P_m(2c - 1).
    """
    basis = legendre(2 * c - 1, n_terms - 1)
    coef, *_ = np.linalg.lstsq(basis, np.log(diffusivity), rcond=None)
    return coef
