"""Noise diagnostics: what kind of noise is in a stack (measured here; ``_auto`` alone chooses from it).

:func:`measure` fills a :class:`Diagnosis` with the measurements and leaves ``recommended_method`` and
``recommended_reason`` empty; :func:`operando.denoise.diagnose` (``_auto.diagnose``) adds the method ``auto``
picks from them. Nothing here imports ``_auto``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._progress import Progress, check_cancel
from .._stack import Stack, as_stack
from ..noise import robust_sd
from ._layout import to_working
from ._measured import exact_impulse_pixels


@dataclass(frozen=True)
class Diagnosis:
    """What the noise looks like, and (from :func:`operando.denoise.diagnose`) the method ``auto`` picks for it."""

    noise_sigma: float
    impulse_fraction: float
    spatial_corr_x: float
    spatial_corr_y: float
    temporal_corr: float
    stripes: bool
    static_in_time: bool
    n_frames: int
    recommended_method: str
    recommended_loss: str
    notes: tuple[str, ...]
    impulses_known: bool = False  # the impulses sit at fixed values, so which pixels hold them is known exactly
    correlation_length_px: int = 0  # largest lag with noise correlation >= 0.1 (0: white)
    recommended_reason: str = ""  # why recommended_method (the measured correlation), as method="auto" prints it
    noise_correlation: object = field(default=None, repr=False, compare=False)  # noise.NoiseCorrelation or None
    correlation_unmeasured: str = ""  # why the correlation could not be measured ("" when it was, or too small)
    constant: bool = False  # every pixel examined holds the same value: no noise to measure
    constant_value: float = 0.0  # that value

    @property
    def spatially_white(self) -> bool:
        """True when neighbouring pixels' noise is independent (no stripes, no spatial correlation)."""
        if self.noise_correlation is not None:
            return not self.stripes and self.noise_correlation.blind_spot_ok
        return not self.stripes and max(self.spatial_corr_x, self.spatial_corr_y) < 0.2

    def to_dict(self) -> dict[str, object]:
        """Return the diagnosis as a JSON-ready dict (the correlation measurement as its summary)."""
        out = asdict(replace(self, noise_correlation=None))
        out["noise_correlation"] = None if self.noise_correlation is None else self.noise_correlation.to_dict()
        return out


def _measure_correlation(stack: Stack) -> tuple[object, str]:
    """Measure the noise's correlation (operando.noise): (measurement, "") or (None, why it could not be)."""
    from ..noise import measure_noise_correlation

    try:
        return measure_noise_correlation(stack, max_frames=8), ""
    except InputError as exc:
        return None, "" if "too small" in str(exc) else str(exc)


def _constant(n: int, value: float) -> Diagnosis:
    """Return the diagnosis of data whose every pixel is ``value``: no noise to measure."""
    return Diagnosis(
        noise_sigma=0.0, impulse_fraction=0.0, spatial_corr_x=0.0, spatial_corr_y=0.0, temporal_corr=0.0,
        stripes=False, static_in_time=False, n_frames=n, recommended_method="", recommended_loss="mse",
        notes=(f"the image is constant (every pixel {value:g}): there is no noise to measure or remove",),
        constant=True, constant_value=value,
    )


def _residual_correlation(resid: np.ndarray) -> tuple[float, float, float]:
    """Lag-1 correlation of the median residual along X, Y and T (0 where it cannot be measured).

    The one autocorrelation of a residual, :func:`operando.noise.noise_autocorrelation` (pooled over frames,
    each frame's mean removed).
    """
    from ..noise import noise_autocorrelation

    n = resid.shape[0]
    try:
        acf = noise_autocorrelation(resid, max_lag=1, axes_only=True, temporal=n > 1)
    except InputError:  # no finite pixel
        return 0.0, 0.0, 0.0
    values = (acf.acf_x[1], acf.acf_y[1], acf.acf_t[1] if n > 1 else 0.0)
    return tuple(float(np.nan_to_num(v)) for v in values)


