"""Denoise data with pixels that hold no measurement: fill them, denoise, put NaN back (the one helper for it).

A denoiser sees every pixel, so pixels without a measurement (NaN from missing chunks, a detector's gaps, a
sample's outside) are given the median (or mean) of the valid ones first; the network or filter also reads them
beside the pixels it restores. They are NaN again in the result, so they stay masked downstream.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .._errors import InputError
from .._stack import Stack

Fill = Literal["median", "mean"]


def fill_invalid(data: np.ndarray, valid: np.ndarray | None = None, *,
                 fill: Fill = "median") -> tuple[np.ndarray, np.ndarray | None, float]:
    """Return ``data`` with the pixels that are not valid set to the median (or mean) of the valid ones.

    Parameters
    ----------
    data : ndarray
        Any array.
    valid : ndarray of bool, optional
        True where a pixel holds a measurement, the shape of ``data``. Default: the finite pixels.
    fill : {"median", "mean"}
        The value given to the other pixels (0 when no pixel is valid).

    Returns
    -------
    ndarray, ndarray or None, float
        The filled array (same dtype; ``data`` itself when nothing is filled), the mask of the pixels filled
        (None when there were none) and the value they were given.
    """
    if fill not in ("median", "mean"):
        raise InputError(f"fill={fill!r}: choose 'median' or 'mean'")
    if valid is None:
        if data.dtype.kind not in "fc":
            return data, None, float("nan")
        valid = np.isfinite(data)
    else:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != data.shape:
            raise InputError(f"mask shape {valid.shape} differs from the data's {data.shape}; give one True/False per "
                             "pixel (True: a measurement)")
    if valid.all():
        return data, None, float("nan")
    kept = data[valid]
    centre = (np.median(kept) if fill == "median" else np.mean(kept)) if kept.size else 0.0
    if data.dtype.kind in "iub":
        centre = np.round(centre)
    invalid = ~valid
    filled = np.where(invalid, centre, data).astype(data.dtype, copy=False)
    return filled, invalid, float(np.real(centre))


def denoise_masked(data: Stack | np.ndarray, mask: np.ndarray | None = None, *, fill: Fill = "median",
                   **denoise_kwargs: Any) -> Stack | np.ndarray:
    """Denoise data that has pixels without a measurement: fill them, :func:`denoise`, put NaN back there.

    Parameters
    ----------
    data : Stack or ndarray
        The noisy stack (a plain array needs ``axes`` among ``denoise_kwargs`` unless 2-D).
    mask : ndarray of bool, optional
        True where a pixel holds a measurement, the shape of ``data``. Default: the finite pixels.
    fill : {"median", "mean"}
        The value the other pixels get for the denoiser: the median (or mean) of the valid ones.
    **denoise_kwargs
        Arguments of :func:`denoise` (``method``, ``axes``, ``rng``, ``config``, ``progress``, ...).

    Returns
    -------
    Stack or ndarray
        As :func:`denoise`, with NaN where a pixel is not valid (float32 then, when the input is integer).
        A Stack records ``metadata.extra["denoise"]["masked"]``: the pixels filled, how and with what value.
    """
    array = data.to_numpy() if isinstance(data, Stack) else np.asarray(data)
    filled, invalid, value = fill_invalid(array, mask, fill=fill)
    from ._api import denoise

    if invalid is None:
        return denoise(data, **denoise_kwargs)
    if invalid.all():
        raise InputError(f"no pixel of the data (shape {array.shape}) is valid: nothing to denoise; give a mask with "
                         "True where a pixel holds a measurement")
    source = data.with_data(filled) if isinstance(data, Stack) else filled
    result = denoise(source, **denoise_kwargs)
    out = result.to_numpy() if isinstance(result, Stack) else np.asarray(result)
    out = out.astype(out.dtype if out.dtype.kind in "fc" else np.float32, copy=True)
    out[invalid] = np.nan
    if not isinstance(result, Stack):
        return out
    record = {**result.metadata.extra.get("denoise", {}),
              "masked": {"filled": int(invalid.sum()), "of": int(invalid.size), "fill": fill, "value": value}}
    meta = result.metadata.replace(extra={**result.metadata.extra, "denoise": record})
    return Stack(out, axes=result.axes, metadata=meta)
