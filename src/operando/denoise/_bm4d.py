"""BM4D (optional extra ``operando[bm3d]``): collaborative filtering of a whole space-time stack.

The ``bm4d`` package ships binaries licensed for non-commercial use only (Tampere University); operando
does not install it by default.
"""

from __future__ import annotations

import numpy as np

from .._errors import InputError
from .._progress import Progress, emit
from .._stack import Stack, as_stack
from ._diagnose import measure as diagnose
from ._layout import from_working, to_working, with_record


def denoise_bm4d(data: Stack | np.ndarray, *, axes: str | None = None, sigma: float | None = None,
                 progress: Progress | None = None):
    """Denoise with BM4D, the noise sigma estimated by :func:`diagnose` unless given.

    Parameters
    ----------
    data : Stack or ndarray
        The noisy stack.
    axes : str, optional
        Axes of a plain array.
    sigma : float, optional
        Noise standard deviation (default: estimated).
    progress : callable, optional
        Receives a :class:`~operando.ProgressEvent` after each channel's stack; raising
        :class:`~operando.Cancelled` from it stops the run there (one BM4D call is not interrupted).

    Returns
    -------
    Stack or ndarray
        Same type, shape and dtype as ``data``; a Stack records the sigma used.
    """
    try:
        import bm4d
    except ImportError:
        raise ImportError("BM4D needs the optional extra: pip install 'operando[bm3d]' "
                          "(non-commercial licence)") from None
    stack = as_stack(data, axes=axes)
    work, layout = to_working(stack)
    if min(work.shape[1], *work.shape[3:]) < 8:
        raise InputError(f"BM4D needs at least 8 frames and 8 x 8 pixels (its block size), got a stack of shape "
                         f"{stack.shape} ({stack.axes}); use another method for so small a stack")
    s = sigma if sigma is not None else diagnose(stack).noise_sigma
    out = np.empty_like(work)
    n_stacks = work.shape[0] * work.shape[2]
    for i, (b, c) in enumerate(np.ndindex(work.shape[0], work.shape[2])):
        out[b, :, c] = np.asarray(bm4d.bm4d(work[b, :, c], sigma_psd=s), np.float32)
        emit(progress, (i + 1) / n_stacks, f"bm4d: stack {i + 1}/{n_stacks}")
    result = with_record(from_working(out, layout, stack), {"method": "bm4d", "sigma": float(s)})
    return result if isinstance(data, Stack) else result.data


def run_bm4d(stack: Stack, settings) -> Stack:
    """Registry runner of ``bm4d``.

    Parameters
    ----------
    stack : Stack
        The noisy stack.
    settings : RunSettings
        ``progress`` is used (BM4D takes no training settings).

    Returns
    -------
    Stack
        The denoised stack.
    """
    return denoise_bm4d(stack, progress=settings.progress)
