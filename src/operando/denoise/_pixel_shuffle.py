"""Asymmetric pixel-shuffle downsampling (AP-BSN style) for spatially correlated noise.

A pixel-wise blind spot assumes that neighbouring pixels' noise is independent; a scintillator's light
spread or a camera's demosaicing breaks that, and the network learns to copy the noise from the neighbours.
Pixel-shuffle downsampling with stride ``s`` splits an image into ``s * s`` sub-images ``x[i::s, j::s]``;
within one of them neighbours are ``s`` pixels apart in the original, where the noise's correlation has
decayed. So:

1. **train** a blind-spot network (N2V2) on the sub-images of a large stride (``train_stride``, sized from the
   measured correlation length: the noise is white within a sub-image);
2. **infer** with a small stride (``infer_stride``, default 1: the full image): more of the image's detail;
3. **refine** (random replacement refinement, R3 in Lee et al.): replace a random ``refine_fraction`` of the
   denoised pixels by their noisy values, run the network on the full-resolution result, and average
   ``refine_passes`` such passes. The sparse noisy pixels carry detail back, and being far apart on average
   their noise is nearly independent. Each image draws its replaced pixels from its own child of the seed,
   ``SeedSequence(seed, spawn_key=(b, t))`` with ``t`` its index along the sequence axis, so a stack denoised
   chunk by chunk (``operando.workflows.scale``: :func:`train_pixel_shuffle` on a sample, then
   :func:`apply_pixel_shuffle` per chunk) gives the in-memory result.

Reference: W. Lee, S. Son, K. M. Lee, "AP-BSN: Self-supervised denoising for real-world images via
asymmetric PD and blind-spot network", CVPR 2022.
"""

from __future__ import annotations

import logging

import numpy as np

from .._errors import InputError
from .._progress import Progress, sub_progress
from .._stack import Stack, as_stack
from ._config import TrainConfig, TrainedDenoiser
from ._layout import from_working, to_working, with_record

logger = logging.getLogger(__name__)

#: Share of :func:`denoise_pixel_shuffle`'s progress given to training (the rest: inference and refinement).
TRAIN_SHARE = 0.8


def pixel_shuffle(images: np.ndarray, stride: int) -> np.ndarray:
    """Split images into ``stride**2`` sub-images ``x[i::stride, j::stride]`` (reflect-padded to a multiple).

    Parameters
    ----------
    images : ndarray, shape (..., Y, X)
        Images.
    stride : int
        Sampling step (1 returns the images with a sub-image axis of length 1).

    Returns
    -------
    ndarray, shape (..., stride**2, ceil(Y / stride), ceil(X / stride))
        Sub-image ``i * stride + j`` holds pixels ``(i + stride k, j + stride l)``.
    """
    if stride < 1:
        raise InputError(f"pixel-shuffle stride must be >= 1, got {stride}")
    h, w = images.shape[-2:]
    pad_h, pad_w = -h % stride, -w % stride
    if pad_h or pad_w:
        pad = [(0, 0)] * (images.ndim - 2) + [(0, pad_h), (0, pad_w)]
        images = np.pad(images, pad, mode="reflect" if min(h, w) > max(pad_h, pad_w) else "edge")
    subs = [images[..., i::stride, j::stride] for i in range(stride) for j in range(stride)]
    return np.stack(subs, axis=-3)


def pixel_unshuffle(subs: np.ndarray, stride: int, shape: tuple[int, int]) -> np.ndarray:
    """Undo :func:`pixel_shuffle`: reassemble the sub-images and crop to ``shape`` (Y, X).

    Parameters
    ----------
    subs : ndarray, shape (..., stride**2, y, x)
        Sub-images from :func:`pixel_shuffle`.
    stride : int
        The stride they were made with.
    shape : tuple of int
        (Y, X) of the original images.

    Returns
    -------
    ndarray, shape (..., Y, X)
    """
    y, x = subs.shape[-2:]
    out = np.empty((*subs.shape[:-3], y * stride, x * stride), subs.dtype)
    for i in range(stride):
        for j in range(stride):
            out[..., i::stride, j::stride] = subs[..., i * stride + j, :, :]
    return out[..., :shape[0], :shape[1]]


