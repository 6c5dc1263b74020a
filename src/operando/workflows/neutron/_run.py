"""Run a neutron analysis: raw counts or transmission -> Delta A (raw and denoised) -> metrics.

In memory (``analyze_series``) or on files (``analyze_files``); and ``operando neutron normalize``.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..._errors import InputError
from ..._files import Target, check_outputs
from ..._progress import Progress, emit, sub_progress
from ..._regions import Region
from ..._stack import Metadata, Stack
from ..._units import length_in, maybe_length_unit
from ...neutron import (
    Regions,
    Transmission,
    differential_attenuation,
    find_layers,
    normalize,
    read_cycler_csv,
    read_radiographs,
)
from ._config import AnalysisConfig
from ._denoise import denoised_delta, restore_region_means
from ._files import load_inputs, transmission_targets, write_analysis, write_transmission
from ._metrics import Analysis, boundaries_of, cycler_summary, metrics_document, series_metrics

logger = logging.getLogger(__name__)


def analyze_series(
    source: Transmission | Stack,
    *,
    config: AnalysisConfig,
    regions: Regions | None = None,
    cycler: Any | None = None,
    raw: tuple[Stack, Stack, Stack] | None = None,
    progress: Progress | None = None,
) -> Analysis:
    """Compute Delta A (raw and denoised) and the paper's metrics from a normalised series.

    Parameters
    ----------
    source : Transmission or Stack
        From :func:`operando.neutron.normalize` (noise propagated from counts) or a ``TYX`` transmission stack
        (noise estimated from the data).
    config : AnalysisConfig
        Settings.
    regions : Regions, optional
        Electrodes, separator, ...; found from the reference attenuation image when omitted.
    cycler : CyclerData, optional
        Cycler record on the frames' clock: half-cycles, capacities and coulombic efficiency.
    raw : (sample, open_beam, dark), optional
        The raw stacks, needed only for ``denoise_target="raw"``.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop the
        analysis (within a few seconds, also while the denoiser trains).

    Returns
    -------
    Analysis
        Delta A, regions, boundaries and metrics (``metrics["raw"]``, ``metrics["denoised"]``), and the
        denoiser's record (for ``denoise="auto"``: what it chose and why).
    """
    _check_transmission(source)
    if config.denoise != "none" and config.denoise_target == "raw" and not isinstance(source, Transmission):
        raise InputError("denoise_target='raw' needs the counts normalised here (sample, open beam and dark), not a "
                         "transmission file; use denoise_target='transmission'")
    started = time.perf_counter()
    delta = differential_attenuation(source, reference=config.reference, register=config.register_drift,
                                     drift_region=config.drift_region,
                                     progress=sub_progress(progress, 0.0, 0.05, "Delta A: "))
    data = delta.stack.to_numpy()
    found = None
    if regions is None:
        stack = source.stack if isinstance(source, Transmission) else source
        with np.errstate(divide="ignore", invalid="ignore"):
            a_ref = -np.log(np.nanmean(stack.to_numpy()[list(delta.reference)], axis=0))
        regions, found = find_layers(a_ref)
    meta = delta.stack.metadata
    bounds, cycler_rows, kinds = boundaries_of(config, len(data), meta.frame_times, cycler)
    pixel_size = pixel_size_um(meta)
    emit(progress, 0.05, "metrics of the raw Delta A")
    metrics: dict[str, Any] = {"raw": series_metrics(data, delta, regions, bounds, kinds, config, pixel_size)}
    denoised, record = None, None
    if config.denoise != "none":
        sample, ob, dc = raw if raw is not None else (None, None, None)
        denoised, record = denoised_delta(sample, ob, dc, source, delta, config,
                                          sub_progress(progress, 0.1, 0.9, "denoise: "))
        if config.mean_correction == "region":
            denoised, delta.info["mean_correction"] = restore_region_means(
                denoised, data, regions, progress=sub_progress(progress, 0.9, 0.95))
        emit(progress, 0.95, "metrics of the denoised Delta A")
        metrics["denoised"] = series_metrics(denoised, delta, regions, bounds, kinds, config, pixel_size)
    metrics["cycler"] = cycler_summary(cycler, cycler_rows, meta.frame_times)
    metrics["half_cycles"] = {"boundaries": bounds, "kinds": kinds[: len(bounds) - 1]}
    metrics["delta_a"] = delta.info | {"mean_propagated_sd": float(np.nanmean(delta.sd))}
    metrics["seconds"] = time.perf_counter() - started
    emit(progress, 1.0, "analysed")
    return Analysis(delta, denoised, regions, bounds, metrics, found, cycler_rows,
                    source if isinstance(source, Transmission) else None, record)


def pixel_size_um(meta: Metadata) -> float | None:
    """Return the pixel size in um for the lithium inventory, or None when the pixels are not calibrated.

    A size without a unit counts as um; any length unit pint reads (``nm``, ``mm``, ``micron``) is converted; an
    uncalibrated unit (``px``) or a non-length one gives None (the inventory is then left in Delta A x pixels).
    """
    if meta.pixel_size is None:
        return None
    if meta.pixel_unit is None:
        return float(meta.pixel_size)
    unit = maybe_length_unit(meta.pixel_unit)
    return length_in(meta.pixel_size, unit, "um") if unit else None


def _check_transmission(source: Transmission | Stack) -> None:
    """Refuse a transmission where ``A = -ln T`` is undefined everywhere or in a whole frame, else note the masked.

    Voxels where T is not positive or not finite are NaN in Delta A; their count is a warning (a note) unless
    :func:`operando.neutron.normalize` has already reported them.
    """
    stack = source.stack if isinstance(source, Transmission) else source
    if stack.axes != "TYX":
        raise InputError(f"need a TYX transmission series for Delta A, got axes {stack.axes!r}; give the frames of "
                         "one field of view")
    data = np.asarray(stack.to_numpy())
    if data.size == 0:
        raise InputError(f"the transmission series is empty (shape {data.shape}); give a series with frames")
    usable = np.isfinite(data) & (data > 0)
    if not usable.any():
        finite = np.isfinite(data)
        what = "holds no finite value (all NaN or inf)" if not finite.any() else \
            f"is nowhere positive (median {float(np.median(data[finite])):.3g})"
        raise InputError(f"the transmission {what}, so -ln T is undefined everywhere; give the transmission written "
                         "by 'operando neutron normalize', or raw counts with --open-beam and --dark")
    empty = [t for t, u in enumerate(usable) if not u.any()]
    if empty:
        raise InputError(f"frame {empty[0]} of the transmission has no positive finite value ({len(empty)} such "
                         "frame(s)), so -ln T is undefined there; remove those frames")
    masked = int(data.size - usable.sum())
    fresh = isinstance(source, Transmission) and "var_a_from" not in source.info  # normalised in this run
    known = int(np.count_nonzero(source.bad)) if fresh else 0  # type: ignore[union-attr]
    if masked and masked != known:  # normalize() has already said how many pixels it masked
        warnings.warn(f"{masked} of {data.size} transmission voxel(s) are not positive or not finite: Delta A is NaN "
                      "(masked) there", UserWarning, stacklevel=3)


def _listed(*groups: Any) -> list[Any]:
    """Flatten the inputs a run reads (single paths, lists of paths, None) for the output guard."""
    return [x for group in groups for x in (group if isinstance(group, (list, tuple)) else [group]) if x is not None]


def analyze_files(
    input_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    config: AnalysisConfig,
    open_beam: Any = None,
    dark: Any = None,
    regions: str | os.PathLike | None = None,
    cycler: str | os.PathLike | None = None,
    frame_interval_s: float | None = None,
    progress: Progress | None = None,
) -> tuple[Analysis, dict[str, Any]]:
    """Run ``operando neutron analyze``: Delta A raw and denoised, metrics.json and the figures in a folder.

    Parameters
    ----------
    input_path : str or path
        A transmission series (from ``operando neutron normalize``) or raw counts (with ``open_beam`` and
        ``dark``): a file, folder or glob.
    output_dir : str or path
        Folder for ``delta_a_raw.tif``, ``delta_a_denoised.tif``, ``delta_a_sd.tif``, ``metrics.json`` and the
        PNG figures.
    config : AnalysisConfig
        Settings (with raw input and no ``open_regions``, the open boxes of regions.json correct the beam; the
        settings recorded in metrics.json say so).
    open_beam, dark : str, path or list, optional
        Open-beam and dark sets for raw input.
    regions : str or path, optional
        regions.json (found from the attenuation image when omitted).
    cycler : str or path, optional
        Cycler CSV on the frames' clock.
    frame_interval_s : float, optional
        Frame interval, when the files record no times.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop: nothing
        is written then (the files are written after the work).

    Returns
    -------
    analysis : Analysis
        In-memory results.
    document : dict
        metrics.json's content.
    """
    out = Path(output_dir)
    check_outputs([Target(out, "output folder", kind="folder")], _listed(input_path, open_beam, dark, regions, cycler))
    emit(progress, 0.0, "reading")
    source, raw, region_set, config = load_inputs(input_path, open_beam, dark, regions, config, frame_interval_s,
                                                  sub_progress(progress, 0.0, 0.1))
    cycler_data = read_cycler_csv(cycler) if cycler else None
    analysis = analyze_series(source, config=config, regions=region_set, cycler=cycler_data, raw=raw,
                              progress=sub_progress(progress, 0.1, 0.95))
    emit(progress, 0.95, "writing")  # the last chance to stop: no partial output after it
    document = metrics_document(analysis, config, input_path=os.fspath(input_path))
    write_analysis(analysis, document, out)
    return analysis, document


def normalize_files(
    samples: str | os.PathLike | Sequence[str | os.PathLike],
    open_beam: str | os.PathLike | Sequence[str | os.PathLike],
    dark: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    open_regions: Sequence[Region] = (),
    spots: Literal["auto", "temporal", "spatial", "none"] = "auto",
    k: float = 5.0,
    gain: float = 1.0,
    exposure_ratio: float | None = None,
    allow_gaps: bool = False,
    progress: Progress | None = None,
) -> tuple[Path, Transmission]:
    """Normalise raw radiographs and write float32 transmission (``TYX`` or ``YX``) with its metadata.

    Beside ``output`` (``T.tif``) it writes ``T_var_a.tif``: the variance of each frame's ``A = -ln T`` from
    its own counts, which ``operando neutron analyze T.tif`` uses to propagate the noise.

    Parameters
    ----------
    samples, open_beam, dark : str, path or list
        Files, folders or globs.
    output : str or path
        Transmission file (``.tif``, ``.h5``, ``.zarr``, ``.npy``).
    open_regions : sequence of Region
        Air regions (``operando._regions.parse_region("y0:y1,x0:x1")``) for the beam-fluctuation correction.
    spots, k, gain, exposure_ratio :
        See :func:`operando.neutron.normalize`.
    allow_gaps : bool
        Accept holes in numbered series.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop
        (nothing is written then).

    Returns
    -------
    path : Path
        The file written.
    transmission : Transmission
        The result.
    """
    check_outputs(transmission_targets(output, "output"), _listed(samples, open_beam, dark))
    sample, ob, dc = read_radiographs(samples, open_beam, dark, allow_gaps=allow_gaps)
    inputs = [*sample.metadata.extra.get("files", []), *ob.metadata.extra.get("files", []),
              *dc.metadata.extra.get("files", [])]
    check_outputs(transmission_targets(output, "output"), inputs)
    tr = normalize(sample, ob, dc, open_regions=open_regions, spots=spots, k=k, gain=gain,
                   exposure_ratio=exposure_ratio, progress=progress)
    return write_transmission(tr, output, sample.axes), tr
