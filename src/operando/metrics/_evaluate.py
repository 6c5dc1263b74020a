"""Compare candidate stacks (noisy, denoised, ...) against a clean reference."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .._errors import InputError
from .._progress import Progress, emit
from ._fidelity import conditional_bias, local_variability, mass_drift, mean_bias
from ._quality import as_frames, psnr_frames, ssim_frames


@dataclass(frozen=True)
class Evaluation:
    """Quality of one candidate against the clean reference."""

    name: str
    psnr_db: float
    ssim: float
    bias: float
    max_conditional_bias: float
    max_mass_drift: float
    variability: float
    psnr_frames_db: tuple[float, ...]

    def to_dict(self) -> dict[str, float | str]:
        """Return the summary values as a flat dict (no per-frame list)."""
        out = asdict(self)
        out.pop("psnr_frames_db")
        return out


def default_data_range(clean: np.ndarray) -> float:
    """Return the data range used when none is given.

    Parameters
    ----------
    clean : ndarray
        The reference data.

    Returns
    -------
    float
        The dtype's range for integers, 1 for data in [0, 1], else max - min.
    """
    arr = np.asarray(clean)
    if arr.dtype.kind in "ui":
        info = np.iinfo(arr.dtype)
        return float(info.max - info.min) if info.min < 0 else float(info.max)
    lo, hi = float(arr.min()), float(arr.max())
    return 1.0 if lo >= 0 and hi <= 1 else hi - lo


def evaluate(
    clean,
    candidates: dict[str, object],
    *,
    data_range: float,
    axes: str | None = None,
    skip_edge_frames: int = 0,
    progress: Progress | None = None,
) -> list[Evaluation]:
    """Measure each candidate against ``clean``: PSNR (mean over frames), SSIM, bias, mass drift, variability.

    Parameters
    ----------
    clean : Stack or ndarray
        The reference.
    candidates : dict
        Name -> stack of the same shape.
    data_range : float
        The R in PSNR = 10 log10(R^2 / MSE) (1 for concentrations in [0, 1]).
    skip_edge_frames : int
        Leave this many frames out at each end of the time axis (e.g. half a denoiser's window).
    progress : callable, optional
        Receives one :class:`operando.ProgressEvent` per candidate; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    list of Evaluation
        One per candidate, in the order given.
    """
    ref = as_frames(clean, axes=axes)
    if skip_edge_frames < 0 or 2 * skip_edge_frames >= ref.shape[0]:
        raise InputError(f"skip_edge_frames {skip_edge_frames}: must be >= 0 and leave frames of the "
                         f"{ref.shape[0]} to measure (at most {(ref.shape[0] - 1) // 2})")
    sl = slice(skip_edge_frames, ref.shape[0] - skip_edge_frames if skip_edge_frames else None)
    ref = ref[sl]
    video = ref.ndim == 3 and ref.shape[0] >= 3
    frame_axes = "TYX" if ref.ndim == 3 else "TYXC"
    results = []
    for i, (name, cand) in enumerate(candidates.items()):
        emit(progress, i / max(len(candidates), 1), f"evaluating {name} ({i + 1} of {len(candidates)})")
        test = as_frames(cand, axes=axes)[sl]
        per_frame = psnr_frames(ref, test, data_range=data_range, axes=frame_axes)
        ss = ssim_frames(ref, test, data_range=data_range, axes=frame_axes)
        results.append(Evaluation(
            name=name,
            psnr_db=float(np.mean(per_frame)),
            ssim=float(np.mean(ss)),
            bias=mean_bias(ref, test, axes=frame_axes),
            max_conditional_bias=conditional_bias(ref, test, axes=frame_axes).max_abs(min_count=100),
            max_mass_drift=float(np.max(np.abs(mass_drift(test, axes=frame_axes)))),
            variability=local_variability(test, axes="TYX") if video else float("nan"),
            psnr_frames_db=tuple(float(v) for v in per_frame),
        ))
    emit(progress, 1.0, f"evaluated {len(results)} candidates")
    return results
