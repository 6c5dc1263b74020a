"""BM3D refined by a network trained on re-noised BM3D output (``bm3d_refine``; optional extra ``operando[bm3d]``).

BM3D with the noise's power spectrum is the strongest classical denoiser for stationary correlated noise, and
on one image a blind-spot network trained in minutes on a CPU stays well below it. This method starts from BM3D
and learns what BM3D gets wrong on *this* image, with targets that carry no noise (iterative data refinement,
Zhang et al., CVPR 2022, with BM3D as the first estimate):

1. ``b = BM3D(y)`` with the measured (or given) noise power spectrum;
2. ``K`` pseudo-noisy copies ``b + z_k``, each ``z_k`` a fresh draw of the measured noise (Gaussian with the
   measured autocovariance), and their BM3D outputs ``BM3D(b + z_k)``;
3. a small convolutional network ``g`` learns ``b + z_k, BM3D(b + z_k) -> b``: how BM3D's output on this
   scene, under this noise, differs from the scene it was given. It predicts a correction that is added to
   BM3D's output (its last layer starts at zero, so an untrained network returns BM3D);
4. the network is applied to ``(y, b)`` and averaged over the 8 rotations and flips.

The budget (``TrainConfig.time_budget_s``) is split: up to :data:`PAIRS_SHARE` of it makes the pairs (each costs
one BM3D call), the rest trains. Every random draw comes from ``TrainConfig.seed``: the pairs and batches from
NumPy generators, the network's initial weights from a local ``torch.Generator`` (torch's global generator is
left as it was). The method assumes Gaussian, stationary noise of the measured spectrum (a Poisson image should
be variance-stabilised first).
"""

from __future__ import annotations

import math
import time

import numpy as np

from .._errors import InputError
from .._progress import Progress, check_cancel, emit, sub_progress
from .._stack import Stack, as_stack
from ._config import TrainConfig, resolve_seed
from ._layout import from_working, to_working, with_record

#: Share of the time budget spent making (pseudo-noisy, BM3D) pairs; the rest trains the network.
PAIRS_SHARE = 0.35
#: Fewest and most pairs per image.
MIN_PAIRS, MAX_PAIRS = 4, 64
#: The refinement network: plain 3 x 3 convolutions, this many layers of this many channels.
LAYERS, WIDTH = 5, 24
#: Patches per training step.
BATCH = 8
#: Smallest image side the method takes (BM3D's blocks and the network's patches need room).
MIN_SIDE = 16


