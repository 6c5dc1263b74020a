"""Li fraction x and Fe areal density (thickness) t from optical density: Beer-Lambert unmixing with uncertainty.

OD(E) = t [x mu_1(E) + (1 - x) mu_2(E)] (+ c), per pixel. With two energies and two phases the 2 x 2 system is solved
exactly for (t x, t (1 - x)); with N > 2 energies by weighted, non-negative least squares (fractions summing to one,
optional constant pre-edge term c). Standard errors come from the per-value OD variance through the solve.
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._errors import InputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferenceSpectra:
    """End-member absorptivities (OD per um of material) on an energy grid, with their provenance.

    Attributes
    ----------
    energies_ev : ndarray
        Increasing energies.
    phases : tuple of str
        Phase names; x is the fraction of the first (e.g. ``("LiFePO4", "FePO4")``).
    values : ndarray, shape (n_phases, n_energies)
        Absorptivity per unit thickness (1/um).
    source : str
        Where the numbers come from.
    approximate : bool
        True for the built-in literature-shaped defaults.
    """

    energies_ev: np.ndarray
    phases: tuple[str, ...]
    values: np.ndarray
    source: str
    approximate: bool = False

    def at(self, energies: list[float] | np.ndarray, *, shift_ev: float = 0.0) -> np.ndarray:
        """Return the absorptivities at ``energies``, shape (n_energies, n_phases), the grid moved by ``shift_ev``.

        Parameters
        ----------
        energies : list of float
            Energies in eV.
        shift_ev : float
            Shift of the reference energy scale.

        Returns
        -------
        ndarray
            The matrix A of OD = A c.
        """
        e = np.asarray(energies, dtype=float) - shift_ev
        lo, hi = self.energies_ev[0], self.energies_ev[-1]
        if e.min() < lo - 1e-9 or e.max() > hi + 1e-9:
            raise InputError(f"energies {np.round(e, 2).tolist()} eV lie outside the reference spectra "
                             f"({lo:g}-{hi:g} eV, {self.source}); give references covering them (--references)")
        return np.stack([np.interp(e, self.energies_ev, v) for v in self.values], axis=1)

    def describe(self) -> dict[str, object]:
        """Return a JSON-serialisable description (for summaries)."""
        return {"phases": list(self.phases), "source": self.source, "approximate": self.approximate,
                "energy_range_ev": [float(self.energies_ev[0]), float(self.energies_ev[-1])]}


def _peaks(e: np.ndarray, base: float, peaks: list[tuple[float, float, float]],
           steps: list[tuple[float, float, float]]) -> np.ndarray:
    out = np.full_like(e, base)
    for centre, height, sigma in peaks:
        out += height * np.exp(-0.5 * ((e - centre) / sigma) ** 2)
    for centre, height, width in steps:
        out += height * (0.5 + np.arctan((e - centre) / width) / np.pi)
    return out


def default_references() -> ReferenceSpectra:
    """Built-in LiFePO4 / FePO4 Fe L-edge absorptivities: APPROXIMATE, literature-shaped, not measured.

    Returns
    -------
    ReferenceSpectra
        Gaussians + arctan edge steps: LiFePO4 (Fe2+) main L3 peak at 707.8 eV with a shoulder at 709.6 eV,
        FePO4 (Fe3+) main L3 peak at 710.0 eV with a pre-peak at 708.0 eV, L2 features near 721-723 eV, about
        10 OD per um at the main peaks. Beamline energy calibrations differ by ~1 eV and the peak ratios depend on
        the instrument: measure end-member spectra on the same beamline for quantitative work
        (:func:`read_reference_spectra`), and check the energy scale (:func:`check_energy_shift`).
    """
    e = np.round(np.arange(700.0, 730.0 + 1e-9, 0.05), 3)
    lfp = _peaks(e, 1.0, [(707.8, 10.0, 0.55), (709.6, 3.5, 0.8), (720.8, 3.0, 0.8), (722.8, 1.2, 0.8)],
                 [(708.5, 2.5, 0.5), (721.2, 1.0, 0.5)])
    fp = _peaks(e, 1.0, [(708.0, 2.5, 0.6), (710.0, 10.5, 0.65), (721.0, 1.0, 0.8), (722.6, 3.0, 0.8)],
                [(709.0, 2.5, 0.5), (721.6, 1.0, 0.5)])
    return ReferenceSpectra(e, ("LiFePO4", "FePO4"), np.stack([lfp, fp]),
                            "built-in approximate literature-shaped Fe L2,3 spectra (operando default)", True)


def read_reference_spectra(path: str | os.PathLike) -> ReferenceSpectra:
    """Read end-member spectra from a CSV with header ``energy_ev,<phase>,<phase>...``.

    Parameters
    ----------
    path : str or path
        CSV file: energies (eV, increasing after sorting) and one absorptivity column per phase (per unit
        thickness); x is the fraction of the first phase.

    Returns
    -------
    ReferenceSpectra
        The spectra, with the file as source.
    """
    file = Path(path)
    try:
        lines = [ln for ln in file.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    except OSError as exc:
        raise InputError(f"{file}: cannot read the reference spectra ({exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{file}: not a text file (undecodable bytes); the reference spectra are a CSV text file "
                         "'energy_ev,<phase>,<phase>...' with one energy per line") from None
    header = [h.strip() for h in lines[0].split(",")] if lines else []
    if len(header) < 3 or header[0].lower() != "energy_ev":
        raise InputError(f"{file}: the first line must be 'energy_ev,<phase>,<phase>...' (e.g. "
                         f"'energy_ev,LiFePO4,FePO4'), got {lines[0] if lines else 'an empty file'!r}")
    try:
        table = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]], dtype=float)
    except ValueError:
        raise InputError(f"{file}: non-numeric values below the header; give numbers only") from None
    if table.ndim != 2 or table.shape[1] != len(header) or table.shape[0] < 2:
        raise InputError(f"{file}: need >= 2 rows of {len(header)} numbers, got shape {table.shape}")
    if not np.all(np.isfinite(table)):
        rows = sorted({int(r) + 2 for r in np.nonzero(~np.isfinite(table))[0]})
        raise InputError(f"{file}: NaN or infinite values on line(s) {rows[:5]} below the header; give a finite "
                         "absorptivity for every phase at every energy")
    table = table[np.argsort(table[:, 0])]
    if np.any(np.diff(table[:, 0]) <= 0):
        repeated = table[1:, 0][np.diff(table[:, 0]) <= 0]
        raise InputError(f"{file}: the energy {repeated[0]:g} eV is listed twice; give each energy once")
    phases = header[1:]
    if len(set(phases)) != len(phases):
        raise InputError(f"{file}: a phase name is used twice in the header {phases}; give each phase once")
    values = table[:, 1:].T
    for i in range(len(phases)):
        if not np.any(values[i]):
            raise InputError(f"{file}: the spectrum of {phases[i]} is all zeros; give its measured absorptivity")
        for j in range(i):
            if np.linalg.matrix_rank(np.stack([values[i], values[j]]), tol=1e-9 * np.abs(values).max()) < 2:
                raise InputError(f"{file}: the spectra of {phases[j]} and {phases[i]} are identical (or "
                                 "proportional), so no measurement can tell them apart; give distinct end-member "
                                 "spectra")
    return ReferenceSpectra(table[:, 0], tuple(phases), values.copy(), str(file), False)


@dataclass(frozen=True)
class Composition:
    """Per-pixel composition maps (shape (Y, X)); NaN outside ``mask`` for x and its sd.

    Attributes
    ----------
    x, thickness, sd_x, sd_thickness : ndarray
        Fraction of the first phase, total amount t (um of material), and their standard errors.
    mask : ndarray of bool
        Pixels where t / sd(t) exceeds the significance threshold.
    components : ndarray, shape (n_phases, Y, X)
        Amount of each phase (t x, t (1 - x)).
    offset : ndarray or None
        The fitted constant term (N > 2 with ``constant=True``).
    method : str
        ``"exact 2x2"`` or ``"non-negative weighted least squares"``.
    notes : list of str
        Checks and warnings for the summary.
    """

    x: np.ndarray
    thickness: np.ndarray
    sd_x: np.ndarray
    sd_thickness: np.ndarray
    mask: np.ndarray
    components: np.ndarray
    offset: np.ndarray | None
    method: str
    notes: list[str] = field(default_factory=list)


def _solve_subset(design: np.ndarray, od: np.ndarray, weight: np.ndarray, covariance: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares per pixel: design (N, K), od / weight (P, N) -> coefficients (P, K), cov, chi2.

    With ``covariance`` (P, N, N) of the OD errors, the coefficients' covariance is the sandwich
    G^-1 A^T W C W A G^-1 (G = A^T W A) instead of G^-1, which holds only for independent errors of variance 1 / W.
    """
    g = np.einsum("nk,pn,nl->pkl", design, weight, design)
    b = np.einsum("nk,pn,pn->pk", design, weight, od)
    cov = np.linalg.inv(g + 1e-300 * np.eye(design.shape[1]))
    coef = np.einsum("pkl,pl->pk", cov, b)
    resid = od - coef @ design.T
    if covariance is not None:
        lever = np.einsum("pkl,nl,pn->pkn", cov, design, weight)  # G^-1 A^T W
        cov = np.einsum("pkn,pnm,plm->pkl", lever, covariance, lever)
    return coef, cov, np.sum(weight * resid**2, axis=1)


