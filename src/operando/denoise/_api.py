"""The public ``denoise`` entry point: validate, rearrange, dispatch to a method, restore shape and dtype."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import numpy as np

from .._errors import InputError
from .._stack import Stack, as_stack
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
    if method in BASELINES:
        return denoise_baseline(data, method=method, axes=axes, progress=progress)  # type: ignore[arg-type]
    if method == "bm4d":
        from ._bm4d import denoise_bm4d

        return denoise_bm4d(data, axes=axes)
    if method in NEURAL:
        from ._inference import predict
        from ._training import train_denoiser

        model = train_denoiser(data, method=method, axes=axes, frames=frames if method == "video" else None,
                               time_budget_s=time_budget_s, rng=rng, device=device, progress=progress)
        return predict(model, data, axes=axes, device=device, tta=tta)
    raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
