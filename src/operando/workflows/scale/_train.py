"""Training and calibration on a stack larger than memory: a bounded sample of frames, read lazily.

When the stack fits the budget, the sample is the whole stack (the model is then the one the in-memory path
trains, for the same seed and ``max_steps``). Otherwise it is a few evenly spaced blocks of consecutive frames
(so that the video denoiser's window stays inside a block), stacked along a new batch axis.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..._stack import Stack
from ._plan import sequence_axis

#: Float32 copies of the sample that training holds at once (data, normalised copy, filtered copies).
TRAIN_COPIES = 6
#: At most this many blocks of consecutive frames.
MAX_BLOCKS = 8


def _block_letter(axes: str) -> str | None:
    """Return a batch-axis letter that leaves the sequence axis as it is (None when there is none)."""
    seq = axes[sequence_axis(axes)] if sequence_axis(axes) is not None else None
    for letter in "ZE" if seq == "T" else ("Z" if seq == "E" else ""):
        if letter not in axes:
            return letter
    return None


def _read_frames(stack: Stack, seq: int, start: int, stop: int) -> np.ndarray:
    key = tuple(slice(start, stop) if i == seq else slice(None) for i in range(stack.ndim))
    return np.asarray(stack.data[key])


def fill_masked(data: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Return ``data`` with NaN pixels (chunks of a Zarr input read with ``allow_missing``) set to the median.

    The fill of :func:`operando.denoise.denoise_masked` (its ``fill_invalid``), with NaN as the mark of a pixel
    without a measurement.

    Parameters
    ----------
    data : ndarray
        A block of the input.

    Returns
    -------
    ndarray, ndarray or None
        The filled block and the mask of the pixels filled (None when there were none).
    """
    from ...denoise import fill_invalid

    if data.dtype.kind not in "fc":
        return data, None
    filled, mask, _ = fill_invalid(data, ~np.isnan(data))
    return filled, mask


def _filled(data: np.ndarray) -> tuple[np.ndarray, int]:
    filled, mask = fill_masked(data)
    return filled, 0 if mask is None else int(mask.sum())


def training_sample(stack: Stack, *, budget_bytes: int, window: int,
                    contiguous: bool = False) -> tuple[Stack, dict[str, Any]]:
    """Return an in-memory sample of ``stack`` of at most ``budget_bytes`` (float32) and what it holds.

    Parameters
    ----------
    stack : Stack
        The (lazy) input.
    budget_bytes : int
        Bytes the float32 sample may take.
    window : int
        Consecutive frames one training example needs (the video denoiser's window; 1 for image methods).
    contiguous : bool
        One block of consecutive frames (the middle of the stack) instead of evenly spaced blocks.

    Returns
    -------
    Stack, dict
        The sample and a JSON-ready record (``whole`` or the blocks' first frames and length).
    """
    sample, record = _sample(stack, budget_bytes=budget_bytes, window=window, contiguous=contiguous)
    data, n_masked = _filled(np.asarray(sample.data))
    if n_masked:
        warnings.warn(f"{n_masked} masked pixel(s) (missing chunks read as NaN) in the training sample were set to "
                      "the sample's median for training; they stay NaN in the output", UserWarning, stacklevel=2)
        record = {**record, "masked_pixels_filled": n_masked}
        sample = Stack(data, axes=sample.axes, metadata=sample.metadata)
    return sample, record


def _sample(stack: Stack, *, budget_bytes: int, window: int, contiguous: bool) -> tuple[Stack, dict[str, Any]]:
    seq = sequence_axis(stack.axes)
    total = int(np.prod(stack.shape)) * 4
    if seq is None or total <= budget_bytes:
        data = np.asarray(stack.data[...])
        return Stack(data, axes=stack.axes, metadata=stack.metadata), {"sample": "whole stack"}
    length = stack.shape[seq]
    frames = int(max(window, min(length, budget_bytes // (total // length))))
    letter = None if contiguous else _block_letter(stack.axes)
    n_blocks = 1 if letter is None else int(max(1, min(MAX_BLOCKS, frames // max(4 * window, 16))))
    block = frames // n_blocks
    starts = [int(s) for s in np.linspace(0, length - block, n_blocks).round()] if n_blocks > 1 else \
        [(length - block) // 2]
    record = {"sample": "blocks", "block_frames": block, "starts": starts, "frames": block * len(starts),
              "of": length}
    if n_blocks == 1:
        return Stack(_read_frames(stack, seq, starts[0], starts[0] + block), axes=stack.axes,
                     metadata=stack.metadata), record
    data = np.stack([_read_frames(stack, seq, s, s + block) for s in starts])
    return Stack(data, axes=letter + stack.axes, metadata=stack.metadata), record


def calibrated_params(stack: Stack, method: str, *, budget_bytes: int) -> tuple[list[dict[str, float]], dict]:
    """Calibrate a baseline on a bounded contiguous sample; return its per-channel parameters and the sample.

    Parameters
    ----------
    stack : Stack
        The (lazy) input.
    method : str
        A calibrated baseline (``gaussian``, ``median``, ``nlm``, ``tv``).
    budget_bytes : int
        Bytes the float32 sample may take.

    Returns
    -------
    list of dict, dict
        The parameters chosen for each channel and the sample's record.
    """
    from ...denoise import denoise_baseline

    sample, record = training_sample(stack, budget_bytes=budget_bytes, window=1, contiguous=True)
    result = denoise_baseline(Stack(sample.data, axes=sample.axes), method=method)
    return list(result.metadata.extra["denoise"]["params"]), record
