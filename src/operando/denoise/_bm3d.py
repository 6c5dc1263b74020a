"""BM3D with the measured noise power spectrum (optional extra ``operando[bm3d]``), the correlated-noise anchor.

The ``bm3d`` package (Tampere University) ships binaries licensed for non-commercial use only; operando
does not install it by default. BM3D takes the noise's power spectrum, so stationary correlated noise (a PSF
over white noise, a scintillator's light spread) is handled exactly when the spectrum is right; here it is
measured from the noisy data (:func:`operando.noise.measure_noise_correlation`) unless given.
"""

from __future__ import annotations

import numpy as np

from .._errors import InputError
from .._progress import Progress, emit
from .._stack import Stack, as_stack
from ._layout import from_working, to_working


class _NumpyWithTrapz:
    """NumPy as the ``bm4d`` module sees it, plus ``trapz`` (removed in NumPy 2.4; bm4d 4.2 still calls it)."""

    trapz = staticmethod(getattr(np, "trapezoid", None))

    def __getattr__(self, name: str):
        return getattr(np, name)


def bm3d_available() -> bool:
    """Whether the optional ``bm3d`` extra is installed (found without importing it)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("bm3d", "bm4d"))


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
    channels_together: bool = False,
    progress: Progress | None = None,
) -> Stack | np.ndarray:
    """Denoise every image of a stack with BM3D, given the noise's power spectrum (measured unless given).

    With ``channels_together``, the channels (``C``) of each image are denoised at once, with one block matching
    (see :func:`_bm3d_channels_together`): for images of one scene whose contrast differs between channels, such
    as STXM images at two energies.

    Parameters
    ----------
    data : Stack or ndarray
        Image or stack (frames and channels are denoised one image at a time).
    axes : str, optional
        Axes of a plain array.
    autocovariance : ndarray, shape (2L + 1, 2L + 1), optional
        The noise's 2-D autocovariance, lag (0, 0) in the middle (the true one in a benchmark). Default: the one
        :func:`operando.noise.measure_noise_correlation` measures on ``data`` (with ``channels_together``: on
        each image of each channel; a given one serves every channel).
    channels_together : bool
        Denoise the channels of an image jointly (needs a ``C`` axis of >= 2 channels).
    progress : callable, optional
        Receives a :class:`~operando.ProgressEvent` after each image; raising :class:`~operando.Cancelled` from
        it stops the run there (one BM3D call is not interrupted).

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
    stack = as_stack(data, axes=axes)
    if channels_together:
        return _denoise_channels_together(bm3d, data, stack, autocovariance, progress)
    psd, noise_record = noise_spectrum(stack, autocovariance, "bm3d")
    work, layout = to_working(stack)
    out = np.empty_like(work)
    n_images = work.shape[0] * work.shape[1] * work.shape[2]
    done = 0
    for b in range(work.shape[0]):
        for s in range(work.shape[1]):
            for c in range(work.shape[2]):
                out[b, s, c] = np.asarray(bm3d.bm3d(work[b, s, c].astype(np.float64), sigma_psd=psd), np.float32)
                done += 1
                emit(progress, done / n_images, f"bm3d: image {done}/{n_images}")
    result = from_working(out, layout, stack)
    return _recorded(result, {"method": "bm3d", **noise_record}, data)


def noise_spectrum(stack: Stack, autocovariance: np.ndarray | None, method: str
                   ) -> tuple[np.ndarray, dict[str, object]]:
    """Return the noise's power spectrum for ``stack``'s images (measured unless given) and its record.

    Parameters
    ----------
    stack : Stack
        The noisy images.
    autocovariance : ndarray, shape (2L + 1, 2L + 1), optional
        The noise's 2-D autocovariance, lag (0, 0) in the middle; None: measured on ``stack``
        (:func:`operando.noise.measure_noise_correlation`).
    method : str
        The method's name, to open the error message with.

    Returns
    -------
    tuple
        The power spectrum, shape (Y, X), in BM3D's convention, and the record: ``noise_sigma``, ``psd``
        ("measured" or "given") and, when measured, ``neighbour_corr``.

    Raises
    ------
    InputError
        When the spectrum is zero or not finite (flat regions that hold no noise).
    """
    from ..noise import measure_noise_correlation, psd_from_autocovariance

    measured = None
    if autocovariance is None:
        measured = measure_noise_correlation(stack)
        autocovariance = measured.autocovariance()
    psd = psd_from_autocovariance(np.asarray(autocovariance, np.float64), (stack.size("Y"), stack.size("X")))
    if not np.all(np.isfinite(psd)) or psd.max() <= 0:
        raise InputError(f"{method}: the noise measured on the data is zero or undefined (its flat regions hold no "
                         "noise: filled or synthetic images?); give the noise's autocovariance or use another method")
    centre = autocovariance.shape[0] // 2, autocovariance.shape[1] // 2
    record: dict[str, object] = {"noise_sigma": float(np.sqrt(max(autocovariance[centre], 0.0))),
                                 "psd": "measured" if measured is not None else "given"}
    if measured is not None:
        record["neighbour_corr"] = measured.neighbour_corr
    return psd, record