def strides_for(correlation_length_px: int) -> tuple[int, int]:
    """(training stride, inference stride) for noise correlated up to ``correlation_length_px`` pixels.

    Parameters
    ----------
    correlation_length_px : int
        Largest lag at which the noise's autocorrelation is still >= 0.1 (0 for white noise).

    Returns
    -------
    tuple of int
        Training stride ``length + 1`` (2 to 5), inference stride 1 (the asymmetry: on the camera image with
        rho1 = 0.4 noise, training at stride 2 and applying at stride 1 gave 25.35 dB, at stride 2 24.36 dB).
    """
    train = int(np.clip(correlation_length_px + 1, 2, 5))
    return train, 1


def _sub_stack(work: np.ndarray, stride: int) -> Stack:
    """All images of a working array (B, S, C, Y, X), pixel-shuffled, as a stack of independent images."""
    n_b, n_s, n_c, h, w = work.shape
    subs = pixel_shuffle(work.reshape(n_b * n_s, n_c, h, w), stride)  # (N, C, s2, y, x)
    subs = np.moveaxis(subs, 2, 1).reshape(-1, n_c, *subs.shape[-2:])  # (N s2, C, y, x)
    return Stack(subs, axes="TCYX") if n_c > 1 else Stack(subs[:, 0], axes="TYX")


def _apply_strided(model, work: np.ndarray, stride: int, device: str,
                   progress: Progress | None = None) -> np.ndarray:
    """Apply a trained network to pixel-shuffled images and reassemble them (B, S, C, Y, X)."""
    from ._inference import predict

    n_b, n_s, n_c, h, w = work.shape
    if stride == 1:  # the images themselves (no shuffled copy)
        flat = work.reshape(n_b * n_s, n_c, h, w)
        images = Stack(flat, axes="TCYX") if n_c > 1 else Stack(flat[:, 0], axes="TYX")
        out = predict(model, images, device=device, progress=progress).to_numpy().astype(np.float32, copy=False)
        return out.reshape(work.shape)
    out = predict(model, _sub_stack(work, stride), device=device, progress=progress).to_numpy()
    out = out.astype(np.float32, copy=False)
    out = out.reshape(n_b * n_s, stride * stride, n_c, *out.shape[-2:])
    out = pixel_unshuffle(np.moveaxis(out, 1, 2), stride, (h, w))
    return out.reshape(work.shape)


def refine_generators(seed: int, n_batch: int, first_frame: int, n_frames: int) -> list[list[np.random.Generator]]:
    """Return one generator per image ``(b, first_frame + s)`` of a working array: its own draws, chunk-proof.

    Image ``(b, t)`` (batch index, global index along the sequence axis) draws from the child
    ``SeedSequence(seed, spawn_key=(b, t))``, which is the ``(b, t)`` child that ``SeedSequence(seed).spawn``
    hands out, addressed directly. So a frame's draws depend on the seed and the frame's place in the whole
    stack only, and a stack denoised chunk by chunk (``operando.workflows.scale``) draws what the in-memory
    run draws.

    Parameters
    ----------
    seed : int
        The refinement's seed.
    n_batch : int
        Images along the working layout's batch axis (B).
    first_frame : int
        Global sequence index of the array's first frame (0 in memory; a chunk's first frame when streamed).
    n_frames : int
        Frames along the sequence axis (S) of this array.

    Returns
    -------
    list of list of Generator
        ``gens[b][s]`` for image ``(b, first_frame + s)``.
    """
    return [[np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b, first_frame + s)))
             for s in range(n_frames)] for b in range(n_batch)]


