"""The denoising half of a neutron analysis: the denoiser on the chosen target, the TV polish, the region means."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._errors import InputError
from ..._progress import Progress, check_cancel, emit, sub_progress
from ..._stack import Stack
from ...neutron import DeltaA, Regions, Transmission, differential_attenuation, normalize, remove_spots_temporal
from ._config import AnalysisConfig

#: Low-pass of the mean correction: Gaussian sigma in pixels (in-plane) and in frames.
MEAN_CORRECTION_SIGMA = (2.0, 4.0)

#: What the analysis keeps of the denoiser's record (``metadata.extra["denoise"]``) in metrics.json.
RECORD_KEYS = ("method", "seed", "steps", "stop_reason", "masked", "auto")


def denoise_series(data: np.ndarray, config: AnalysisConfig, progress: Progress | None) -> tuple[np.ndarray,
                                                                                                  dict[str, Any]]:
    """Denoise a (T, Y, X) array with ``config.denoise`` (:func:`operando.denoise.denoise_masked`: NaN filled).

    Returns the denoised array (float32, NaN where the input was not finite) and the denoiser's record: the
    method run, its seed and steps, the pixels filled and, for ``auto``, the choice and its reason as
    :func:`operando.denoise.denoise` recorded them (the pipeline never diagnoses the noise itself).
    """
    from ...denoise import denoise_masked

    train = None
    if config.max_steps is not None:
        from ...denoise import TrainConfig

        train = TrainConfig(max_steps=int(config.max_steps), time_budget_s=config.time_budget_s)
    out = denoise_masked(Stack(np.asarray(data, np.float32), axes="TYX"), method=config.denoise,
                         time_budget_s=config.time_budget_s, config=train, rng=config.seed, progress=progress)
    record = out.metadata.extra.get("denoise", {})
    return np.asarray(out.to_numpy(), np.float32), {key: record[key] for key in RECORD_KEYS if key in record}


def denoised_delta(sample: Stack | None, open_beam: Stack | None, dark: Stack | None, tr: Transmission | Stack,
                   delta: DeltaA, config: AnalysisConfig, progress: Progress | None
                   ) -> tuple[np.ndarray, dict[str, Any]]:
    """Return denoised Delta A (denoising Delta A itself, the transmission, or the raw counts) and the record."""
    if config.denoise_target == "delta_a":
        return denoise_series(delta.stack.to_numpy(), config, progress)
    train = sub_progress(progress, 0.0, 0.9)
    if config.denoise_target == "transmission":
        t_stack = tr.stack if isinstance(tr, Transmission) else tr
        clean_t, record = denoise_series(t_stack.to_numpy(), config, train)
        stack = Stack(clean_t, axes="TYX", metadata=t_stack.metadata)
    else:
        if sample is None or open_beam is None or dark is None:
            raise InputError("denoise_target='raw' needs the raw sample, open beam and dark; give them or denoise "
                             "'delta_a'")
        cleaned = remove_spots_temporal(sample.to_numpy()).data
        counts, record = denoise_series(cleaned, config, train)
        raw = Stack(counts, axes="TYX", metadata=sample.metadata)
        stack = normalize(raw, open_beam, dark, open_regions=config.open_regions, spots="none",
                          gain=config.gain).stack
    again = differential_attenuation(stack, reference=config.reference, register=config.register_drift,
                                     drift_region=config.drift_region, progress=sub_progress(progress, 0.9, 0.95))
    return polish(again, config, delta.info, progress=sub_progress(progress, 0.95, 1.0)), record


def polish(denoised: DeltaA, config: AnalysisConfig, info: dict[str, Any], *,
           progress: Progress | None = None) -> np.ndarray:
    """Return the denoised Delta A with its reference image and then each frame smoothed by total variation.

    1. A_ref (the mean of the denoised reference frames) is subtracted from every frame, so the noise it keeps
       is a static pattern in all of Delta A, which a video denoiser cannot remove: the reference frames are
       predicted from each other, and their mean kept most of their own noise (on the phantom, a static error of
       rms 0.0061 against 0.0043 for everything else). ``Delta A(t) <- Delta A(t) + A_ref - TV_w(A_ref)``.
    2. Each frame then gets ``TV_w(Delta A(t))``: what the network left is spatially rough noise.

    ``w`` is each image's residual noise sd (scikit-image's wavelet MAD estimate). J-invariant calibration does
    not apply here: the residual noise of a denoised image is not independent between pixels.
    """
    data = denoised.stack.to_numpy()
    ref = denoised.reference_image
    if config.polish == "none" or ref is None:
        return data
    from skimage.restoration import denoise_tv_chambolle, estimate_sigma

    def tv(image: np.ndarray) -> tuple[np.ndarray, float]:
        bad = ~np.isfinite(image)
        filled = np.where(bad, float(np.nanmedian(image)) if (~bad).any() else 0.0, image).astype(np.float64)
        weight = float(estimate_sigma(filled))
        out = denoise_tv_chambolle(filled, weight=weight) if weight > 0 else filled
        out[bad] = np.nan
        return out, weight

    smooth_ref, w_ref = tv(ref)
    shifted = data + (ref - smooth_ref)[None]
    frames, weights = [], []
    for t, frame in enumerate(shifted):
        check_cancel(progress, t / len(shifted), "TV polish")
        out, weight = tv(frame)
        frames.append(out)
        weights.append(weight)
    info["polish"] = {"method": "tv, weight = residual noise sd (wavelet MAD)", "reference_weight": w_ref,
                      "frame_weight_median": float(np.median(weights)), "frame_weight_max": float(np.max(weights))}
    return np.stack(frames).astype(np.float32)


def restore_region_means(denoised: np.ndarray, raw: np.ndarray, regions: Regions, *,
                         sigma: tuple[float, float] = MEAN_CORRECTION_SIGMA, progress: Progress | None = None
                         ) -> tuple[np.ndarray, dict[str, Any]]:
    """Return denoised Delta A with the low-pass of ``raw - denoised`` added back within each region.

    A denoiser trained on noisy data may move a region's mean (on the phantom family it pulls the electrodes'
    Delta A toward the rest of the image); the raw data's mean is unbiased. The residual ``raw - denoised`` is
    mostly noise plus that slow, smooth error: its low-pass (a Gaussian of ``sigma = (frames, pixels)``,
    normalised within each layer region: electrodes, separator, collectors, so no region borrows another's) is
    added back, and then each region's per-frame mean is set to the raw data's, smoothed over frames with the
    same sigma. The detail (the high-pass) stays the denoiser's; what is added is smooth (an rms of about
    ``sd / sqrt(volume of the kernel)``). A region's correction covers it and a 1 px rim around it; other pixels
    get the low-pass over all pixels.

    Parameters
    ----------
    denoised, raw : ndarray, shape (T, Y, X)
        Denoised and raw Delta A (NaN where masked).
    regions : Regions
        The regions (kinds electrode, separator and collector are corrected on their own).
    sigma : (float, float)
        Gaussian sigma in frames and in pixels.
    progress : callable, optional
        Receives :class:`operando.ProgressEvent` reports (one per region); raise :class:`operando.Cancelled` in it
        to stop.

    Returns
    -------
    corrected : ndarray, float32
        The denoised Delta A with the raw data's low-pass restored.
    info : dict
        Per region: the largest and the rms correction of the region's mean.
    """
    from scipy import ndimage

    st, ss = sigma
    res = raw.astype(np.float64) - denoised
    finite = np.isfinite(res)
    res0 = np.where(finite, res, 0.0)

    def lowpass(weight: np.ndarray) -> np.ndarray:
        w = (weight & finite).astype(np.float64)
        num = ndimage.gaussian_filter(res0 * w, (st, ss, ss), mode="nearest")
        den = ndimage.gaussian_filter(w, (st, ss, ss), mode="nearest")
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 1e-6, num / den, 0.0)

    out = denoised.astype(np.float64) + lowpass(np.ones(res.shape, bool))
    info: dict[str, Any] = {"sigma_frames": st, "sigma_px": ss}
    layers = [*regions.of_kind("electrode"), *regions.of_kind("separator"), *regions.of_kind("collector")]
    taken = np.zeros(res.shape[1:], bool)
    for i, region in enumerate(layers):
        emit(progress, i / max(len(layers), 1), f"mean correction: {region.name}")
        mask = np.broadcast_to(region.mask, res.shape)
        if not (mask & finite).any():
            continue
        # the region's correction also covers a 1 px rim (not another region's), so no 3 x 3 window of its
        # pixels straddles a step between two corrections
        others = np.any([r.mask for r in layers if r is not region], axis=0) if len(layers) > 1 else taken
        rim = ndimage.binary_dilation(region.mask) & ~others & ~taken
        taken |= rim
        part = denoised + lowpass(mask)
        cnt = (mask & finite).sum(axis=(1, 2))
        left = np.where(cnt > 0, np.where(mask & finite, raw - part, 0.0).sum(axis=(1, 2)) / np.maximum(cnt, 1), 0.0)
        wt = (cnt > 0).astype(np.float64)
        smooth = ndimage.gaussian_filter1d(left * wt, st, mode="nearest") / np.maximum(
            ndimage.gaussian_filter1d(wt, st, mode="nearest"), 1e-6)
        part = part + smooth[:, None, None]
        grown = np.broadcast_to(rim, res.shape)
        out[grown] = part[grown]
        shift = np.array([np.nanmean(f[m]) if m.any() else 0.0
                          for f, m in zip(part - denoised, mask & finite, strict=True)])
        info[region.name] = {"mean_shift_max_abs": float(np.max(np.abs(shift))),
                             "mean_shift_rms": float(np.sqrt(np.mean(shift**2)))}
    out[~np.isfinite(denoised)] = np.nan
    return out.astype(np.float32), info