def _recorded(result: Stack, record: dict[str, object], data: Stack | np.ndarray) -> Stack | np.ndarray:
    """Return ``result`` with ``record`` in ``metadata.extra["denoise"]``, as a Stack if ``data`` was one."""
    meta = result.metadata.replace(extra={**result.metadata.extra, "denoise": record})
    result = Stack(result.data, axes=result.axes, metadata=meta)
    return result if isinstance(data, Stack) else result.data


def _denoise_channels_together(bm3d, data: Stack | np.ndarray, stack: Stack, autocovariance: np.ndarray | None,
                                progress: Progress | None) -> Stack | np.ndarray:
    """:func:`denoise_bm3d` with ``channels_together``: every (batch, frame) image's channels in one BM3D call."""
    if "C" not in stack.axes or stack.size("C") < 2:
        raise InputError(f"channels_together needs a C axis of >= 2 channels, got axes {stack.axes!r} "
                         f"{stack.shape}; denoise single-channel images with channels_together=False")
    work, layout = to_working(stack)
    out = np.empty_like(work)
    n_images = work.shape[0] * work.shape[1]
    sigmas = []
    for i, (b, s) in enumerate(np.ndindex(*work.shape[:2])):
        out[b, s], sigma = _bm3d_channels_together(bm3d, work[b, s].astype(np.float64), autocovariance)
        sigmas.append(sigma)
        emit(progress, (i + 1) / n_images, f"bm3d: image {i + 1}/{n_images} (channels together)")
    result = from_working(out, layout, stack)
    record = {"method": "bm3d", "channels_together": True, "noise_sigma": np.mean(sigmas, axis=0).tolist(),
              "psd": "given" if autocovariance is not None else
              "measured per channel (white with a wavelet-MAD sigma below 36 px a side)"}
    return _recorded(result, record, data)


def _bm3d_channels_together(bm3d, image: np.ndarray, autocovariance: np.ndarray | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Denoise the channels (C, Y, X) of one image jointly: one block matching, on the channels' common part.

    Each channel is scaled to unit noise by its measured sigma, then rotated by an orthonormal matrix whose first
    column is the channels' mean direction (as colour BM3D uses an opponent colour space): BM3D matches blocks on
    that first channel, which holds the structure every channel shares (for STXM, the particles at every energy),
    and filters all channels in the matched groups. The rotated channels' noise spectra are
    ``sum_e Q[e, k]^2 psd_e / sigma_e^2`` (channels' noise independent). Rotated back and rescaled afterwards.
    Returns the denoised image and each channel's noise sigma. A given ``autocovariance`` serves every channel.
    """
    n_c = image.shape[0]
    noise = [_channel_noise(channel, autocovariance) for channel in image]
    sigma = np.array([s for s, _ in noise])
    unit_psd = np.stack([p for _, p in noise])
    basis = np.column_stack([np.ones(n_c)] + [np.eye(n_c)[:, i] for i in range(1, n_c)])
    q = np.linalg.qr(basis)[0]
    q *= np.sign(q[0, 0])
    rotated = np.einsum("ek,eyx->yxk", q, image / sigma[:, None, None])
    psd = np.einsum("ek,eyx->yxk", q**2, unit_psd)
    denoised = np.asarray(bm3d.bm3d(rotated, sigma_psd=psd), np.float64)
    return np.einsum("ek,yxk->eyx", q, denoised) * sigma[:, None, None], sigma


def _channel_noise(image: np.ndarray, autocovariance: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Noise sigma of one image and its power spectrum per unit variance (measured; white below 36 px a side).

    An image too small to measure a correlation, or whose flat patches hold no noise, gets a white spectrum and
    the wavelet-MAD sigma of scikit-image.
    """
    from skimage.restoration import estimate_sigma

    from ..noise import measure_noise_correlation, psd_from_autocovariance

    if autocovariance is not None:
        acov = np.asarray(autocovariance, np.float64)
        sigma = float(np.sqrt(max(acov[acov.shape[0] // 2, acov.shape[1] // 2], 1e-24)))
        return sigma, psd_from_autocovariance(acov, image.shape) / sigma**2
    try:
        measured = measure_noise_correlation(image)
    except InputError:
        measured = None
    if measured is not None and np.isfinite(measured.sigma) and measured.sigma > 1e-12:
        unit_psd = measured.psd(image.shape) / measured.sigma**2
        if np.all(np.isfinite(unit_psd)) and unit_psd.max() > 0:
            return measured.sigma, unit_psd
    sigma = float(estimate_sigma(image))
    if not np.isfinite(sigma) or sigma <= 1e-12:
        raise InputError("bm3d: no noise found in an image (flat or filled?); nothing to denoise there")
    return sigma, np.full(image.shape, float(image.size))


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
