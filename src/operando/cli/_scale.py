"""Streaming options of ``operando denoise`` and ``operando predict``: --memory-limit, --scheduler.

A run streams (chunk by chunk into a resumable Zarr store, :mod:`operando.workflows.scale`) when its output is a
``.zarr`` store, or when --memory-limit or --scheduler is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .._errors import InputError
from ._common import console, err_console, progress_bar

MemoryLimitOption = Annotated[Optional[str], typer.Option(
    "--memory-limit", help="Memory for the data in flight, e.g. 2GB (default: half the available memory); sets "
    "the chunk size of a streamed run (.zarr output).")]
SchedulerOption = Annotated[Optional[str], typer.Option(
    "--scheduler", help="Streamed runs: threads (default, this process), processes or local:N (a Dask "
    "LocalCluster of N workers), or a Dask scheduler address such as tcp://host:8786.")]


def wants_stream(output: Path, memory_limit: str | None, scheduler: str | None) -> bool:
    """Return True when the run should stream into Zarr; refuse streaming options with another output.

    Parameters
    ----------
    output : Path
        The output path.
    memory_limit, scheduler : str or None
        The streaming options given.

    Returns
    -------
    bool
        Whether to stream.
    """
    is_zarr = output.name.lower().endswith(".zarr")
    if (memory_limit is not None or scheduler is not None) and not is_zarr:
        raise InputError(f"{output}: --memory-limit and --scheduler stream the result chunk by chunk into a Zarr "
                         "store; give an output ending in .zarr")
    return is_zarr


def _dashboard(address: str) -> None:
    err_console.print(f"Dask dashboard: {address}", soft_wrap=True, highlight=False)


def run_streamed(kind: str, **kwargs: Any) -> None:
    """Run :func:`predict_large` (``kind="predict"``) or :func:`denoise_large` with a progress bar; summarise.

    Parameters
    ----------
    kind : {"predict", "denoise"}
        Which workflow.
    **kwargs
        Its arguments (input, output, model or method, ...).

    Returns
    -------
    None
    """
    from ..workflows.scale import denoise_large, predict_large

    fn = predict_large if kind == "predict" else denoise_large
    kwargs["scheduler"] = kwargs.get("scheduler") or "threads"
    with progress_bar(f"{kind} (streamed)") as update:
        result = fn(**kwargs, progress=update, on_dashboard=_dashboard)
    resumed = f", {result.skipped} finished chunk(s) kept from an earlier run" if result.skipped else ""
    console.print(f"wrote {result.output}: shape {result.shape}, dtype {result.dtype}, {result.n_chunks} chunk(s)"
                  f"{resumed}; {result.frames_per_s:.1f} frames/s ({result.scheduler})")