def refine(model, noisy: np.ndarray, denoised: np.ndarray, *, passes: int, fraction: float,
           gens: list[list[np.random.Generator]], device: str = "auto", progress: Progress | None = None
           ) -> np.ndarray:
    """Random replacement refinement: average the network over ``denoised`` with random noisy pixels put back.

    Parameters
    ----------
    model : TrainedDenoiser
        The blind-spot network.
    noisy, denoised : ndarray, shape (B, S, C, Y, X)
        Working arrays of the input and of the first pass.
    passes : int
        Random replacements averaged.
    fraction : float
        Share of pixels that get their noisy value back in each pass.
    gens : list of list of Generator
        One generator per image (:func:`refine_generators`); each pass draws one (C, Y, X) field per image.
    device : str
        Torch device.
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent` objects (as :func:`predict` reports them, pass by pass).

    Returns
    -------
    ndarray, shape (B, S, C, Y, X)
    """
    total = np.zeros_like(denoised, dtype=np.float32)
    pick = np.empty(denoised.shape, dtype=bool)
    for k in range(passes):
        for b, row in enumerate(gens):
            for s, gen in enumerate(row):
                pick[b, s] = gen.random(denoised.shape[2:]) < fraction
        mixed = np.where(pick, noisy, denoised).astype(np.float32, copy=False)
        total += _apply_strided(model, mixed, 1, device,
                                sub_progress(progress, k / passes, (k + 1) / passes, f"refinement {k + 1}/{passes}: "))
        del mixed
    total /= passes
    return total


def _check_refinement(refine_passes: int, refine_fraction: float) -> None:
    if not 0 < refine_fraction < 1 or refine_passes < 0:
        raise InputError(f"refinement needs 0 < refine_fraction < 1 and refine_passes >= 0, got "
                         f"{refine_fraction}, {refine_passes}")


def train_pixel_shuffle(
    data: Stack,
    *,
    train_stride: int | None = None,
    infer_stride: int | None = None,
    config: TrainConfig | None = None,
    rng: int | np.random.Generator | None = None,
    device: str = "auto",
    progress: Progress | None = None,
) -> tuple[TrainedDenoiser, dict[str, object]]:
    """Choose the strides and train the N2V2 network on the pixel-shuffled sub-images of ``data``.

    Parameters
    ----------
    data : Stack
        The noisy images (in memory), or a sample of a larger stack.
    train_stride, infer_stride : int, optional
        As :func:`denoise_pixel_shuffle`; a missing one comes from the correlation measured on ``data``.
    config : TrainConfig, optional
        Training settings (its method becomes ``n2v2``).
    rng : int or Generator, optional
        Seed (None: ``config.seed``, else drawn).
    device : {"auto", "cpu", "cuda"}
        Torch device.
    progress : callable, optional
        Receives the training's :class:`~operando.ProgressEvent` objects (see :func:`train_denoiser`).

    Returns
    -------
    TrainedDenoiser, dict
        The network (its ``config.seed`` is the concrete seed) and the record: ``train_stride``,
        ``infer_stride``, ``seed`` and, when measured, ``neighbour_corr``.
    """
    from ..noise import measure_noise_correlation
    from ._config import resolve_seed
    from ._training import train_denoiser

    cfg = (config or TrainConfig()).model_copy(update={"method": "n2v2"})
    cfg = cfg.model_copy(update={"seed": resolve_seed(rng, cfg.seed)})
    measured = measure_noise_correlation(data) if train_stride is None or infer_stride is None else None
    auto_train, auto_infer = strides_for(measured.correlation_length_px if measured else 1)
    record: dict[str, object] = {"train_stride": int(train_stride or auto_train),
                                 "infer_stride": int(infer_stride or auto_infer), "seed": cfg.seed}
    if measured is not None:
        record["neighbour_corr"] = measured.neighbour_corr
    work, _ = to_working(data)
    model = train_denoiser(_sub_stack(work, record["train_stride"]), config=cfg, device=device, progress=progress)
    return model, record