def unmix(od: np.ndarray, variance: np.ndarray, matrix: np.ndarray, *, constant: bool = False,
          nonnegative: bool = True, covariance: np.ndarray | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    """Solve OD = A c (+ const) for every pixel.

    Parameters
    ----------
    od, variance : ndarray, shape (N, P)
        OD of P pixels at N energies and its variance.
    matrix : ndarray, shape (N, K)
        Absorptivity of each phase at each energy.
    constant : bool
        Add a constant (pre-edge / background) term, not constrained.
    nonnegative : bool
        Constrain the phase amounts to be >= 0 (exact search over active sets; K is small).
    covariance : ndarray, shape (P, N, N), optional
        Full covariance of each pixel's OD errors between energies (e.g. of denoised images, whose errors are
        correlated across energies). The fit still weights by ``1 / variance``; the amounts' covariance is
        propagated from this matrix. Default: independent errors (diagonal ``variance``).

    Returns
    -------
    (coef, cov, offset, method)
        Phase amounts (P, K), their covariance (P, K, K), the constant (P,) or None, and the method used.
    """
    n, k = matrix.shape
    design = np.hstack([matrix, np.ones((n, 1))]) if constant else matrix
    if design.shape[1] > n:
        raise InputError(f"{n} energies cannot determine {design.shape[1]} unknowns ({k} phases"
                         f"{' + a constant' if constant else ''}); add energies or drop the constant term")
    p = od.shape[1]
    if n == design.shape[1] and not nonnegative:
        inv = np.linalg.inv(design)
        coef = od.T @ inv.T
        cov = (np.einsum("kn,pn,ln->pkl", inv, variance.T, inv) if covariance is None
               else np.einsum("kn,pnm,lm->pkl", inv, covariance, inv))
        return coef[:, :k], cov[:, :k, :k], coef[:, k] if constant else None, "exact solve"
    weight = 1.0 / variance.T
    best_coef, best_cov = np.zeros((p, design.shape[1])), np.zeros((p, design.shape[1], design.shape[1]))
    best_chi = np.full(p, np.inf)
    subsets = [s for r in range(k, -1, -1) for s in itertools.combinations(range(k), r)] if nonnegative else [
        tuple(range(k))]
    for subset in subsets:
        cols = list(subset) + ([k] if constant else [])
        if not cols:
            continue
        coef, cov, chi = _solve_subset(design[:, cols], od.T, weight, covariance)
        ok = np.all(coef[:, : len(subset)] >= 0, axis=1) if nonnegative else np.ones(p, bool)
        better = ok & (chi < best_chi - 1e-12)
        full = np.zeros((p, design.shape[1]))
        full[:, cols] = coef
        full_cov = np.zeros((p, design.shape[1], design.shape[1]))
        full_cov[np.ix_(np.arange(p), cols, cols)] = cov
        best_coef[better], best_cov[better], best_chi[better] = full[better], full_cov[better], chi[better]
    method = "non-negative weighted least squares" if nonnegative else "weighted least squares"
    return best_coef[:, :k], best_cov[:, :k, :k], best_coef[:, k] if constant else None, method


def _x_and_t(coef: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, ...]:
    """Li fraction c_0 / sum(c), t = sum(c) and their standard errors by first-order propagation."""
    t = coef.sum(axis=1)
    var_t = cov.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = coef[:, 0] / t
        grad = -coef[:, :1] / t[:, None] ** 2 * np.ones_like(coef)
        grad[:, 0] += 1.0 / t
        var_x = np.einsum("pk,pkl,pl->p", grad, cov, grad)
    return x, t, np.sqrt(np.maximum(var_x, 0)), np.sqrt(np.maximum(var_t, 0))


def significance_mask(thickness: np.ndarray, sd_thickness: np.ndarray, *, significance: float = 3.0,
                      min_size: int = 9) -> np.ndarray:
    """Pixels whose thickness is significant: t / sd(t) > ``significance``, in connected groups >= ``min_size``.

    Parameters
    ----------
    thickness, sd_thickness : ndarray, shape (Y, X)
        Thickness and its standard error.
    significance : float
        Threshold on t / sd(t) (3: a 3-sigma detection of material).
    min_size : int
        Smallest group of connected pixels kept (drops isolated noise detections).

    Returns
    -------
    ndarray of bool
        The particle mask.
    """
    from skimage.morphology import remove_small_objects

    with np.errstate(divide="ignore", invalid="ignore"):
        mask = np.isfinite(thickness) & (sd_thickness > 0) & (thickness / sd_thickness > significance)
    return remove_small_objects(mask, max_size=min_size - 1) if min_size > 1 and mask.any() else mask


def composition(
    od: np.ndarray,
    variance: np.ndarray,
    *,
    energies: list[float] | tuple[float, ...],
    references: ReferenceSpectra | None = None,
    constant: bool = False,
    nonnegative: bool | None = None,
    significance: float = 3.0,
    min_size: int = 9,
    mask: np.ndarray | None = None,
    covariance: np.ndarray | None = None,
) -> Composition:
    """Per-pixel Li fraction x and thickness t from optical density at two or more energies, with standard errors.

    Parameters
    ----------
    od, variance : ndarray, shape (E, Y, X)
        Optical density (NaN where masked) and its variance (e.g. from :func:`optical_density`, or a
        denoiser's error estimate).
    energies : list of float
        Energy of each OD image, eV.
    references : ReferenceSpectra, optional
        End-member absorptivities (default: :func:`default_references`, approximate).
    constant : bool
        Fit a constant (pre-edge / background) OD term too (needs >= 3 energies).
    nonnegative : bool, optional
        Constrain phase amounts >= 0. Default: False for an exactly determined system (2 energies, 2 phases: the
        exact solve is unbiased; x outside [0, 1] then shows noise honestly), True otherwise.
    significance, min_size : float, int
        Particle mask: t / sd(t) > significance (see :func:`significance_mask`).
    mask : ndarray of bool, shape (Y, X), optional
        Use this particle mask instead.
    covariance : ndarray, shape (E, E, Y, X), optional
        Covariance of the OD errors between energies at every pixel (its diagonal replaces ``variance`` in the
        error propagation); for denoised images, whose errors are correlated across energies.

    Returns
    -------
    Composition
        x (fraction of the first phase), thickness (um of material), their standard errors, the mask and notes.
    """
    refs = references or default_references()
    od = np.asarray(od, dtype=float)
    variance = np.asarray(variance, dtype=float)
    if od.ndim != 3 or od.shape != variance.shape or od.shape[0] != len(energies):
        raise InputError(f"composition needs OD and variance of shape (E, Y, X) with one energy per image; got "
                         f"{od.shape}, {variance.shape} and {len(energies)} energies")
    if od.shape[0] < 2:
        raise InputError(f"composition needs images at >= 2 energies, got {od.shape[0]} ({list(energies)} eV); "
                         "a single-energy image gives optical density only")
    matrix = refs.at(energies)
    cond = float(np.linalg.cond(matrix))
    n_e, n_y, n_x = od.shape
    flat, var = od.reshape(n_e, -1), variance.reshape(n_e, -1)
    good = np.all(np.isfinite(flat) & np.isfinite(var) & (var > 0), axis=0)
    nonneg = nonnegative if nonnegative is not None else not (n_e == matrix.shape[1] and not constant)
    coef = np.full((flat.shape[1], matrix.shape[1]), np.nan)
    cov = np.full((flat.shape[1], matrix.shape[1], matrix.shape[1]), np.nan)
    offset = np.full(flat.shape[1], np.nan) if constant else None
    sigma = None
    if covariance is not None:
        covariance = np.asarray(covariance, dtype=float)
        if covariance.shape != (n_e, n_e, n_y, n_x):
            raise InputError(f"composition: covariance must have shape (E, E, Y, X) = {(n_e, n_e, n_y, n_x)}, got "
                             f"{covariance.shape}")
        sigma = np.moveaxis(covariance.reshape(n_e, n_e, -1), -1, 0)[good]
    c, cv, off, method = unmix(flat[:, good], var[:, good], matrix, constant=constant, nonnegative=nonneg,
                               covariance=sigma)
    coef[good], cov[good] = c, cv
    if offset is not None and off is not None:
        offset[good] = off
    x, t, sd_x, sd_t = (a.reshape(n_y, n_x) for a in _x_and_t(coef, cov))
    keep = significance_mask(t, sd_t, significance=significance, min_size=min_size) if mask is None else mask
    notes = [f"unmixing: {method}, {refs.phases[0]} fraction x; absorptivity matrix condition number {cond:.1f}"]
    if refs.approximate:
        notes.append("reference spectra: built-in APPROXIMATE literature-shaped defaults; give measured end-member "
                     "spectra (--references) for quantitative x")
    if cond > 20:
        notes.append(f"the energies {list(energies)} separate the phases poorly (condition number {cond:.0f}); x "
                     "will be noisy")
    return Composition(np.where(keep, x, np.nan), t, np.where(keep, sd_x, np.nan), sd_t, keep,
                       coef.T.reshape(matrix.shape[1], n_y, n_x), None if offset is None else offset.reshape(n_y, n_x),
                       method, notes)


def check_energy_shift(
    od: np.ndarray,
    mask: np.ndarray,
    *,
    energies: list[float] | tuple[float, ...],
    references: ReferenceSpectra | None = None,
    max_shift_ev: float = 2.0,
    step_ev: float = 0.05,
) -> dict[str, object]:
    """Check the data's energy scale against the references: the shift that best fits the mean particle spectrum.

    Parameters
    ----------
    od : ndarray, shape (E, Y, X)
        Optical density.
    mask : ndarray of bool, shape (Y, X)
        Particle pixels.
    energies : list of float
        Energies of the images, eV.
    references : ReferenceSpectra, optional
        End members (default: the built-in approximate ones).
    max_shift_ev, step_ev : float
        Shifts tried.

    Returns
    -------
    dict
        ``shift_ev`` (None when fewer than 3 energies make it uncheckable), ``improvement`` (residual ratio
        unshifted / best) and a ``note``.
    """
    refs = references or default_references()
    if len(energies) < 3 or not np.any(mask):
        return {"shift_ev": None, "note": f"energy scale not checkable with {len(energies)} energies (needs >= 3 "
                "and a particle); make sure the references share the beamline's energy calibration"}
    spectrum = np.array([np.nanmean(img[mask]) for img in od])
    lo, hi = refs.energies_ev[0] - min(energies), refs.energies_ev[-1] - max(energies)
    shifts = np.arange(max(-max_shift_ev, lo), min(max_shift_ev, hi) + 1e-9, step_ev)
    resid = []
    for s in shifts:
        a = np.hstack([refs.at(energies, shift_ev=s), np.ones((len(energies), 1))])
        coef, *_ = np.linalg.lstsq(a, spectrum, rcond=None)
        coef[:-1] = np.maximum(coef[:-1], 0)
        resid.append(float(np.sum((a @ coef - spectrum) ** 2)))
    best = int(np.argmin(resid))
    zero = int(np.argmin(np.abs(shifts)))
    shift = float(shifts[best])
    note = (f"best reference shift {shift:+.2f} eV" + (" - larger than 0.3 eV: check the energy calibration of the "
                                                        "data against the references" if abs(shift) > 0.3 else ""))
    return {"shift_ev": shift, "improvement": resid[zero] / max(resid[best], 1e-300), "note": note}
