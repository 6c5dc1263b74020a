"""Noise autocovariance of one image from its flat patches (texture detected with a test of known null law).

A high-pass residual over the whole image reads texture as correlated noise: whatever signal the first pass
leaves in the residual has a smooth, positive autocorrelation. Here only patches where the image is flat
are used, and "flat" is a statistical test whose distribution under the noise alone is known exactly:

* each ``P x P`` patch ``y`` (half-overlapping) is split by orthonormal polynomial bases: the trend (orders
  0-2, discarded), the test coefficients ``c = T^T y`` (orders 3-4, ``K = 9``) and the rest
  ``h = M y`` (``M = I - Q_4 Q_4^T``, everything above order 4);
* under noise of covariance ``s R`` (``R`` the unit-variance correlation, ``s`` the local variance) the
  statistic ``t = c^T (T^T R T)^-1 c / s`` is chi-square with ``K`` degrees of freedom and
  ``q = |h|^2 / s`` has mean ``tr(M R M)`` and ``tr(M R M)^2 / tr((M R M)^2)`` effective degrees of freedom.
  Smooth texture (edges, domains, gradients) adds to ``c`` first; a patch is flat when ``t`` is below the
  chi-square median and ``q`` below its 99th percentile (fine texture);
* the noise's autocovariance at lags ``|dy|, |dx| <= L`` follows from the lag products of ``h`` over the flat
  patches: ``E[sum_p h_p h_{p+d}] = sum_tau C(tau) sum_p [M S_tau M]_{p, p+d}`` (``S_tau`` the indicator of
  lag ``tau``), a square linear system solved exactly. For white noise ``h`` is independent of ``c``, so
  selecting on ``c`` does not bias the estimate;
* the local variance follows a noise-level function ``s(mu) = a + b mu`` of the patch mean (Poisson-Gaussian
  noise; ``b = 0`` for additive noise), fitted to the flat patches' ``|h|^2 / tr(M R M)``; the reported
  sigma is its RMS over the image, so heteroscedastic noise is not judged by its quietest patches;
* the test needs ``R`` and ``s``, the estimate gives them: a few fixed-point passes from white noise;
* the uncertainty is a jackknife over 4 x 4 spatial blocks (it includes texture that varies over the image);
  when fewer than ``MIN_FLAT`` patches pass the test (texture everywhere) the quietest are used for a rough
  value, but its error is unknown (nan), so it is no evidence of correlation;
* the trend removal hides the noise's power at zero frequency (a smooth pedestal over all lags); a small
  ridge on the lags >= 3 px, where short-range noise has ~0, resolves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

#: Patch side (pixels), trend order removed, highest order tested for texture.
PATCH_PX = 12
TREND_ORDER = 2
TEST_ORDER = 4
#: Quantiles of the null laws a flat patch stays below (test coefficients, remaining energy).
TEST_QUANTILE = 0.5
ENERGY_QUANTILE = 0.99
#: Fixed-point passes (selection -> estimate -> selection) and jackknife blocks per side.
PASSES = 5
JACKKNIFE_BLOCKS = 4
MAX_PATCHES = 40000
#: Fewer flat patches than this: the image is textured everywhere, the estimate carries no evidence.
MIN_FLAT = 8
#: Ridge (relative to the largest squared singular value) on the lags the trend removal leaves unmeasured.
RIDGE = 4e-4
RIDGE_FROM_LAG = 3


def _max_lag_of(n_lags: int) -> int:
    """Return the max_lag whose half-plane lag list has ``n_lags`` entries."""
    return next(L for L in range(64) if len(_lags(L)) == n_lags)


@dataclass(frozen=True)
class PatchEstimate:
    """Noise autocovariance of one image measured on its flat patches."""

    acov: np.ndarray  # (2L + 1, 2L + 1), lag (0, 0) in the middle, units squared
    acf_se: np.ndarray  # jackknife standard error of the normalised autocorrelation, same shape
    flat_fraction: float  # share of patches judged flat
    measured: bool  # False when fewer than MIN_FLAT patches looked flat (acf_se is then nan)
    noise_level: tuple[float, float]  # (a, b) of the variance a + b * mean


def _lags(max_lag: int) -> list[tuple[int, int]]:
    """Lags of the half plane (dy > 0, or dy == 0 and dx >= 0) up to ``max_lag`` in each direction."""
    return [(dy, dx) for dy in range(max_lag + 1) for dx in range(-max_lag, max_lag + 1) if dy > 0 or dx >= 0]


def _poly_basis(side: int, order: int) -> np.ndarray:
    """Orthonormal basis (columns, ``side^2`` rows) of the 2-D polynomials up to total ``order``, low orders first."""
    yy, xx = np.mgrid[:side, :side] / (side - 1) * 2.0 - 1.0
    cols = [(yy ** a * xx ** (d - a)).ravel() for d in range(order + 1) for a in range(d + 1)]
    q, _ = np.linalg.qr(np.stack(cols, axis=1))
    return q


@lru_cache(maxsize=8)
def _design(side: int, max_lag: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Test basis ``T``, rest projector ``M``, lag indicators ``S_tau`` and the system ``D[d, tau]``."""
    n = side * side
    trend = _poly_basis(side, TREND_ORDER)
    upto = _poly_basis(side, TEST_ORDER)
    test = upto[:, trend.shape[1]:]
    rest = np.eye(n) - upto @ upto.T
    idx = np.arange(n).reshape(side, side)
    lags = _lags(max_lag)
    ind = np.zeros((len(lags), n, n))
    for k, (dy, dx) in enumerate(lags):
        for sy, sx in {(dy, dx), (-dy, -dx)}:
            ys, xs = slice(max(0, -sy), min(side, side - sy)), slice(max(0, -sx), min(side, side - sx))
            a = idx[ys, xs].ravel()
            b = idx[ys.start + sy:ys.stop + sy, xs.start + sx:xs.stop + sx].ravel()
            ind[k, a, b] = 1.0
    proj = rest @ ind @ rest
    system = np.einsum("til,dil->dt", proj, ind)
    system[1:] /= 2.0  # ind[d] counts each pair (p, p + d) twice except at lag 0
    return test, rest, ind, system