def apply_pixel_shuffle(
    model: TrainedDenoiser,
    data: Stack,
    *,
    infer_stride: int,
    refine_passes: int = 4,
    refine_fraction: float = 0.16,
    seed: int,
    first_frame: int = 0,
    device: str = "auto",
    progress: Progress | None = None,
) -> Stack:
    """Apply a pixel-shuffle network: inference at ``infer_stride``, then the random replacement refinement.

    Parameters
    ----------
    model : TrainedDenoiser
        The network from :func:`train_pixel_shuffle`.
    data : Stack
        Noisy images.
    infer_stride : int
        Pixel-shuffle stride of the first pass.
    refine_passes, refine_fraction : int, float
        As :func:`denoise_pixel_shuffle`.
    seed : int
        Seed of the refinement's draws (:func:`refine_generators`; the run's training seed + 1).
    first_frame : int
        Global sequence index (T, else E, else Z) of ``data``'s first frame: nonzero for a chunk of a larger
        stack, so that each frame draws what it draws in the whole stack.
    device : {"auto", "cpu", "cuda"}
        Torch device.
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent` objects; raising :class:`~operando.Cancelled` from it stops
        the run within one tile.

    Returns
    -------
    Stack
        The denoised stack, in ``data``'s axes and dtype (no record: the caller adds it).
    """
    _check_refinement(refine_passes, refine_fraction)
    work, layout = to_working(data)
    first = 1.0 / (1 + refine_passes)
    out = _apply_strided(model, work, infer_stride, device, sub_progress(progress, 0.0, first, "first pass: "))
    if refine_passes:
        gens = refine_generators(seed, work.shape[0], first_frame, work.shape[1])
        out = refine(model, work, out, passes=refine_passes, fraction=refine_fraction, gens=gens, device=device,
                     progress=sub_progress(progress, first, 1.0))
    return from_working(out, layout, data)


def denoise_pixel_shuffle(
    data: Stack | np.ndarray,
    *,
    axes: str | None = None,
    train_stride: int | None = None,
    infer_stride: int | None = None,
    refine_passes: int = 4,
    refine_fraction: float = 0.16,
    config: TrainConfig | None = None,
    rng: int | np.random.Generator | None = None,
    device: str = "auto",
    progress: Progress | None = None,
) -> Stack | np.ndarray:
    """Denoise images with spatially correlated noise: N2V2 on pixel-shuffled sub-images, then refinement.

    :func:`train_pixel_shuffle` then :func:`apply_pixel_shuffle`; the refinement's draws are made per frame
    from (seed + 1, frame index), so the streamed path (``operando.workflows.scale``) gives the same result.

    Parameters
    ----------
    data : Stack or ndarray
        Image or stack of images (frames are treated as independent images).
    axes : str, optional
        Axes of a plain array.
    train_stride, infer_stride : int, optional
        Pixel-shuffle strides of training and inference; default :func:`strides_for` of the correlation length
        :func:`operando.noise.measure_noise_correlation` measures.
    refine_passes : int
        Random replacement refinement passes (0: none).
    refine_fraction : float
        Share of pixels given back their noisy value in each refinement pass.
    config : TrainConfig, optional
        Training settings of the N2V2 network (``time_budget_s``, ``max_steps``, ``seed``, ...).
    rng : int or Generator, optional
        Seed of training and of the refinement's draws (None: ``config.seed``, else drawn).
    device : {"auto", "cpu", "cuda"}
        Torch device.
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent` objects (training, then inference and refinement); raising
        :class:`~operando.Cancelled` from it stops the run within a training step or a tile.

    Returns
    -------
    Stack or ndarray
        Same type, shape and dtype as the input; a Stack records the strides, the measured correlation, the
        training configuration and the seed in ``metadata.extra["denoise"]``.
    """
    _check_refinement(refine_passes, refine_fraction)
    stack = as_stack(data, axes=axes)
    model, found = train_pixel_shuffle(stack, train_stride=train_stride, infer_stride=infer_stride, config=config,
                                       rng=rng, device=device, progress=sub_progress(progress, 0.0, TRAIN_SHARE))
    result = apply_pixel_shuffle(model, stack, infer_stride=int(found["infer_stride"]), refine_passes=refine_passes,
                                 refine_fraction=refine_fraction, seed=model.config.seed + 1, device=device,
                                 progress=sub_progress(progress, TRAIN_SHARE, 1.0))
    record = {"method": "pixel_shuffle", "train_stride": found["train_stride"], "infer_stride": found["infer_stride"],
              "refine_passes": refine_passes, "refine_fraction": refine_fraction, "seed": model.config.seed,
              "config": {**model.config.model_dump(), "method": "pixel_shuffle"}, "steps": model.steps,
              "stop_reason": model.stop_reason}
    if "neighbour_corr" in found:
        record["neighbour_corr"] = found["neighbour_corr"]
    result = with_record(result, record)
    return result if isinstance(data, Stack) else result.data
