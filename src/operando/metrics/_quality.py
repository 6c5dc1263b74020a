"""Image-quality metrics with an explicit data range: PSNR and SSIM, whole-stack and per frame."""

from __future__ import annotations

import numpy as np

from .._errors import InputError
from .._stack import Stack, as_stack


def as_frames(data: Stack | np.ndarray, *, axes: str | None = None) -> np.ndarray:
    """Return float64 frames of shape (n_frames, Y, X[, C]): every axis but Y, X and C becomes a frame.

    Parameters
    ----------
    data : Stack or ndarray
        The stack (an array's axes are guessed from its shape unless ``axes`` is given).
    axes : str, optional
        Axis letters of a plain array.

    Returns
    -------
    ndarray
        Float64 frames, the leading axes flattened into one.
    """
    stack = as_stack(data, axes=axes if axes is not None else (None if isinstance(data, Stack) else _guess(data)))
    lead = "".join(a for a in stack.axes if a not in "YXC")
    order = lead + "YX" + ("C" if "C" in stack.axes else "")
    arr = stack.transpose(order).to_numpy().astype(np.float64)
    n_lead = int(np.prod(arr.shape[: len(lead)])) if lead else 1
    return arr.reshape(n_lead, *arr.shape[len(lead):])


def _guess(data: np.ndarray) -> str:
    """Axes of a bare array for metrics: the last two are Y and X, the rest are frames."""
    nd = np.ndim(data)
    if nd < 2:
        raise InputError(f"metrics need images (>= 2 dimensions), got shape {np.shape(data)}")
    if nd > 5:
        raise InputError(f"pass axes=... for {nd}-D data of shape {np.shape(data)}")
    return "TEZ"[: nd - 2] + "YX"


def _check_pair(clean: np.ndarray, test: np.ndarray, data_range: float) -> None:
    if clean.shape != test.shape:
        raise InputError(f"shapes differ: clean {clean.shape} vs test {test.shape}; compare stacks of the same shape")
    if not data_range or data_range <= 0:
        raise InputError(f"data_range must be > 0, got {data_range}")


def psnr(clean, test, *, data_range: float, axes: str | None = None) -> float:
    """Return the peak signal-to-noise ratio 10 log10(R^2 / MSE) over the whole stack, in dB.

    Parameters
    ----------
    clean, test : Stack or ndarray
        Reference and estimate, same shape.
    data_range : float
        R, the range of the data (1 for concentrations in [0, 1]).
    axes : str, optional
        Axes of plain arrays.

    Returns
    -------
    float
        PSNR in dB (inf for identical stacks).
    """
    a, b = as_frames(clean, axes=axes), as_frames(test, axes=axes)
    _check_pair(a, b, data_range)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(data_range**2 / mse))


def psnr_frames(clean, test, *, data_range: float, axes: str | None = None) -> np.ndarray:
    """Return the PSNR of each frame, in dB.

    Parameters
    ----------
    clean, test : Stack or ndarray
        Reference and estimate, same shape.
    data_range : float
        R in 10 log10(R^2 / MSE).
    axes : str, optional
        Axes of plain arrays.

    Returns
    -------
    ndarray, shape (n_frames,)
        PSNR of each frame in dB.
    """
    a, b = as_frames(clean, axes=axes), as_frames(test, axes=axes)
    _check_pair(a, b, data_range)
    mse = np.mean((a - b) ** 2, axis=tuple(range(1, a.ndim)))
    with np.errstate(divide="ignore"):
        return 10 * np.log10(data_range**2 / mse)


def ssim_frames(clean, test, *, data_range: float, axes: str | None = None) -> np.ndarray:
    """Return the structural similarity of each frame (scikit-image, 7x7 uniform window).

    Parameters
    ----------
    clean, test : Stack or ndarray
        Reference and estimate, same shape.
    data_range : float
        The data range used by SSIM's constants.
    axes : str, optional
        Axes of plain arrays.

    Returns
    -------
    ndarray, shape (n_frames,)
        SSIM of each frame.
    """
    from skimage.metrics import structural_similarity

    a, b = as_frames(clean, axes=axes), as_frames(test, axes=axes)
    _check_pair(a, b, data_range)
    if min(a.shape[1:3]) < 7:
        raise InputError(f"SSIM needs frames of at least 7 x 7 pixels, got {a.shape[1:3]}")
    channel_axis = -1 if a.ndim == 4 else None
    return np.array([
        structural_similarity(x, y, data_range=data_range, channel_axis=channel_axis) for x, y in zip(a, b, strict=True)
    ])


def ssim(clean, test, *, data_range: float, axes: str | None = None) -> float:
    """Return the mean structural similarity over frames.

    Parameters
    ----------
    clean, test : Stack or ndarray
        Reference and estimate, same shape.
    data_range : float
        The data range used by SSIM's constants.
    axes : str, optional
        Axes of plain arrays.

    Returns
    -------
    float
        Mean SSIM (1 for identical stacks).
    """
    return float(np.mean(ssim_frames(clean, test, data_range=data_range, axes=axes)))
