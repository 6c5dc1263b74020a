"""The public ``denoise`` entry point: validate, rearrange, dispatch to a method, restore shape and dtype."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import numpy as np

from .._errors import InputError
from .._stack import Stack, as_stack
from .._stack import convert_dtype
from ._baselines import apply_baseline, calibrate_baseline
from ._layout import from_working, to_working

logger = logging.getLogger(__name__)

BASELINES = ("gaussian", "median", "nlm", "tv")
Method = Literal["gaussian", "median", "nlm", "tv"]


def denoise_baseline(
    data: Stack | np.ndarray,
    *,
    method: Method = "gaussian",
    axes: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> Stack | np.ndarray:
    """Denoise with a classical filter whose parameters are chosen self-supervised (J-invariant calibration).

    Parameters
    ----------
    data : Stack or ndarray
        Image, video (``T``) or spectral (``E``) stack; RGB (``C``) channels are calibrated separately.
    method : {"gaussian", "median", "nlm", "tv"}
        Space-time Gaussian, space-time median, per-frame non-local means, per-frame total variation.
    axes : str, optional
        Axes of a plain array (e.g. ``"TYX"``).
    progress : callable, optional
        Called as ``progress(fraction_done, message)``.

    Returns
    -------
    Stack or ndarray
        Same type, shape and dtype as the input. The chosen parameters are in
        ``metadata.extra["denoise"]`` of a returned Stack.
    """
    if method not in BASELINES:
        raise InputError(f"unknown baseline {method!r}; choose one of {', '.join(BASELINES)}")
    stack = as_stack(data, axes=axes)
    work, layout = to_working(stack)
    out = np.empty_like(work)
    chosen = []
    n_c = work.shape[2]
    for c in range(n_c):
        calib = calibrate_baseline(method, work[0, :, c])
        chosen.append(calib.best)
        for b in range(work.shape[0]):
            out[b, :, c] = apply_baseline(method, work[b, :, c], calib.best)
        if progress is not None:
            progress((c + 1) / n_c, f"{method}: channel {c + 1}/{n_c}")
    result = from_working(out, layout, stack)
    meta = result.metadata.replace(extra={**result.metadata.extra, "denoise": {"method": method, "params": chosen}})
    result = Stack(result.data, axes=result.axes, metadata=meta)
    return result if isinstance(data, Stack) else result.data


NEURAL = ("video", "n2v", "n2v2", "structn2v")
METHODS = NEURAL + BASELINES + ("bm4d",)


def denoise(
    data: Stack | np.ndarray,
    *,
    method: str = "video",
    axes: str | None = None,
    frames: int = 5,
    time_budget_s: float = 300.0,
    rng: int | np.random.Generator | None = None,
    device: str = "auto",
    tta: bool = False,
    ensemble: int = 1,
    progress: Callable[[float, str], None] | None = None,
) -> Stack | np.ndarray:
    """Denoise an image, video or spectral stack with ``method``, trained on the data itself.

    Parameters
    ----------
    data : Stack or ndarray
        The noisy stack (a plain array needs ``axes`` unless 2-D).
    method : str
        ``video`` (temporal masking), ``n2v``, ``n2v2``, ``structn2v`` (spatial blind spot), ``gaussian``,
        ``median``, ``nlm``, ``tv`` (calibrated classical filters) or ``bm4d`` (optional extra).
    frames : int
        Window of the video denoiser.
    time_budget_s : float
        Training budget of the networks, in seconds.
    rng : int or Generator, optional
        Seed.
    device : {"auto", "cpu", "cuda"}
    tta : bool
        Networks only: average the prediction over the flips and rotations used in training (8x slower
        inference, usually better; see :func:`predict`).
    ensemble : int
        Networks only: train this many networks with different seeds (``rng``, ``rng + 1``, ...; each with the
        full ``time_budget_s``) and average their predictions. Each run's error is partly its own, so the
        average is better (+0.7 dB for 3 runs on the physics benchmark's video, docs/benchmarks.md), at
        ``ensemble`` times the cost.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    Stack or ndarray
        Same type, shape and dtype as ``data``.

    See Also
    --------
    denoise_baseline, train_denoiser, predict
    """
    if ensemble != 1 and (method in BASELINES or method == "bm4d"):
        raise InputError(f"ensemble averages trained networks ({', '.join(NEURAL)}); {method!r} is deterministic, "
                         "use ensemble=1")
    if ensemble < 1:
        raise InputError(f"ensemble must be >= 1, got {ensemble}")
    if method in BASELINES:
        return denoise_baseline(data, method=method, axes=axes, progress=progress)  # type: ignore[arg-type]
    if method == "bm4d":
        from ._bm4d import denoise_bm4d

        return denoise_bm4d(data, axes=axes)
    if method in NEURAL:
        from ._inference import predict
        from ._training import train_denoiser

        if ensemble == 1:
            model = train_denoiser(data, method=method, axes=axes, frames=frames if method == "video" else None,
                                   time_budget_s=time_budget_s, rng=rng, device=device, progress=progress)
            return predict(model, data, axes=axes, device=device, tta=tta)
        stack = as_stack(data, axes=axes)
        as_float = Stack(stack.to_numpy().astype(np.float32), axes=stack.axes, metadata=stack.metadata)
        total = None
        for i, seed in enumerate(ensemble_seeds(rng, ensemble)):
            member_progress = None if progress is None else (
                lambda f, m, i=i: progress((i + f) / ensemble, f"run {i + 1}/{ensemble}: {m}"))
            model = train_denoiser(stack, method=method, frames=frames if method == "video" else None,
                                   time_budget_s=time_budget_s, rng=seed, device=device, progress=member_progress)
            out = predict(model, as_float, device=device, tta=tta).to_numpy().astype(np.float64)
            total = out if total is None else total + out
        average = convert_dtype(total / ensemble, stack.dtype)
        meta = stack.metadata.replace(extra={**stack.metadata.extra,
                                             "denoise": {"method": method, "ensemble": ensemble}})
        result = Stack(average, axes=stack.axes, metadata=meta)
        return result if isinstance(data, Stack) else result.data
    raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def ensemble_seeds(rng: int | np.random.Generator | None, n: int) -> list[int | None]:
    """Seeds of an ensemble's runs: rng, rng + 1, ... for an int; drawn from a Generator; None stays None."""
    if rng is None:
        return [None] * n
    if isinstance(rng, np.random.Generator):
        return [int(s) for s in rng.integers(0, 2**31 - 1, n)]
    return [int(rng) + i for i in range(n)]
