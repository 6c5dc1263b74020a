"""``method="auto"``: pick the denoiser from a :class:`Diagnosis`, and say why (the one place that chooses).

:func:`diagnose` (``_diagnose.measure``) measures the noise: frames, stripes, fixed pattern, impulses and its
correlation in space and between frames (:func:`operando.noise.measure_noise_correlation`). :func:`choose_from`
alone picks the method from that measurement, without measuring anything:

* a video (>= 5 frames along T/E) whose noise changes from frame to frame: ``video`` (temporal masking). The
  donut blind spot on the target frame is kept when the noise is spatially white, its hole widened to the
  measured footprint when neighbours correlate up to 3 px, and switched off beyond that (scan lines);
* a single image (or a short stack) with white noise: ``n2v2``. Leaving the pixel-wise blind spot needs
  evidence: a neighbour correlation that clears 0.1 by two standard errors of its measurement
  (``NoiseCorrelation.blind_spot_ok``; the error is a jackknife over spatial blocks of the flat patches the
  noise was measured on). White noise on a textured image measures |rho1| <= 0.03 and stays with ``n2v2``;
* a single image with noise correlated between neighbours: ``bm3d_refine`` (BM3D with the measured noise
  spectrum, refined by a network trained on re-noised BM3D output) when the optional extra ``operando[bm3d]``
  is installed and the run may use it (not a streamed run: it trains one network per image and keeps none),
  else ``pixel_shuffle`` (AP-BSN style); with row-correlated scan-line noise: ``structn2v``;
* constant data (no noise to measure): ``gaussian``, which leaves it unchanged.

The Diagnosis is measured once per run and handed on (``denoise(..., diagnosis=)``,
``train_denoiser(..., diagnosis=)``); the choice, its reason and the measurement are recorded in the output
(``metadata.extra["denoise"]["auto"]``, :func:`record_choice`; the saved model's JSON; a streamed run's manifest).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace

import numpy as np

from .._errors import InputError
from .._stack import Stack, as_stack
from . import _diagnose
from ._diagnose import Diagnosis
from ._methods import method_entry

#: Largest footprint radius (pixels) the video denoiser's donut hole is widened to; beyond it, no donut.
MAX_DONUT_HOLE_PX = 3


@dataclass(frozen=True)
class AutoChoice:
    """The method ``auto`` picked, the settings it implies, and the measurement behind it."""

    method: str
    reason: str
    settings: dict[str, object] = field(default_factory=dict)
    noise: dict[str, object] = field(default_factory=dict)
    diagnosis: Diagnosis | None = field(default=None, repr=False, compare=False)  # what the choice was made from

    def to_dict(self) -> dict[str, object]:
        """Return the choice as a JSON-ready dict (recorded in the output's metadata)."""
        return {"method": self.method, "reason": self.reason, "settings": dict(self.settings),
                "noise": dict(self.noise)}


def _video_choice(corr, reason_noise: str) -> AutoChoice:
    """Choose the video denoiser's blind spot for this spatial correlation."""
    if corr is None or corr.blind_spot_ok:
        return AutoChoice("video", f"video with noise independent between frames; {reason_noise}: pixel-wise "
                          "donut blind spot", {"blind_spot": True, "blind_spot_radius_px": 0})
    radius = footprint_radius(corr)
    if radius <= MAX_DONUT_HOLE_PX:
        return AutoChoice("video", f"video; {reason_noise}: donut hole widened to {radius} px",
                          {"blind_spot": True, "blind_spot_radius_px": radius})
    return AutoChoice("video", f"video; {reason_noise}, longer than {MAX_DONUT_HOLE_PX} px: temporal masking "
                      "only (no donut)", {"blind_spot": False})


def footprint_radius(corr) -> int:
    """Radius (Chebyshev, px) of the blind-spot footprint the measured correlation needs (0 for white noise)."""
    from ._shaped_masks import footprint_from_correlation

    if corr is None or corr.blind_spot_ok:
        return 0
    return int(min(footprint_from_correlation(corr.acf_2d).shape[0] // 2, 5))


def method_available(name: str) -> bool:
    """Whether ``name``'s optional extra is installed (the method table's check, nothing imported)."""
    return not method_entry(name).missing_extra()


def _noise_words(diagnosis: Diagnosis) -> str:
    """Describe the measured neighbour correlation for a reason ("neighbour correlation 0.06 (x) / ...")."""
    corr = diagnosis.noise_correlation
    se = corr.neighbour_corr_se if corr is not None else float("nan")
    return (f"neighbour correlation {diagnosis.spatial_corr_x:.2f} (x) / {diagnosis.spatial_corr_y:.2f} (y)"
            + (f" +- {se:.3f}" if np.isfinite(se) else "")
            + ("" if corr is not None else ", not measurable where the images are flat"
               if diagnosis.correlation_unmeasured else ", images too small to measure it well"))


def _correlated_image_choice(corr, rho: str, methods: Collection[str] | None) -> AutoChoice:
    """Choose for single images with correlated noise: bm3d_refine when installed and allowed, else pixel_shuffle."""
    allowed = methods is None or "bm3d_refine" in methods
    if allowed and method_available("bm3d_refine"):
        return AutoChoice("bm3d_refine", f"single image(s), {rho}, correlation length {corr.correlation_length_px} "
                          "px: BM3D with the measured spectrum, refined by a network trained on re-noised BM3D "
                          "output")
    why = ("needs the optional extra operando[bm3d]" if allowed else
           "trains one network per image and does not stream chunk by chunk")
    return AutoChoice("pixel_shuffle", f"single image(s), {rho}, correlation length {corr.correlation_length_px} "
                      f"px: pixel-shuffle blind spot (bm3d_refine, better, {why})")


def choose_from(diagnosis: Diagnosis, *, methods: Collection[str] | None = None) -> AutoChoice:
    """Choose a denoiser from a :class:`Diagnosis`, measuring nothing (see the module docstring for the rules).

    Parameters
    ----------
    diagnosis : Diagnosis
        Frames, stripes, fixed pattern and the measured noise correlation (:func:`diagnose`).
    methods : collection of str, optional
        The methods the run can use (a streamed run: ``method_names("streamed")``); None: every method.

    Returns
    -------
    AutoChoice
        Method, one-line reason (with the measured neighbour correlation), settings, the measurement and the
        Diagnosis itself.
    """
    corr = diagnosis.noise_correlation
    if diagnosis.constant:  # nothing to measure: a filter that leaves constant data unchanged
        choice = AutoChoice("gaussian", f"the data is constant (every pixel {diagnosis.constant_value:g}): no noise "
                            "to measure; the gaussian filter leaves it unchanged")
    else:
        rho = _noise_words(diagnosis)
        if diagnosis.n_frames >= 5 and not diagnosis.static_in_time:
            choice = _video_choice(corr, rho) if not diagnosis.stripes else AutoChoice(
                "video", f"video; {rho}, scan-line stripes: temporal masking only (no donut)", {"blind_spot": False})
        elif diagnosis.stripes:
            choice = AutoChoice("structn2v", f"single image(s), {rho}: scan-line stripes, whole rows hidden")
        elif corr is None or corr.blind_spot_ok:
            choice = AutoChoice("n2v2", f"single image(s), {rho}: white noise, pixel-wise blind spot")
        else:
            choice = _correlated_image_choice(corr, rho, methods)
    if methods is not None and choice.method not in methods:
        raise InputError(f"auto chose {choice.method} ({choice.reason}), which this run cannot use (it takes "
                         f"{', '.join(methods)}); give the method")
    noise = corr.to_dict() if corr is not None else {}
    return AutoChoice(choice.method, choice.reason, choice.settings, noise, diagnosis)


def diagnose(data: Stack | np.ndarray, *, axes: str | None = None, progress=None) -> Diagnosis:
    """Measure the noise once (``_diagnose.measure``) and add the method ``auto`` picks from it, with its reason.

    The noise level, impulses and stripes come from the residual of a small spatial median filter; the spatial
    and temporal correlations from :func:`operando.noise.measure_noise_correlation`. Also reported: the
    correlation length, whether the noise is static in time (fixed pattern, which temporal masking cannot
    remove), and the method ``auto`` picks (:func:`choose_from`) with its reason. Hand the result on
    (``denoise(..., method="auto", diagnosis=found)``, ``train_denoiser(..., diagnosis=found)``) instead of
    measuring again.

    Parameters
    ----------
    data : Stack or ndarray
        The noisy stack (its first sequence and channel are examined).
    axes : str, optional
        Axes of a plain array (e.g. ``"TYX"``).
    progress : callable, optional
        Asked between the measurement's steps whether to stop (raise :class:`~operando.Cancelled` in it).

    Returns
    -------
    Diagnosis
        Noise level, impulse share, correlations, stripes, fixed pattern, and the recommended method and loss.
    """
    found = _diagnose.measure(as_stack(data, axes=axes), progress=progress)
    choice = choose_from(found)
    return replace(found, recommended_method=choice.method, recommended_reason=choice.reason)


def choose_method(data: Stack | np.ndarray, *, axes: str | None = None,
                  methods: Collection[str] | None = None) -> AutoChoice:
    """Measure the noise once (:func:`diagnose`) and choose a denoiser from it (:func:`choose_from`).

    Parameters
    ----------
    data : Stack or ndarray
        The noisy stack (a plain array needs ``axes`` unless 2-D).
    axes : str, optional
        Axes of a plain array.
    methods : collection of str, optional
        The methods the run can use; None: every method.

    Returns
    -------
    AutoChoice
        Method, one-line reason (with the measured neighbour correlation), settings, the measurement and the
        Diagnosis (``choice.diagnosis``: hand it on instead of measuring again).
    """
    return choose_from(diagnose(data, axes=axes), methods=methods)


def record_choice(stack: Stack, choice: AutoChoice | dict | None) -> Stack:
    """Add what ``method="auto"`` chose, and why, to a denoised stack's record (``metadata.extra["denoise"]``).

    Parameters
    ----------
    stack : Stack
        A denoised stack.
    choice : AutoChoice, dict or None
        The choice (or its ``to_dict()``, e.g. from a saved model); None leaves the stack as it is.

    Returns
    -------
    Stack
        The stack with ``metadata.extra["denoise"]["auto"]`` set.
    """
    if choice is None:
        return stack
    record = {**stack.metadata.extra.get("denoise", {}),
              "auto": choice.to_dict() if isinstance(choice, AutoChoice) else dict(choice)}
    return Stack(stack.data, axes=stack.axes,
                 metadata=stack.metadata.replace(extra={**stack.metadata.extra, "denoise": record}))


def blind_spot_settings(cfg, diagnosis) -> dict[str, object]:
    """Training settings left to the data: the video's blind spot and the blind-spot radius.

    Parameters
    ----------
    cfg : TrainConfig
        The run's configuration (``blind_spot`` and ``blind_spot_radius_px`` may be None: decided here).
    diagnosis : Diagnosis
        The data's diagnosis.

    Returns
    -------
    dict
        Updates for the configuration.
    """
    radius = footprint_radius(diagnosis.noise_correlation)
    updates: dict[str, object] = {}
    if cfg.method == "video" and cfg.blind_spot is None:
        updates["blind_spot"] = not diagnosis.stripes and radius <= MAX_DONUT_HOLE_PX
    if cfg.blind_spot_radius_px is None and cfg.method in ("video", "shaped"):
        updates["blind_spot_radius_px"] = radius if (cfg.method != "video" or radius <= MAX_DONUT_HOLE_PX) else 0
    return updates