def measure(data: Stack | np.ndarray, *, axes: str | None = None, progress: Progress | None = None) -> Diagnosis:
    """Measure the noise (the one measurement of a run; :func:`operando.denoise.diagnose` adds the choice).

    The noise level, impulses and stripes come from the residual of a small spatial median filter. The
    spatial and temporal correlations come from :func:`operando.noise.measure_noise_correlation` (corrected
    for its first pass, so white noise reads 0 and correlated noise its true neighbour correlation; the median
    residual's own lag-1 correlation is biased negative and is used only when the images are too small to
    measure). Also reported: the correlation length and whether the noise is static in time (fixed pattern,
    which temporal masking cannot remove). ``recommended_method`` and ``recommended_reason`` are left empty:
    ``_auto.choose_from`` fills them.

    Parameters
    ----------
    data : Stack or ndarray
        The noisy stack (its first sequence and channel are examined).
    axes : str, optional
        Axes of a plain array (e.g. ``"TYX"``).
    progress : callable, optional
        Asked between the measurement's steps whether to stop (raise :class:`~operando.Cancelled` in it).

    Returns
    -------
    Diagnosis
        Noise level, impulse share, correlations, stripes, fixed pattern and the recommended loss.
    """
    stack = as_stack(data, axes=axes)
    work, _ = to_working(stack)
    if work.size == 0:
        raise InputError(f"the stack is empty (shape {stack.shape}); give data with at least one image")
    seq = work[0, :, 0].astype(np.float64)  # (S, Y, X), first batch, first channel
    if np.ptp(work) == 0:
        return _constant(seq.shape[0], float(work.flat[0]))
    check_cancel(progress)
    smooth = ndimage.median_filter(seq, size=(1, 3, 3), mode="reflect")
    check_cancel(progress)
    resid = seq - smooth
    spread = robust_sd(resid)
    sigma = spread / 0.83  # median-of-9 residual shrinks Gaussian noise by ~0.83
    thresh = 6 * max(spread, 1e-12)
    impulse = float(np.mean(np.abs(resid) > thresh))
    cx, cy, ct = _residual_correlation(resid)
    n = seq.shape[0]
    row_means = resid.mean(axis=-1)
    expected = resid.std() / np.sqrt(resid.shape[-1])
    stripes = bool(row_means.std() > 3 * expected and cx > 0.2)
    check_cancel(progress)
    corr, unmeasured = _measure_correlation(stack)
    check_cancel(progress)
    if corr is not None:  # the first-pass-corrected measurement replaces the median residual's biased one
        cx, cy = corr.acf_x[1], corr.acf_y[1]
        ct = corr.temporal_corr if corr.temporal_corr is not None else ct
    static = bool(n > 1 and ct > 0.5)
    notes = []
    if static:
        notes.append("noise repeats from frame to frame (fixed pattern): temporal masking cannot remove it; "
                     "apply a flat/dark correction first")
    if stripes:
        notes.append("row-correlated (scan-line) noise: use the video denoiser, or structn2v for single images")
    exact = exact_impulse_pixels(work)
    known = exact is not None and float(exact.mean()) > 0.005
    if known:  # fixed-value impulses count even where they hide inside strong noise
        impulse = max(impulse, float(exact.mean()))
        notes.append(f"impulse (salt-and-pepper) noise in ~{100 * impulse:.1f}% of pixels, at fixed values: "
                     "left out of the loss, squared error for the rest")
    elif impulse > 0.005:
        notes.append(f"impulse (salt-and-pepper) noise in ~{100 * impulse:.1f}% of pixels: L1 loss (median)")
    if unmeasured:
        notes.append(f"noise correlation not measured: {unmeasured}")
    if n < 5:
        notes.append(f"only {n} frame(s): the video denoiser needs >= 5; using an image denoiser")
    loss = "l1" if impulse > 0.005 and not known else "mse"
    return Diagnosis(
        noise_sigma=float(sigma), impulse_fraction=impulse, spatial_corr_x=float(cx), spatial_corr_y=float(cy),
        temporal_corr=float(ct), stripes=stripes, static_in_time=static, n_frames=n,
        recommended_method="", recommended_loss=loss, notes=tuple(notes), impulses_known=known,
        correlation_length_px=corr.correlation_length_px if corr is not None else 0, noise_correlation=corr,
        correlation_unmeasured=unmeasured,
    )
