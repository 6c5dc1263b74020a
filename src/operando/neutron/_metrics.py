"""Battery metrics on Delta A: dynamic variability, active area per half-cycle, depth profiles, Li inventory."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._stack import Stack
from .._units import convert
from ..metrics import local_std, local_variability

#: Avogadro's number, 1 / mol.
AVOGADRO = 6.02214076e23
#: Thermal (2200 m/s, 1.798 Angstrom) absorption cross-sections in barn, and the bound scattering ones.
LI6_ABSORPTION_BARN, LI7_ABSORPTION_BARN = 940.0, 0.0454
LI6_SCATTERING_BARN, LI7_SCATTERING_BARN = 0.97, 1.40
THERMAL_WAVELENGTH_A = 1.798


def _frames(data: Stack | np.ndarray) -> np.ndarray:
    """Return (T, Y, X) float64 data from a ``TYX`` stack or array."""
    if isinstance(data, Stack):
        if data.axes != "TYX":
            raise InputError(f"need a TYX series (frames of one field of view), got axes {data.axes!r}; give a "
                             "series of frames such as delta_a_raw.tif")
        data = data.to_numpy()
    arr = np.asarray(data, np.float64)
    if arr.ndim != 3:
        raise InputError(f"need a (T, Y, X) series, got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class Variability:
    """Dynamic variability: the mean local (t, y, x) standard deviation over a mask."""

    value: float
    window: int
    voxels: int
    excluded_voxels: int


def _valid_windows(arr: np.ndarray, window: int) -> np.ndarray:
    """Return the voxels whose whole window holds finite values."""
    bad = ~np.isfinite(arr)
    return ndimage.maximum_filter(bad, size=window, mode="nearest") == 0 if bad.any() else np.ones(arr.shape, bool)


def dynamic_variability(
    data: Stack | np.ndarray, *, mask: np.ndarray | None = None, window: int = 3
) -> Variability:
    """Return the dynamic variability: mean over a mask of the local ``window^3`` (t, y, x) standard deviation.

    ``s(t, y, x) = sqrt(mean_w(v^2) - mean_w(v)^2)`` (population sd, reflect boundaries), averaged over the mask
    and over frames; computed by :func:`operando.metrics.local_variability`. Voxels whose window touches a
    masked (NaN) value are left out and counted.

    Parameters
    ----------
    data : Stack or ndarray, shape (T, Y, X)
        Delta A (or any series).
    mask : ndarray of bool, shape (Y, X) or (T, Y, X), optional
        Where to average (default everywhere).
    window : int
        Window side (3 in the paper).

    Returns
    -------
    Variability
        Value, window, voxels averaged and voxels left out.
    """
    arr = _frames(data)
    if isinstance(window, bool) or int(window) != window or window < 2:
        raise InputError(f"window = {window!r}: the local sd needs a window of at least 2 frames and pixels (the "
                         "paper's is 3)")
    if window > min(arr.shape):
        raise InputError(f"window = {window} is larger than the series ({'x'.join(map(str, arr.shape))} t,y,x); "
                         f"give a window of at most {min(arr.shape)}")
    if mask is not None and np.shape(mask) not in (arr.shape[1:], arr.shape):
        raise InputError(f"the mask is {'x'.join(map(str, np.shape(mask)))} but the series is "
                         f"{'x'.join(map(str, arr.shape))}; give a mask of the image size "
                         f"{'x'.join(map(str, arr.shape[1:]))} or of the whole series")
    if not np.isfinite(arr).any():
        raise InputError("the series holds no finite value (all NaN or inf); nothing to measure")
    valid = _valid_windows(arr, window)
    use = valid if mask is None else valid & np.broadcast_to(np.asarray(mask, bool), arr.shape)
    if not use.any():
        raise InputError("the variability mask selects no voxel with a complete window; check the mask and NaNs")
    value = local_variability(np.where(np.isfinite(arr), arr, 0.0), axes="TYX", mask=use, window=window)
    selected = arr.size if mask is None else int(np.broadcast_to(np.asarray(mask, bool), arr.shape).sum())
    return Variability(value, window, int(use.sum()), int(selected - use.sum()))


def local_std_map(data: Stack | np.ndarray, *, window: int = 3) -> np.ndarray:
    """Return the local (t, y, x) standard deviation at every voxel, whose masked mean is the variability.

    Parameters
    ----------
    data : Stack or ndarray, shape (T, Y, X)
        The series (NaN allowed; windows touching NaN give NaN).
    window : int
        Window side.

    Returns
    -------
    ndarray, shape (T, Y, X)
        The same ``s`` that :func:`dynamic_variability` averages (for histograms).
    """
    arr = _frames(data)
    std = local_std(np.where(np.isfinite(arr), arr, 0.0), window=window)
    return np.where(_valid_windows(arr, window), std, np.nan)


def half_cycle_changes(
    delta_a: np.ndarray, var_a: np.ndarray, boundaries: Sequence[int], *, n_avg: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Return the change of Delta A over each half-cycle and its propagated sd.

    The state at boundary frame ``b`` is the mean of frames ``b - n_avg + 1 .. b`` (clipped at 0); half-cycle
    ``h`` runs from ``boundaries[h]`` to ``boundaries[h + 1]``. The reference cancels in a change, so
    ``var = mean(var A at the end frames) / n_end + mean(var A at the start frames) / n_start``.

    Parameters
    ----------
    delta_a : ndarray, shape (T, Y, X)
        Delta A.
    var_a : ndarray, shape (T, Y, X)
        Variance of each frame's A (``DeltaA.var_a``).
    boundaries : sequence of int
        Frame indices of the half-cycle ends, starting with the first half-cycle's start.
    n_avg : int
        Frames averaged at each boundary.

    Returns
    -------
    change : ndarray, shape (H, Y, X)
        Change over each half-cycle.
    sd : ndarray, shape (H, Y, X)
        Its propagated sd.
    """
    arr, var = _frames(delta_a), np.broadcast_to(np.asarray(var_a, np.float64), np.shape(delta_a))
    bounds = [int(b) for b in boundaries]
    if len(bounds) < 2 or any(b1 <= b0 for b0, b1 in zip(bounds, bounds[1:], strict=False)) or bounds[-1] >= len(arr) \
            or bounds[0] < 0:
        raise InputError(f"half-cycle boundaries {bounds} must increase within the {len(arr)} frames")

    def state(b: int) -> tuple[np.ndarray, np.ndarray]:
        frames = list(range(max(0, b - n_avg + 1), b + 1))
        return np.mean(arr[frames], axis=0), np.mean(var[frames], axis=0) / len(frames)

    states = [state(b) for b in bounds]
    change = np.stack([e[0] - s[0] for s, e in zip(states, states[1:], strict=False)])
    sd = np.stack([np.sqrt(e[1] + s[1]) for s, e in zip(states, states[1:], strict=False)])
    return change, sd


