"""Read a sample / open-beam / dark triple from files and normalise it (the step wedge, a user's radiographs)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from .._progress import Progress, sub_progress
from .._stack import Stack
from ._normalize import Box, Transmission, normalize

Source = str | os.PathLike | Sequence[str | os.PathLike]


def read_radiographs(sample: Source, open_beam: Source, dark: Source, *, allow_gaps: bool = False
                     ) -> tuple[Stack, Stack, Stack]:
    """Read a sample series and its open-beam and dark sets (each a file, folder, glob or list of files).

    Parameters
    ----------
    sample, open_beam, dark : str, path or list
        What :func:`operando.io.read_sequence` accepts.
    allow_gaps : bool
        Accept holes in numbered series.

    Returns
    -------
    sample, open_beam, dark : Stack
        ``TYX`` stacks with exposures and timestamps; a one-frame sample is ``YX`` (a single radiograph).
    """
    from ..io import read_sequence

    stacks = [read_sequence(s, allow_gaps=allow_gaps) for s in (sample, open_beam, dark)]
    first = stacks[0]
    if first.axes == "TYX" and first.shape[0] == 1:
        stacks[0] = Stack(first.to_numpy()[0], axes="YX", metadata=first.metadata)
    return stacks[0], stacks[1], stacks[2]


def read_normalized(
    sample: Source,
    open_beam: Source,
    dark: Source,
    *,
    open_regions: Sequence[Box] = (),
    spots: Literal["auto", "temporal", "spatial", "none"] = "auto",
    k: float = 5.0,
    gain: float = 1.0,
    exposure_ratio: float | None = None,
    allow_gaps: bool = False,
    progress: Progress | None = None,
) -> Transmission:
    """Read a sample / open-beam / dark triple and normalise it (:func:`normalize`).

    Parameters
    ----------
    sample, open_beam, dark : str, path or list
        Files, folders or globs (:func:`read_radiographs`).
    open_regions, spots, k, gain, exposure_ratio :
        See :func:`normalize`.
    allow_gaps : bool
        Accept holes in numbered series.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports; raise :class:`operando.Cancelled` in it to stop.

    Returns
    -------
    Transmission
        T (``YX`` for one sample frame, else ``TYX``), its noise, the masked pixels, beam factors and spots.

    Examples
    --------
    The 5 s exposure of the shared water step wedge, gamma spots removed::

        t = read_normalized("exp5s_h2o.tif", "exp5s_ob.tif", "exp5s_dc.tif").stack.to_numpy()
    """
    stacks = read_radiographs(sample, open_beam, dark, allow_gaps=allow_gaps)
    return normalize(*stacks, open_regions=open_regions, spots=spots, k=k, gain=gain, exposure_ratio=exposure_ratio,
                     progress=sub_progress(progress, 0.0, 1.0))
