"""Apply a trained denoiser to a whole stack, tile by tile, keeping shape and dtype."""

from __future__ import annotations

import logging

import numpy as np
import torch

from .._errors import InputError
from .._progress import Progress, check_cancel, emit, sub_progress
from .._stack import Stack, as_stack
from ._config import TrainConfig, TrainedDenoiser, augment_rotates
from ._layout import from_working, to_working, with_record
from ._masking import checkerboard, hide_checkerboard
from ._measured import exact_impulse_pixels, keep_measured_pixels
from ._preprocess import fill_impulses_from_neighbours, neighbour_indices, remove_impulses
from ._tiling import tiled_apply
from ._unet import memory_format, pick_device

logger = logging.getLogger(__name__)

#: Smallest inference tile, in pixels. Each tile is padded to the network's multiple (8 for depth 3) and runs
#: through its receptive field: below 32 px the overhead per tile dominates (a 32 x 32 frame at --tile 3 took
#: 204 s instead of 4.7 s) and the tiles see too little context.
MIN_TILE = 32


def symmetry_transforms(config: TrainConfig, height: int, width: int) -> list[tuple[int, bool]]:
    """List the (quarter turns, mirror X) pairs the training augmentation drew from, for frames of this size.

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
    progress: Progress | None = None,
) -> Stack | np.ndarray:
    """Denoise ``data`` with a trained model; returns the input's type, shape and dtype.

    Inference runs frame by frame and tile by tile (``tile`` pixels, ``overlap`` blended), so memory stays
    bounded by the tile size whatever the frame size. Every frame is denoised, edge frames included (their
    missing neighbours are mirrored, never the frame itself).

    Parameters
    ----------
    model : TrainedDenoiser
        From :func:`train_denoiser` or :func:`load_model`.
    data : Stack or ndarray
        The noisy stack, with the channels the model was trained on.
    axes : str, optional
        Axes of a plain array (e.g. ``"TYX"``).
    device : {"auto", "cpu", "cuda"}
        Where to run the network.
    tile, overlap : int
        Tile side (>= ``MIN_TILE``, 32) and blended overlap (>= 0), in pixels.
    frames_per_batch : int
        Frames sent through the network at once.
    keep_measured : bool, optional
        Video models (default: when the model was trained with the impulse pre-filter): blend each pixel's
        own measurement back into the prediction, except where it is an impulse (:func:`keep_measured_pixels`).
    tta : bool
        Test-time augmentation: average the network's output over the flips and rotations it was trained with
        (8 for square-patch training; the 4 that keep rows as rows for structn2v): slower by that factor, and
        usually better, because the network's own errors partly average out (+1.2 dB on the benchmark video,
        docs/benchmarks.md). No transform ever shows the network a hidden pixel.
    progress : callable, optional
        Receives a :class:`~operando.ProgressEvent` after each batch of frames; it is also called before every
        tile, so raising :class:`~operando.Cancelled` from it stops inference within one tile.

    Returns
    -------
    Stack or ndarray
        Same type, shape and dtype as ``data``; a Stack records the model's configuration and seed in
        ``metadata.extra["denoise"]``.
    """
    check_tiling(tile, overlap, frames_per_batch)
    if keep_measured is None:
        keep_measured = bool(model.config.impulse_filter)
    stack = as_stack(data, axes=axes)
    work, layout = to_working(stack)
    if work.shape[2] != model.channels:
        raise InputError(f"the model was trained on {model.channels} channel(s), the data has {work.shape[2]}; "
                         "use a model trained on data with the same channels")
    if model.is_video and work.shape[1] < model.config.frames:
        raise InputError(f"need >= {model.config.frames} frames for this model's window, got {work.shape[1]}; "
                         "pass a longer video")
    runner = _Runner(model, pick_device(device), tile=tile, overlap=overlap, tta=tta, frame_shape=work.shape[-2:],
                     progress=progress)
    out = np.empty_like(work)
    n_b = work.shape[0]
    for b in range(n_b):
        out[b] = _predict_sequence(model, runner, work[b], frames_per_batch,
                                   sub_progress(progress, b / n_b, (b + 1) / n_b))
        if model.is_video and keep_measured:
            out[b], weight = keep_measured_pixels(work[b], out[b])
            logger.info("kept the measured value of non-impulse pixels with weight %.3f", weight)
    result = with_record(from_working(out, layout, stack), model_record(model, tta=tta))
    return result if isinstance(data, Stack) else result.data


def check_tiling(tile: int, overlap: int = 32, frames_per_batch: int = 4) -> None:
    """Refuse a tile smaller than ``MIN_TILE``, a negative overlap or an empty batch (one line, what to pass).

    Parameters
    ----------
    tile, overlap, frames_per_batch : int
        As :func:`predict` takes them.

    Raises
    ------
    InputError
        If a value is out of range.
    """
    if isinstance(tile, bool) or not isinstance(tile, int | np.integer) or tile < MIN_TILE:
        raise InputError(f"tile {tile!r} is too small: tiles of fewer than {MIN_TILE} px make inference very slow "
                         f"and see too little context; pass tile >= {MIN_TILE} (--tile; default 256)")
    if overlap < 0:
        raise InputError(f"overlap must be >= 0 pixels, got {overlap}")
    if frames_per_batch < 1:
        raise InputError(f"frames_per_batch must be >= 1, got {frames_per_batch}")


def model_record(model: TrainedDenoiser, *, tta: bool) -> dict[str, object]:
    """Describe the network for a denoised Stack's record: method, whole configuration, seed, steps, tta.

    Parameters
    ----------
    model : TrainedDenoiser
        The network that denoised the stack.
    tta : bool
        Whether test-time augmentation was used.

    Returns
    -------
    dict
        JSON-ready record for ``metadata.extra["denoise"]``.
    """
    return {"method": model.config.method, "config": model.config.model_dump(), "seed": model.config.seed,
            "steps": model.steps, "stop_reason": model.stop_reason, "best_step": model.best_step, "tta": tta}


class _Runner:
    """The network on its device: one tile batch in, the prediction out (averaged over symmetries with TTA)."""

    def __init__(self, model: TrainedDenoiser, dev: torch.device, *, tile: int, overlap: int, tta: bool,
                 frame_shape: tuple[int, ...], progress: Progress | None = None) -> None:
        self.dev, self.fmt, self.progress = dev, memory_format(dev), progress
        self.net = model.module.to(dev).eval().to(memory_format=self.fmt)
        self.channels, self.tile, self.overlap = model.channels, tile, overlap
        self.transforms = symmetry_transforms(model.config, *frame_shape) if tta else [(0, False)]

    def _once(self, x: torch.Tensor) -> torch.Tensor:
        check_cancel(self.progress)  # before every tile (and every symmetry of it)
        with torch.autocast(self.dev.type, dtype=torch.bfloat16, enabled=self.dev.type == "cuda"):
            return self.net(x.to(self.dev).contiguous(memory_format=self.fmt)).float().contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.transforms) == 1:
            return self._once(x)
        total = None
        for turns, flip in self.transforms:  # every channel (neighbour frames, target) moves together
            z = torch.rot90(x.flip(-1) if flip else x, turns, (-2, -1))
            y = torch.rot90(self._once(z), -turns, (-2, -1))
            y = y.flip(-1) if flip else y
            total = y if total is None else total + y
        return total / len(self.transforms)

    def tiled(self, inputs: torch.Tensor) -> torch.Tensor:
        """Run on whole frames, tile by tile."""
        return tiled_apply(self, inputs, out_channels=self.channels, tile=self.tile, overlap=self.overlap,
                           multiple=self.net.multiple)


def _predict_sequence(model: TrainedDenoiser, runner: _Runner, seq: np.ndarray, frames_per_batch: int,
                      progress: Progress | None = None) -> np.ndarray:
    """Denoise one sequence (S, C, Y, X) of the working layout, ``frames_per_batch`` frames at a time."""
    mean, scale = model.mean[None, :, None, None], model.scale[None, :, None, None]
    half, n_s = model.config.frames // 2, seq.shape[0]
    out = np.empty_like(seq)

    def normalise(frames: list[int]) -> torch.Tensor:
        return torch.from_numpy(((seq[frames] - mean) / scale).astype(np.float32))

    filled = None
    context = normalise  # normalise only the frames a batch needs: memory stays ~ input + output
    if model.config.impulse_filter:  # needs whole frames' statistics: normalised copies of this sequence
        norm = ((seq - mean) / scale).astype(np.float32)[None]
        known = exact_impulse_pixels(seq) if model.config.skip_impulses else None
        known = known[None] if known is not None else None
        filtered = remove_impulses(norm, known)
        filled = torch.from_numpy(fill_impulses_from_neighbours(norm, filtered, half, known=known)[0])
        context = torch.from_numpy(filtered[0]).__getitem__
        del norm, filtered
    for s0 in range(0, n_s, frames_per_batch):
        idx = list(range(s0, min(s0 + frames_per_batch, n_s)))
        target = normalise(idx)
        if not model.is_video:
            res = runner.tiled(target)
        else:
            inputs = torch.stack([context(neighbour_indices(s, n_s, half)).reshape(-1, *target.shape[-2:])
                                  for s in idx])
            res = _video_pass(model, runner, inputs, target if filled is None else filled[idx], target)
        out[idx] = res.cpu().numpy() * scale + mean
        emit(progress, (idx[-1] + 1) / n_s, f"predict: frame {idx[-1] + 1}/{n_s}")
    return out


def _video_pass(model: TrainedDenoiser, runner: _Runner, inputs: torch.Tensor, shown: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
    """Run the video network on one batch: without blind spot, through the donut, or in two checkerboard passes."""
    if not model.config.blind_spot:
        return runner.tiled(inputs)
    if model.config.blind_spot_kind == "donut":
        return runner.tiled(torch.cat([inputs, shown], dim=1))
    # two passes, each hiding one parity of the target frame; keep each pixel from the pass that hid it
    res = None
    for parity in (0, 1):
        mask = checkerboard(inputs.shape[-2], inputs.shape[-1], torch.full((inputs.shape[0],), parity))
        part = runner.tiled(torch.cat([inputs, hide_checkerboard(target, mask)], dim=1))
        res = part if res is None else torch.where(mask, part, res)
    return res


def denoise_with_params(
    data: Stack | np.ndarray,
    *,
    method: str,
    params: list[dict[str, float]],
    axes: str | None = None,
) -> Stack | np.ndarray:
    """Apply a calibrated baseline with parameters chosen earlier (no calibration), as :func:`denoise_baseline`.

    A streamed run (:mod:`operando.workflows.scale`) calibrates once on a sample of a large stack and then
    filters it chunk by chunk with these parameters; on the same parameters the result is exactly
    :func:`denoise_baseline`'s.

    Parameters
    ----------
    data : Stack or ndarray
        Image, video (``T``) or spectral (``E``) stack.
    method : {"gaussian", "median", "nlm", "tv"}
        The filter.
    params : list of dict
        One parameter dict per channel, as recorded in ``metadata.extra["denoise"]["params"]`` by
        :func:`denoise_baseline`.
    axes : str, optional
        Axes of a plain array (e.g. ``"TYX"``).

    Returns
    -------
    Stack or ndarray
        Same type, shape and dtype as ``data``.
    """
    from ._baselines import CALIBRATED, apply_baseline

    if method not in CALIBRATED:
        raise InputError(f"unknown baseline {method!r}; choose one of {', '.join(CALIBRATED)}")
    stack = as_stack(data, axes=axes)
    work, layout = to_working(stack)
    if len(params) != work.shape[2]:
        raise InputError(f"got parameters for {len(params)} channel(s), the data has {work.shape[2]}; pass one "
                         "dict per channel")
    out = np.empty_like(work)
    for c in range(work.shape[2]):
        for b in range(work.shape[0]):
            out[b, :, c] = apply_baseline(method, work[b, :, c], params[c])
    result = with_record(from_working(out, layout, stack), {"method": method, "params": list(params)})
    return result if isinstance(data, Stack) else result.data