def correlated_gaussian(psd: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw stationary Gaussian noise whose power spectrum is ``psd`` (BM3D's convention: mean(psd) = variance * N).

    Parameters
    ----------
    psd : ndarray, shape (Y, X)
        Power spectrum, as :func:`operando.noise.psd_from_autocovariance` returns it.
    rng : Generator
        Random source.

    Returns
    -------
    ndarray, shape (Y, X)
        One draw (circular: the image's opposite edges are correlated as neighbours).
    """
    white = rng.standard_normal(psd.shape)
    return np.real(np.fft.ifft2(np.fft.fft2(white) * np.sqrt(psd))) / np.sqrt(psd.size)


def _network(torch, generator):
    """Build the refinement network: input (noisy - BM3D, BM3D), output BM3D + correction (zero at the start).

    The weights are drawn from ``generator`` as ``Conv2d.reset_parameters`` draws them from torch's global
    generator (Kaiming-uniform weights, uniform biases, layer by layer): the same numbers as a global seed of the
    same value gave, without touching the global generator (the layers are built on the ``meta`` device).
    """
    nn = torch.nn

    class Refiner(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            convs = [nn.Conv2d(2, WIDTH, 3, padding=1, device="meta")]
            convs += [nn.Conv2d(WIDTH, WIDTH, 3, padding=1, device="meta") for _ in range(LAYERS - 2)]
            convs.append(nn.Conv2d(WIDTH, 1, 3, padding=1, device="meta"))
            layers: list[nn.Module] = []
            for conv in convs[:-1]:
                layers += [conv, nn.ReLU()]
            self.body = nn.Sequential(*layers, convs[-1])

        def forward(self, noisy, first):
            return first + self.body(torch.cat([noisy - first, first], dim=1))

    net = Refiner().to_empty(device="cpu")
    with torch.no_grad():
        for conv in (m for m in net.body if isinstance(m, nn.Conv2d)):
            nn.init.kaiming_uniform_(conv.weight, a=math.sqrt(5), generator=generator)
            bound = 1 / math.sqrt(conv.weight[0].numel())
            nn.init.uniform_(conv.bias, -bound, bound, generator=generator)
        nn.init.zeros_(net.body[-1].weight)
        nn.init.zeros_(net.body[-1].bias)
    return net


def _dihedral(torch, t, k: int, flip: bool):
    t = torch.rot90(t, k, (2, 3))
    return torch.flip(t, (3,)) if flip else t


def _patches(torch, images, which, corners, patch: int, k: int, flip: bool):
    """Cut ``patch``-square crops of ``images[which[i]]`` at ``corners[i]``, rotated by ``k`` and flipped alike."""
    crops = [images[i, :, r:r + patch, c:c + patch] for i, (r, c) in zip(which, corners, strict=True)]
    return _dihedral(torch, torch.stack(crops), k, flip).contiguous()


def _undo_dihedral(torch, t, k: int, flip: bool):
    t = torch.flip(t, (3,)) if flip else t
    return torch.rot90(t, -k, (2, 3))


def refine_image(bm3d, image: np.ndarray, psd: np.ndarray, config: TrainConfig, *, budget_s: float,
                 pairs: int | None = None, device: str = "cpu",
                 progress: Progress | None = None) -> tuple[np.ndarray, dict[str, object]]:
    """Denoise one image: BM3D, pairs from re-noised BM3D output, a trained correction, 8-fold averaging.

    Parameters
    ----------
    bm3d : module
        The ``bm3d`` package.
    image : ndarray, shape (Y, X)
        The noisy image.
    psd : ndarray, shape (Y, X)
        The noise's power spectrum (BM3D's convention).
    config : TrainConfig
        ``seed`` (concrete), ``max_steps``, ``lr`` and ``patch`` are used.
    budget_s : float
        Seconds for this image (pairs and training).
    pairs : int, optional
        Number of (re-noised, BM3D) pairs; None: as many as :data:`PAIRS_SHARE` of the budget makes, between
        :data:`MIN_PAIRS` and :data:`MAX_PAIRS`.
    device : str
        Torch device.
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent` objects within this image (after each pair, every 100 steps);
        it is also called before every training step, so raising :class:`~operando.Cancelled` stops the run.

    Returns
    -------
    tuple
        The denoised image (float64) and a record: pairs, steps, seconds, final training loss.
    """
    import torch

    start = time.monotonic()
    y = image.astype(np.float64)
    first = np.asarray(bm3d.bm3d(y, sigma_psd=psd), np.float64)
    lo, hi = np.percentile(first, [0.5, 99.5])
    span = float(hi - lo) if hi > lo else 1.0
    # Work in units where the scene spans about [0, 1]: the learning rate then means the same on every image.
    y_n, first_n, psd_n = (y - lo) / span, (first - lo) / span, psd / span**2
    seeds = np.random.SeedSequence(config.seed).spawn(2)
    rng = np.random.default_rng(seeds[0])
    inputs, outputs = [], []
    pairs_deadline = start + PAIRS_SHARE * budget_s
    while (len(inputs) < pairs if pairs is not None else
           len(inputs) < MAX_PAIRS and (len(inputs) < MIN_PAIRS or time.monotonic() < pairs_deadline)):
        noisy = first_n + correlated_gaussian(psd_n, rng)
        inputs.append(noisy)
        outputs.append(np.asarray(bm3d.bm3d(noisy, sigma_psd=psd_n), np.float64))
        emit(progress, min(PAIRS_SHARE, (time.monotonic() - start) / budget_s), f"bm3d_refine: pair {len(inputs)}")
    weights = torch.Generator().manual_seed(int(np.random.default_rng(seeds[1]).integers(2**31)))

    def as_t(a):
        return torch.as_tensor(np.asarray(a, np.float32), device=device)

    noisy_t, bm3d_t, target_t = as_t(np.stack(inputs))[:, None], as_t(np.stack(outputs))[:, None], as_t(first_n)
    net = _network(torch, weights).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)
    patch = min(config.patch, *y.shape)
    n_pairs, (height, width) = len(inputs), y.shape
    steps, loss_value = 0, float("nan")
    train_start = time.monotonic()
    while steps < config.max_steps and (steps == 0 or time.monotonic() - start < budget_s):
        check_cancel(progress)
        which = rng.integers(0, n_pairs, BATCH)
        corners = list(zip(rng.integers(0, height - patch + 1, BATCH), rng.integers(0, width - patch + 1, BATCH),
                           strict=True))
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        batch_in, batch_b = (_patches(torch, t, which, corners, patch, k, flip) for t in (noisy_t, bm3d_t))
        batch_t = _patches(torch, target_t[None, None], np.zeros(BATCH, int), corners, patch, k, flip)
        loss = torch.mean((net(batch_in, batch_b) - batch_t) ** 2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        steps += 1
        if steps % 100 == 0:
            loss_value = loss.item()
            emit(progress, min(0.99, (time.monotonic() - start) / budget_s), f"bm3d_refine: step {steps}",
                 step=steps, train_loss=loss_value)
    train_s = time.monotonic() - train_start
    net.eval()
    with torch.no_grad():
        y_t, first_t = as_t(y_n)[None, None], as_t(first_n)[None, None]
        views = [_undo_dihedral(torch, net(_dihedral(torch, y_t, k, f), _dihedral(torch, first_t, k, f)), k, f)
                 for k in range(4) for f in (False, True)]
        refined = torch.stack(views).mean(0)[0, 0].cpu().numpy().astype(np.float64)
    record = {"pairs": n_pairs, "steps": steps, "train_s": round(train_s, 1), "last_loss": loss_value,
              "seconds": round(time.monotonic() - start, 1)}
    return refined * span + lo, record


def denoise_bm3d_refined(
    data: Stack | np.ndarray,
    *,
    axes: str | None = None,
    autocovariance: np.ndarray | None = None,
    config: TrainConfig | None = None,
    pairs: int | None = None,
    rng: int | np.random.Generator | None = None,
    device: str = "auto",
    progress: Progress | None = None,
) -> Stack | np.ndarray:
    """Denoise images with BM3D, then a network trained on re-noised BM3D output refines them (see module doc).

    Parameters
    ----------
    data : Stack or ndarray
        Image or stack of images (frames and channels are denoised one image at a time, the budget shared).
    axes : str, optional
        Axes of a plain array.
    autocovariance : ndarray, shape (2L + 1, 2L + 1), optional
        The noise's 2-D autocovariance, lag (0, 0) in the middle. Default: measured on ``data``
        (:func:`operando.noise.measure_noise_correlation`).
    config : TrainConfig, optional
        ``time_budget_s`` (all images together), ``max_steps``, ``lr``, ``patch`` and ``seed`` are used.
    pairs : int, optional
        Pairs per image (None: from the budget). The record holds the pairs and steps each image got; with
        ``pairs`` and ``config.max_steps`` set to them (and the budget not reached) a run repeats, to within the
        ``bm3d`` package's own run-to-run differences (up to ~1e-5 on small images).
    rng : int or Generator, optional
        Seed (None: ``config.seed``, else drawn; an int that contradicts ``config.seed`` is refused, as
        :func:`operando.denoise.denoise` does).
    device : {"auto", "cpu", "cuda"}
        Torch device.
    progress : callable, optional
        Receives :class:`~operando.ProgressEvent` objects; raising :class:`~operando.Cancelled` from it stops
        the run within one pair or one training step.

    Returns
    -------
    Stack or ndarray
        Same type, shape and dtype as the input; a Stack records the noise, the pairs, the steps, the
        configuration and the seed in ``metadata.extra["denoise"]``.

    Raises
    ------
    ImportError
        When the optional ``bm3d`` package is missing (``pip install 'operando[bm3d]'``).
    InputError
        On an image smaller than 16 px a side or noise that cannot be measured.
    """
    from ._bm3d import _import_bm3d, noise_spectrum
    from ._unet import pick_device

    bm3d = _import_bm3d()
    stack = as_stack(data, axes=axes)
    if pairs is not None and pairs < 1:
        raise InputError(f"bm3d_refine needs pairs >= 1, got {pairs}; leave pairs out to size it from the budget")
    if min(stack.size("Y"), stack.size("X")) < MIN_SIDE:
        raise InputError(f"bm3d_refine needs images of at least {MIN_SIDE} px a side, got "
                         f"{stack.size('Y')} x {stack.size('X')}; use bm3d or a calibrated filter")
    config = config if config is not None else TrainConfig()
    seed = resolve_seed(rng, config.seed)
    config = config.model_copy(update={"seed": seed})
    psd, noise_record = noise_spectrum(stack, autocovariance, "bm3d_refine")
    work, layout = to_working(stack)
    device = pick_device(device)
    out = np.empty_like(work)
    indices = list(np.ndindex(*work.shape[:3]))
    records = []
    for n, index in enumerate(indices):
        image_seed = int(np.random.SeedSequence(seed, spawn_key=index).generate_state(1)[0])
        image_progress = sub_progress(progress, n / len(indices), (n + 1) / len(indices),
                                      f"image {n + 1}/{len(indices)}: ")
        refined, record = refine_image(bm3d, work[index], psd, config.model_copy(update={"seed": image_seed}),
                                       budget_s=config.time_budget_s / len(indices), pairs=pairs, device=device,
                                       progress=image_progress)
        out[index] = refined.astype(out.dtype)
        records.append(record)
    record: dict[str, object] = {
        "method": "bm3d_refine", "seed": seed, "config": {**config.model_dump(), "method": "bm3d_refine"},
        **noise_record, "images": records,
        "network": {"layers": LAYERS, "width": WIDTH, "batch": BATCH, "pairs_share": PAIRS_SHARE}}
    result = with_record(from_working(out, layout, stack), record)
    return result if isinstance(data, Stack) else result.data
