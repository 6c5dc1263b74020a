"""Streaming options of ``operando denoise`` and ``operando predict``: --memory-limit, --scheduler, --allow-missing.

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
    "LocalCluster of N workers, each with an equal share of the frames and cores / N torch threads; a stack under "
    "64 frames of 512 x 512 runs in this process instead, with a note), or a Dask scheduler address such as "
    "tcp://host:8786 (start its workers with --nthreads 1).")]

AllowMissingOption = Annotated[bool, typer.Option(
    "--allow-missing", help="A Zarr input with stored chunks missing or undecodable is refused; read them as NaN "
    "(masked, with a note) instead.")]


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


def run_streamed(kind: str, **kwargs: Any) -> Any:
    """Run :func:`predict_large` (``kind="predict"``) or :func:`denoise_large` with a progress bar; summarise.

    Parameters
    ----------
    kind : {"predict", "denoise"}
        Which workflow.
    **kwargs
        Its arguments (input, output, model or method, ...).

    Returns
    -------
    ScaleResult
        What the workflow returned.
    """
    from ..workflows.scale import denoise_large, predict_large

    fn = predict_large if kind == "predict" else denoise_large
    kwargs["scheduler"] = kwargs.get("scheduler") or "threads"
    with progress_bar(f"{kind} (streamed)") as update:
        result = fn(**kwargs, progress=update, on_dashboard=_dashboard)
    auto = result.manifest.get("auto")
    if auto is not None:
        console.print(f"method auto -> {auto['method']} (diagnosed on a sample of frames): {auto['reason']}",
                      highlight=False)
    resumed = f", {result.skipped} finished chunk(s) kept from an earlier run" if result.skipped else ""
    console.print(f"wrote {result.output}: shape {result.shape}, dtype {result.dtype}, {result.n_chunks} chunk(s)"
                  f"{resumed}; {result.frames_per_s:.1f} frames/s ({result.scheduler})")
    return result


def stream_denoise(input: Path, output: Path, *, method: str, model: Path | None, **kwargs: Any) -> None:
    """``operando denoise`` into Zarr: a saved ``--model`` streams as is; otherwise train on a sample, then stream.

    Parameters
    ----------
    input, output : Path
        The noisy stack and the ``.zarr`` output.
    method : str
        A method name, or ``auto``: :func:`operando.workflows.scale.denoise_large` diagnoses a bounded sample of
        frames once, picks among the methods that stream, and records the choice in the manifest.
    model : Path or None
        A saved network to apply instead of training.
    **kwargs
        The other arguments of :func:`operando.workflows.scale.denoise_large`.

    Returns
    -------
    None
    """
    if model is not None:
        keep = ("axes", "memory_limit", "scheduler", "tta", "device", "dtype", "allow_missing")
        run_streamed("predict", input=input, output=output, model=model, **{k: kwargs[k] for k in keep if k in kwargs})
        return
    run_streamed("denoise", input=input, output=output, method=method, **kwargs)
