"""Apply a trained denoiser to a whole stack, tile by tile, keeping shape and dtype."""

from __future__ import annotations

import logging

import numpy as np
import torch

from .._errors import InputError
from .._stack import Stack, as_stack
from ._layout import from_working, to_working
from ._masking import checkerboard, hide_checkerboard
from ._measured import exact_impulse_pixels, keep_measured_pixels
from ._tiling import tiled_apply
from ._training import (
    TrainConfig,
    TrainedDenoiser,
    augment_rotates,
    fill_impulses_from_neighbours,
    memory_format,
    neighbour_indices,
    pick_device,
    remove_impulses,
)

logger = logging.getLogger(__name__)


def symmetry_transforms(config: TrainConfig, height: int, width: int) -> list[tuple[int, bool]]:
    """The (quarter turns, mirror X) pairs the training augmentation drew from, for frames of this size.

    All 8 symmetries of the square; only the 4 that keep rows as rows for structn2v (row masks) or when the
    training patches were not square; none but the identity when the model was trained without augmentation.
    """
    if not config.augment:
        return [(0, False)]
    turns = (0, 1, 2, 3) if augment_rotates(config, height, width) else (0, 2)
    return [(k, f) for k in turns for f in (False, True)]


@torch.inference_mode()
def predict(
    model: TrainedDenoiser,
    data: Stack | np.ndarray,
    *,
    axes: str | None = None,
    device: str = "auto",
    tile: int = 256,
    overlap: int = 32,
    frames_per_batch: int = 4,
    keep_measured: bool | None = None,
    tta: bool = False,
) -> Stack | np.ndarray:
    """Denoise ``data`` with a trained model; returns the input's type, shape and dtype.

    Inference runs frame by frame and tile by tile (``tile`` pixels, ``overlap`` blended), so memory stays
    bounded by the tile size whatever the frame size. Every frame is denoised, edge frames included (their
    missing neighbours are mirrored, never the frame itself).

    ``keep_measured`` (video models; default: when the model was trained with the impulse pre-filter) blends
    each pixel's own measurement back into the prediction, except where it is an impulse: see
    :func:`keep_measured_pixels`.

    ``tta`` (test-time augmentation) averages the network's output over the flips and rotations it was
    trained with (8 for square-patch training; the 4 that keep rows as rows for structn2v): slower by that
    factor, and usually better, because the network's own errors partly average out (+1.2 dB on the
    benchmark video, docs/benchmarks.md). No transform ever shows the network a hidden pixel.
    """
    if keep_measured is None:
        keep_measured = bool(model.config.impulse_filter)
    stack = as_stack(data, axes=axes)
    work, layout = to_working(stack)
    if work.shape[2] != model.channels:
        raise InputError(f"the model was trained on {model.channels} channel(s), the data has {work.shape[2]}")
    if model.is_video and work.shape[1] < model.config.frames:
        raise InputError(f"need >= {model.config.frames} frames for this model's window, got {work.shape[1]}")
    dev = pick_device(device)
    net = model.module.to(dev).eval()
    fmt = memory_format(dev)
    net = net.to(memory_format=fmt)
    mean, scale = model.mean[None, :, None, None], model.scale[None, :, None, None]
    use_amp = dev.type == "cuda"
    out = np.empty_like(work)
    half = model.config.frames // 2

    def run_once(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            return net(x.to(dev).contiguous(memory_format=fmt)).float().contiguous()

    transforms = symmetry_transforms(model.config, *work.shape[-2:])

    def run_averaged(x: torch.Tensor) -> torch.Tensor:
        total = None
        for turns, flip in transforms:  # every channel (neighbour frames, target) moves together
            z = torch.rot90(x.flip(-1) if flip else x, turns, (-2, -1))
            y = torch.rot90(run_once(z), -turns, (-2, -1))
            y = y.flip(-1) if flip else y
            total = y if total is None else total + y
        return total / len(transforms)

    run = run_averaged if tta else run_once

    for b in range(work.shape[0]):
        n_s = work.shape[1]

        def normalise(frames: list[int], b=b) -> torch.Tensor:
            return torch.from_numpy(((work[b, frames] - mean) / scale).astype(np.float32))

        filled = None
        context = normalise  # normalise only the frames a batch needs: memory stays ~ input + output
        if model.config.impulse_filter:  # needs whole frames' statistics: normalised copies of this sequence
            norm = ((work[b] - mean) / scale).astype(np.float32)[None]
            known = exact_impulse_pixels(work[b]) if model.config.skip_impulses else None
            known = known[None] if known is not None else None
            filtered = remove_impulses(norm, known)
            filled = torch.from_numpy(fill_impulses_from_neighbours(norm, filtered, half, known=known)[0])
            context = torch.from_numpy(filtered[0]).__getitem__
            del norm, filtered
        for s0 in range(0, n_s, frames_per_batch):
            idx = list(range(s0, min(s0 + frames_per_batch, n_s)))
            target = normalise(idx)
            if model.is_video:
                inputs = torch.stack([context(neighbour_indices(s, n_s, half)).reshape(-1, *target.shape[-2:])
                                      for s in idx])
            else:
                inputs = target
            if model.is_video and model.config.blind_spot and model.config.blind_spot_kind == "donut":
                shown = target if filled is None else filled[idx]
                res = tiled_apply(run, torch.cat([inputs, shown], dim=1), out_channels=model.channels,
                                  tile=tile, overlap=overlap, multiple=net.multiple)
            elif model.is_video and model.config.blind_spot:
                # two passes, each hiding one parity of the target frame; keep each pixel from the pass that hid it
                res = None
                for parity in (0, 1):
                    mask = checkerboard(inputs.shape[-2], inputs.shape[-1], torch.full((len(idx),), parity))
                    part = tiled_apply(run, torch.cat([inputs, hide_checkerboard(target, mask)], dim=1),
                                       out_channels=model.channels, tile=tile, overlap=overlap,
                                       multiple=net.multiple)
                    res = part if res is None else torch.where(mask, part, res)
            else:
                res = tiled_apply(run, inputs, out_channels=model.channels, tile=tile, overlap=overlap,
                                  multiple=net.multiple)
            out[b, idx] = res.cpu().numpy() * scale + mean
        if model.is_video and keep_measured:
            out[b], weight = keep_measured_pixels(work[b], out[b])
            logger.info("kept the measured value of non-impulse pixels with weight %.3f", weight)
    result = from_working(out, layout, stack)
    return result if isinstance(data, Stack) else result.data