def active_area_fraction(
    change: np.ndarray, threshold: np.ndarray, masks: dict[str, np.ndarray]
) -> dict[str, list[float]]:
    """Return, per region and half-cycle, the share of pixels whose ``|change|`` exceeds the threshold.

    Parameters
    ----------
    change : ndarray, shape (H, Y, X)
        Change of Delta A over each half-cycle (:func:`half_cycle_changes`).
    threshold : ndarray, shape (H, Y, X) or scalar
        ``k`` times the propagated sd of the change (NaN pixels are left out).
    masks : dict of str to ndarray of bool, shape (Y, X)
        The electrodes.

    Returns
    -------
    dict of str to list of float
        Active area fraction of each region per half-cycle.
    """
    thr = np.broadcast_to(np.asarray(threshold, np.float64), change.shape)
    active = np.abs(change) > thr
    usable = np.isfinite(change) & np.isfinite(thr)
    out: dict[str, list[float]] = {}
    for name, mask in masks.items():
        fractions = []
        for h in range(len(change)):
            pixels = mask & usable[h]
            fractions.append(float(active[h][pixels].mean()) if pixels.any() else float("nan"))
        out[name] = fractions
    return out


@dataclass(frozen=True)
class DepthProfile:
    """Depth profiles of one electrode: in-plane mean and sd per frame, from separator to current collector."""

    mean: np.ndarray
    sd: np.ndarray
    depth_px: np.ndarray

    @property
    def kymograph(self) -> np.ndarray:
        """Return the mean profile as a (depth, time) image."""
        return self.mean.T


def depth_profile(
    data: np.ndarray, mask: np.ndarray, *, depth_axis: str = "X", separator_first: bool = True
) -> DepthProfile:
    """Average Delta A along the in-plane axis inside an electrode, with the in-plane sd, for every frame.

    Parameters
    ----------
    data : ndarray, shape (T, Y, X)
        Delta A.
    mask : ndarray of bool, shape (Y, X)
        The electrode.
    depth_axis : {"X", "Y"}
        The through-plane axis.
    separator_first : bool
        The separator lies at low indices along the depth axis (else profiles are reversed so that depth 0 is
        always at the separator).

    Returns
    -------
    DepthProfile
        ``mean`` and ``sd`` of shape (T, D) and the depth in pixels from the separator side.
    """
    arr = _frames(data)
    if depth_axis == "Y":
        arr, mask = np.swapaxes(arr, 1, 2), mask.T
    cols = np.nonzero(mask.any(axis=0))[0]
    means, sds = np.full((len(arr), len(cols)), np.nan), np.full((len(arr), len(cols)), np.nan)
    for j, c in enumerate(cols):
        values = arr[:, mask[:, c], c]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            means[:, j], sds[:, j] = np.nanmean(values, axis=1), np.nanstd(values, axis=1)
    if not separator_first:
        means, sds = means[:, ::-1], sds[:, ::-1]
    return DepthProfile(means, sds, np.arange(len(cols), dtype=float))


