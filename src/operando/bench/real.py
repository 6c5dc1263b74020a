"""Real-data benchmark: a short neutron exposure denoised, scored against a 24x longer one of the same scene.

``../shared/data/neutron/stepwedge/`` holds a water-filled aluminium step wedge at 5 s and 120 s, each with
an open beam and a dark current. Transmission is ``(I - D) / (OB - D)`` as the neutron package normalises it
(:func:`operando.neutron.read_normalized`: gamma spots replaced by their neighbour median, no beam correction;
pixels where the sample is not above the dark are NaN). The 120 s transmission is the reference: its noise
variance is about 1/24 of the 5 s one's, so the MSE of a perfect denoiser would be that small residue, not zero.

Methods: every denoiser at the same budget, a Gaussian filter whose width is tuned against the reference
itself (the best any Gaussian can do; it cheats by looking at the answer), and BM3D with the measured noise
power spectrum.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from .._errors import InputError
from .._files import write_csv_file, write_json_file
from .._progress import Progress, emit
from .._provenance import versions
from .._stack import Stack

logger = logging.getLogger(__name__)

DEFAULT_DATA = Path("../shared/data/neutron/stepwedge")
DEFAULT_METHODS = ("auto", "n2v2", "pixel_shuffle", "gaussian", "bm3d")


def stepwedge_transmission(data_dir: str | Path = DEFAULT_DATA, *, exposure: str = "5s") -> np.ndarray:
    """Transmission of the water step wedge at one exposure (``"5s"`` or ``"120s"``), gamma spots removed.

    Parameters
    ----------
    data_dir : path
        Folder with ``exp{exposure}_h2o.tif``, ``_ob.tif`` and ``_dc.tif``.
    exposure : str
        ``"5s"`` or ``"120s"``.

    Returns
    -------
    ndarray, shape (900, 1500), float64
        :func:`operando.neutron.read_normalized` of the three files (NaN where the sample is not above the dark).
    """
    from ..neutron import read_normalized

    folder = Path(data_dir)
    names = [folder / f"exp{exposure}_{kind}.tif" for kind in ("h2o", "ob", "dc")]
    missing = [str(n) for n in names if not n.is_file()]
    if missing:
        raise InputError(f"step-wedge files not found: {', '.join(missing)}; pass --data with the stepwedge folder")
    return read_normalized(*names).stack.to_numpy().astype(np.float64)


def field_of_view(reference: np.ndarray, margin: int = 16) -> tuple[slice, slice]:
    """Rows and columns inside the detector's lit area (where the reference is above a tenth of its median)."""
    lit = reference > 0.1 * np.median(reference)
    rows = np.nonzero(lit.mean(axis=1) > 0.9)[0]
    cols = np.nonzero(lit.mean(axis=0) > 0.9)[0]
    return slice(rows.min() + margin, rows.max() - margin), slice(cols.min() + margin, cols.max() - margin)


def tuned_gaussian(noisy: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float]:
    """Return the Gaussian-filtered image (and its width) closest to the reference in MSE."""
    from scipy.optimize import minimize_scalar

    def mse(width: float) -> float:
        return float(np.mean((ndimage.gaussian_filter(noisy, width, mode="reflect") - reference) ** 2))

    best = minimize_scalar(mse, bounds=(0.3, 6.0), method="bounded", options={"xatol": 0.01})
    width = float(best.x)
    return ndimage.gaussian_filter(noisy, width, mode="reflect"), width


def benchmark_real(
    output: str | Path,
    *,
    data_dir: str | Path = DEFAULT_DATA,
    methods: Sequence[str] = DEFAULT_METHODS,
    crop: int | None = 512,
    time_budget_s: float = 300.0,
    max_steps: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Denoise the 5 s step-wedge transmission with every method; MSE against the 120 s one.

    Parameters
    ----------
    output : path
        Folder for ``real_benchmark.csv``, ``.json`` and ``report.md``.
    data_dir : path
        The step-wedge folder.
    methods : sequence of str
        Denoisers (as in :func:`operando.bench.correlated.run_method`).
    crop : int, optional
        Side of a central square of the field of view (None: the whole lit field, slower).
    time_budget_s : float
        Training budget of every network, seconds.
    max_steps : int, optional
        Training step cap (equal steps rather than equal time on a shared CPU).
    seed : int
        Training seed.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    dict
        ``rows`` (method, MSE, MSE relative to the tuned Gaussian, seconds, what auto chose), ``noise`` (the
        measured correlation of the 5 s transmission), ``gaussian_width_px``.
    """
    from .. import noise
    from .correlated import run_method

    short = stepwedge_transmission(data_dir, exposure="5s")
    long = stepwedge_transmission(data_dir, exposure="120s")
    rows_fov, cols_fov = field_of_view(long)
    short, long = short[rows_fov, cols_fov], long[rows_fov, cols_fov]
    if crop is not None:
        y0, x0 = (short.shape[0] - crop) // 2, (short.shape[1] - crop) // 2
        short, long = short[y0:y0 + crop, x0:x0 + crop], long[y0:y0 + crop, x0:x0 + crop]
    masked = ~np.isfinite(short)  # the sample not above the dark: filled for the denoisers, left out of the MSE
    short = np.where(masked, np.nanmedian(short), short) if masked.any() else short

    def mse(image: np.ndarray) -> float:
        return float(np.mean(((image - long) ** 2)[~masked]))

    noisy = Stack(short.astype(np.float32), axes="YX")
    measured = noise.measure_noise_correlation(noisy)
    rows = [{"method": "noisy", "mse": mse(short), "seconds": 0.0, "chosen": ""}]
    smoothed, width = tuned_gaussian(short, long)
    rows.append({"method": "gaussian_tuned_on_reference", "mse": mse(smoothed), "seconds": 0.0,
                 "chosen": f"width {width:.2f} px"})
    for i, method in enumerate(methods):
        emit(progress, i / len(methods), f"step wedge: {method}")
        t0 = time.perf_counter()
        try:
            result, chosen = run_method(method, noisy, time_budget_s=time_budget_s, max_steps=max_steps, seed=seed,
                                        true_acov=None)
        except ImportError as exc:
            logger.warning("skipping %s: %s", method, exc)
            continue
        out = result.to_numpy().astype(np.float64)
        rows.append({"method": method, "mse": mse(out),
                     "seconds": time.perf_counter() - t0, "chosen": chosen})
    for r in rows:
        r["vs_tuned_gaussian"] = r["mse"] / rows[1]["mse"]
    summary = {"rows": rows, "noise": measured.to_dict(), "gaussian_width_px": width, "crop": crop, "seed": seed,
               "time_budget_s": time_budget_s, "max_steps": max_steps, "shape": list(short.shape),
               "versions": versions()}
    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv_file(out_dir / "real_benchmark.csv", rows)
    write_json_file(out_dir / "real_benchmark.json", summary)
    return summary
