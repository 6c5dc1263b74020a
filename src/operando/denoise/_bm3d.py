"""BM3D with the measured noise power spectrum (optional extra ``operando[bm3d]``), the correlated-noise anchor.

The ``bm3d`` package (Tampere University) ships binaries licensed for non-commercial use only; operando
does not install it by default. BM3D takes the noise's power spectrum, so stationary correlated noise (a PSF
over white noise, a scintillator's light spread) is handled exactly when the spectrum is right; here it is
measured from the noisy data (:func:`operando.noise.measure_noise_correlation`) unless given.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._stack import Stack, as_stack
from ._layout import from_working, to_working


class _NumpyWithTrapz:
    """NumPy as the ``bm4d`` module sees it, plus ``trapz`` (removed in NumPy 2.4; bm4d 4.2 still calls it)."""

    trapz = staticmethod(getattr(np, "trapezoid", None))

    def __getattr__(self, name: str):
        return getattr(np, name)


def _import_bm3d():
    """Import the optional ``bm3d`` package or say which extra to install."""
    try:
        import bm3d
        import bm4d
    except ImportError:
        raise ImportError("BM3D needs the optional extra: pip install 'operando[bm3d]' "
                          "(non-commercial licence)") from None
    if not hasattr(np, "trapz") and getattr(bm4d, "np", None) is np:
        bm4d.np = _NumpyWithTrapz()  # only bm4d's own name for numpy changes, numpy itself does not
    return bm3d


def denoise_bm3d(
    data: Stack | np.ndarray,
    *,
    axes: str | None = None,
    autocovariance: np.ndarray | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> Stack | np.ndarray:
    """Denoise every image of a stack with BM3D, given the noise's power spectrum (measured unless given).

    Parameters
    ----------
    data : Stack or ndarray
        Image or stack (frames and channels are denoised one image at a time).
    axes : str, optional
        Axes of a plain array.
    autocovariance : ndarray, shape (2L + 1, 2L + 1), optional
        The noise's 2-D autocovariance, lag (0, 0) in the middle (the true one in a benchmark). Default: the one
        :func:`operando.noise.measure_noise_correlation` measures on ``data``.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    Stack or ndarray
        Same type, shape and dtype as the input; a Stack records the noise used in
        ``metadata.extra["denoise"]``.

    Raises
    ------
    ImportError
        When the optional ``bm3d`` package is missing (``pip install 'operando[bm3d]'``).
    """
    bm3d = _import_bm3d()
    from ..noise import measure_noise_correlation, psd_from_autocovariance

    stack = as_stack(data, axes=axes)
    measured = None
    if autocovariance is None:
        measured = measure_noise_correlation(stack)
        autocovariance = measured.autocovariance()
    work, layout = to_working(stack)
    out = np.empty_like(work)
    psd = psd_from_autocovariance(np.asarray(autocovariance, np.float64), work.shape[-2:])
    n_images = work.shape[0] * work.shape[1] * work.shape[2]
    done = 0
    for b in range(work.shape[0]):
        for s in range(work.shape[1]):
            for c in range(work.shape[2]):
                out[b, s, c] = np.asarray(bm3d.bm3d(work[b, s, c].astype(np.float64), sigma_psd=psd), np.float32)
                done += 1
                if progress is not None:
                    progress(done / n_images, f"bm3d: image {done}/{n_images}")
    result = from_working(out, layout, stack)
    centre = autocovariance.shape[0] // 2, autocovariance.shape[1] // 2
    record: dict[str, object] = {"method": "bm3d", "noise_sigma": float(np.sqrt(max(autocovariance[centre], 0.0))),
                                 "psd": "measured" if measured is not None else "given"}
    if measured is not None:
        record["neighbour_corr"] = measured.neighbour_corr
    meta = result.metadata.replace(extra={**result.metadata.extra, "denoise": record})
    result = Stack(result.data, axes=result.axes, metadata=meta)
    return result if isinstance(data, Stack) else result.data


def run_bm3d(stack: Stack, settings) -> Stack:
    """Registry runner of ``bm3d``: every image with the measured noise power spectrum.

    Parameters
    ----------
    stack : Stack
        The noisy stack.
    settings : RunSettings
        ``progress`` is used.

    Returns
    -------
    Stack
        The denoised stack.
    """
    return denoise_bm3d(stack, progress=settings.progress)