def inactive_edge_px(profile: np.ndarray, *, plateau_fraction: float = 0.5) -> float:
    """Return the thickness (pixels) of the inactive zone at the current-collector end of a change profile.

    The plateau is the median of the profile's first half (separator side); the edge is where the profile,
    read from the current collector, first rises above half of the plateau (linear interpolation).

    Parameters
    ----------
    profile : ndarray, shape (D,)
        Change of Delta A over a half-cycle vs depth from the separator.
    plateau_fraction : float
        Share of the profile (separator side) taken as the plateau.

    Returns
    -------
    float
        Pixels from the current-collector end (0: no inactive zone).
    """
    p = np.asarray(profile, np.float64)
    plateau = float(np.nanmedian(p[: max(1, int(len(p) * plateau_fraction))]))
    rev = p[::-1] * np.sign(plateau or 1.0)
    half = 0.5 * abs(plateau)
    above = np.nonzero(rev > half)[0]
    if above.size == 0:
        return float(len(p))
    i = int(above[0])
    if i == 0:
        return 0.0
    lo, hi = rev[i - 1], rev[i]
    return float(i - 1 + (half - lo) / (hi - lo) + 0.5) if hi != lo else float(i)


def li_cross_section_barn(li6_fraction: float = 0.0759, *, wavelength_angstrom: float = THERMAL_WAVELENGTH_A) -> float:
    """Return the total neutron cross-section of one Li atom (barn) for a 6Li fraction and wavelength.

    Absorption scales as 1/v (proportional to wavelength) from the 2200 m/s values (6Li 940 b, 7Li 0.0454 b);
    bound scattering (6Li 0.97 b, 7Li 1.40 b) is taken as constant. Natural lithium (7.59 % 6Li) gives about
    72.7 b at 1.8 Angstrom. A polychromatic beam needs the spectrum-averaged value: pass it to
    :func:`lithium_inventory` directly.

    Parameters
    ----------
    li6_fraction : float
        Atom fraction of 6Li (0.0759 natural; up to ~0.95 enriched).
    wavelength_angstrom : float
        Neutron wavelength.

    Returns
    -------
    float
        Cross-section in barn.
    """
    if not 0 <= li6_fraction <= 1:
        raise InputError(f"li6_fraction must be in [0, 1], got {li6_fraction}")
    scale = wavelength_angstrom / THERMAL_WAVELENGTH_A
    absorption = li6_fraction * LI6_ABSORPTION_BARN + (1 - li6_fraction) * LI7_ABSORPTION_BARN
    scattering = li6_fraction * LI6_SCATTERING_BARN + (1 - li6_fraction) * LI7_SCATTERING_BARN
    return float(absorption * scale + scattering)


def pixel_area_cm2(pixel_size_um: float) -> float:
    """Return the area of a square pixel of side ``pixel_size_um`` (um) in cm^2, the unit conversion by pint."""
    return (pixel_size_um * convert(1.0, "um", "cm")) ** 2


def barn_in_cm2(barn: float) -> float:
    """Return a cross-section given in barn in cm^2 (1 barn = 1e-24 cm^2, by pint)."""
    return barn * convert(1.0, "barn", "cm**2")


def lithium_inventory(
    delta_a: np.ndarray, mask: np.ndarray, *, pixel_size_um: float | None = None,
    cross_section_barn: float | None = None,
) -> dict[str, list[float] | None]:
    """Integrate Delta A over a region per frame, and convert it to moles of lithium when possible.

    ``N = sum(Delta A) * a / sigma`` atoms (``a`` the pixel area in cm^2, ``sigma`` in cm^2), since
    ``Delta A = sigma * n`` for an areal density ``n`` of added Li; moles ``= N / N_A``. NaN pixels are left out
    and the sum scaled by the share of pixels used.

    Parameters
    ----------
    delta_a : ndarray, shape (T, Y, X)
        Delta A.
    mask : ndarray of bool, shape (Y, X)
        The region.
    pixel_size_um : float, optional
        Pixel size; needed for moles.
    cross_section_barn : float, optional
        Li cross-section (:func:`li_cross_section_barn`); needed for moles.

    Returns
    -------
    dict
        ``integrated_delta_a_px`` (sum over pixels, per frame) and ``moles`` (or None).
    """
    arr = _frames(delta_a)[:, mask]
    finite = np.isfinite(arr)
    share = finite.sum(axis=1) / max(arr.shape[1], 1)
    total = np.where(share > 0, np.nansum(arr, axis=1) / np.maximum(share, 1e-12), np.nan)
    moles = None
    if pixel_size_um and cross_section_barn:
        moles = (total * pixel_area_cm2(pixel_size_um) / barn_in_cm2(cross_section_barn) / AVOGADRO).tolist()
    return {"integrated_delta_a_px": total.tolist(), "moles": moles}