def _lag_products(rest: np.ndarray, side: int, max_lag: int) -> np.ndarray:
    """``sum_p h_p h_{p+d}`` of every patch (rows) for every half-plane lag (columns)."""
    r = rest.reshape(-1, side, side)
    out = np.empty((r.shape[0], len(_lags(max_lag))))
    for k, (dy, dx) in enumerate(_lags(max_lag)):
        a = r[:, :side - dy, max(0, -dx):side - max(0, dx)]
        b = r[:, dy:, max(0, dx):side + min(0, dx)]
        out[:, k] = np.einsum("nij,nij->n", a, b)
    return out


def _patches(image: np.ndarray, level: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half-overlapping patches (rows), their mean level and their jackknife block."""
    from numpy.lib.stride_tricks import sliding_window_view

    stride = side // 2
    while ((image.shape[0] - side) // stride + 1) * ((image.shape[1] - side) // stride + 1) > MAX_PATCHES:
        stride += 1
    win = sliding_window_view(image, (side, side))[::stride, ::stride]
    lev = sliding_window_view(level, (side, side))[::stride, ::stride].mean(axis=(2, 3))
    gy, gx = np.meshgrid(np.arange(win.shape[0]), np.arange(win.shape[1]), indexing="ij")
    block = (gy * JACKKNIFE_BLOCKS // win.shape[0]) * JACKKNIFE_BLOCKS + gx * JACKKNIFE_BLOCKS // win.shape[1]
    return win.reshape(-1, side * side), lev.ravel(), block.ravel()


def _unit_covariance(acf: np.ndarray, ind: np.ndarray, max_lag: int) -> np.ndarray:
    """Patch covariance of unit-variance noise with the half-plane autocorrelation ``acf`` (lag (0, 0) first)."""
    return np.einsum("t,tij->ij", acf, ind)


def _solve(products: np.ndarray, scale: np.ndarray, system: np.ndarray) -> np.ndarray:
    """Autocovariance (half-plane lags, in units of the local variance) from scaled mean lag products.

    The patch's trend removal hides one direction almost entirely (a smooth pedestal over all lags, singular
    value ~0.002 of the largest, the noise's power at zero frequency); a ridge on the lags other than 0,
    ``RIDGE * s_max^2 |c_tau|^2``, resolves it towards "no correlation beyond what the data show" and leaves
    the well-measured directions (singular values >= 0.06 s_max) alone.
    """
    m = (products / scale[:, None]).mean(axis=0)
    s_max = np.linalg.norm(system, 2)
    far = np.array([max(abs(dy), abs(dx)) >= RIDGE_FROM_LAG for dy, dx in _lags(_max_lag_of(system.shape[1]))])
    penalty = np.where(far, RIDGE * s_max**2, 0.0)
    return np.linalg.solve(system.T @ system + np.diag(penalty), system.T @ m)


def _flat(coef, energy, scale, unit_cov, test, rest) -> tuple[np.ndarray, bool]:
    """Patches whose test coefficients and remaining energy are what the noise alone gives (see module doc)."""
    k = test.shape[1]
    c_t = test.T @ unit_cov @ test
    a = rest @ unit_cov @ rest
    mean_h = float(np.trace(a))
    dof = mean_h**2 / float(np.sum(a * a))
    t = np.einsum("nk,nk->n", coef, np.linalg.solve(c_t, coef.T).T) / scale
    q = energy / (scale * mean_h) * dof
    flat = (t <= stats.chi2.ppf(TEST_QUANTILE, k)) & (q <= stats.chi2.ppf(ENERGY_QUANTILE, dof))
    if flat.sum() >= MIN_FLAT:
        return flat, True
    # nothing looks like noise alone: keep the quietest patches, and say that the estimate is not a measurement
    return t <= np.quantile(t, min(1.0, MIN_FLAT / t.size)), False


def _fit_level(energy, level, flat, mean_h) -> tuple[float, float]:
    """Least-squares noise-level function ``var = a + b * mean`` over the flat patches."""
    var = energy[flat] / mean_h
    x = level[flat]
    if x.size < 3 or np.ptp(x) <= 1e-12 * max(1.0, float(np.abs(x).max())):
        return float(var.mean()), 0.0
    b, a = np.polyfit(x, var, 1)
    return float(a), float(b)


def _local_variance(level: np.ndarray, a: float, b: float) -> np.ndarray:
    """Evaluate the noise-level function at each patch, floored at a tenth of its median (never <= 0)."""
    s = a + b * level
    floor = 0.1 * max(float(np.median(s)), 1e-30)
    return np.maximum(s, floor)


def _jackknife(products, scale, block, flat, system) -> np.ndarray:
    """Jackknife standard error (over spatial blocks) of the normalised half-plane autocorrelation."""
    used = np.unique(block[flat])
    if used.size < 3:
        return np.full(system.shape[0], np.nan)
    ests = []
    for b in used:
        keep = flat & (block != b)
        c = _solve(products[keep], scale[keep], system)
        ests.append(c / c[0])
    ests = np.array(ests)
    return np.sqrt((used.size - 1) / used.size * ((ests - ests.mean(axis=0)) ** 2).sum(axis=0))


def _centred(half: np.ndarray, max_lag: int) -> np.ndarray:
    """Half-plane lag values as a symmetric (2L + 1)^2 array, lag (0, 0) in the middle."""
    out = np.zeros((2 * max_lag + 1, 2 * max_lag + 1))
    for (dy, dx), v in zip(_lags(max_lag), half, strict=True):
        out[max_lag + dy, max_lag + dx] = v
        out[max_lag - dy, max_lag - dx] = v
    return out


def flat_patch_estimate(image: np.ndarray, level: np.ndarray | None = None, *, max_lag: int = 5) -> PatchEstimate:
    """Noise autocovariance of one image from its flat patches (the module docstring gives the method).

    Parameters
    ----------
    image : ndarray, shape (Y, X)
        One noisy image (or a difference of two frames).
    level : ndarray, shape (Y, X), optional
        The signal level the noise variance depends on (default: ``image``; for a frame difference, the
        frames' mean).
    max_lag : int
        Largest lag estimated, < ``PATCH_PX``; the noise is assumed uncorrelated beyond it.

    Returns
    -------
    PatchEstimate
        Autocovariance (sigma^2 the RMS variance over the image), its jackknife standard error, the flat share
        and the noise-level function.
    """
    y = np.asarray(image, np.float64)
    lev = y if level is None else np.asarray(level, np.float64)
    test, rest, ind, system = _design(PATCH_PX, max_lag)
    patches, mean_level, block = _patches(y, lev, PATCH_PX)
    coef = patches @ test
    resid = patches @ rest
    energy = np.einsum("np,np->n", resid, resid)
    products = _lag_products(resid, PATCH_PX, max_lag)
    half = np.zeros(system.shape[0])
    half[0] = 1.0
    mean_h = float(np.trace(rest))
    a, b = float(np.quantile(energy, 0.25)) / mean_h, 0.0
    for _ in range(PASSES):
        unit = _unit_covariance(half, ind, max_lag)
        scale = _local_variance(mean_level, a, b)
        flat, measured = _flat(coef, energy, scale, unit, test, rest)
        c = _solve(products[flat], scale[flat], system)
        half = c / c[0]
        mean_h = float(np.trace(rest @ _unit_covariance(half, ind, max_lag) @ rest))
        a, b = _fit_level(energy, mean_level, flat, mean_h)
    scale = _local_variance(mean_level, a, b)
    c = _solve(products[flat], scale[flat], system)
    variance = float(np.mean(scale)) * float(c[0])
    half = c / c[0]
    se = _jackknife(products, scale, block, flat, system) if measured else np.full(half.size, np.nan)
    return PatchEstimate(acov=variance * _centred(half, max_lag), acf_se=_centred(se, max_lag),
                         flat_fraction=float(flat.mean()), measured=measured, noise_level=(a, b))
