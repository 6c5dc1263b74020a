"""``method="auto"``: pick the denoiser from the measured noise, and say why.

The choice reads two diagnoses: :func:`operando.noise.measure_noise_correlation` (how the noise correlates in
space and between frames) and :func:`diagnose` (frames, stripes, fixed pattern, impulses):

* a video (>= 5 frames along T/E) whose noise changes from frame to frame: ``video`` (temporal masking). The
  donut blind spot on the target frame is kept when the noise is spatially white, its hole widened to the
  measured footprint when neighbours correlate up to 3 px, and switched off beyond that (scan lines);
* a single image (or a short stack) with white noise: ``n2v2``. Leaving the pixel-wise blind spot needs
  evidence: a neighbour correlation that clears 0.1 by two standard errors of its measurement
  (``NoiseCorrelation.blind_spot_ok``; the error is a jackknife over spatial blocks of the flat patches the
  noise was measured on). White noise on a textured image measures |rho1| <= 0.03 and stays with ``n2v2``;
* a single image with noise correlated between neighbours: ``bm3d_refine`` (BM3D with the measured noise
  spectrum, refined by a network trained on re-noised BM3D output) when the optional extra ``operando[bm3d]``
  is installed, else ``pixel_shuffle`` (AP-BSN style); with row-correlated scan-line noise: ``structn2v``.

The choice, its reason and the measurement are recorded in the output's metadata
(``metadata.extra["denoise"]["auto"]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._stack import Stack, as_stack
from ._bm3d import bm3d_available

#: Largest footprint radius (pixels) the video denoiser's donut hole is widened to; beyond it, no donut.
MAX_DONUT_HOLE_PX = 3


@dataclass(frozen=True)
class AutoChoice:
    """The method ``auto`` picked, the settings it implies, and the measurement behind it."""

    method: str
    reason: str
    settings: dict[str, object] = field(default_factory=dict)
    noise: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
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


def choose_from(diagnosis) -> AutoChoice:
    """Choose a denoiser from a :class:`Diagnosis` (see the module docstring for the rules).

    Parameters
    ----------
    diagnosis : Diagnosis
        Frames, stripes, fixed pattern and the measured noise correlation.

    Returns
    -------
    AutoChoice
        Method, one-line reason (with the measured neighbour correlation), settings and the measurement.
    """
    corr = diagnosis.noise_correlation
    if getattr(diagnosis, "constant", False):  # nothing to measure: a filter that leaves constant data unchanged
        return AutoChoice(diagnosis.recommended_method, diagnosis.recommended_reason)
    noise = corr.as_dict() if corr is not None else {}
    se = corr.neighbour_corr_se if corr is not None else float("nan")
    rho = (f"neighbour correlation {diagnosis.spatial_corr_x:.2f} (x) / {diagnosis.spatial_corr_y:.2f} (y)"
           + (f" +- {se:.3f}" if np.isfinite(se) else "")
           + ("" if corr is not None else ", not measurable where the images are flat"
              if getattr(diagnosis, "correlation_unmeasured", "") else ", images too small to measure it well"))
    if diagnosis.n_frames >= 5 and not diagnosis.static_in_time:
        choice = _video_choice(corr, rho) if not diagnosis.stripes else AutoChoice(
            "video", f"video; {rho}, scan-line stripes: temporal masking only (no donut)", {"blind_spot": False})
    elif diagnosis.stripes:
        choice = AutoChoice("structn2v", f"single image(s), {rho}: scan-line stripes, whole rows hidden")
    elif corr is None or corr.blind_spot_ok:
        choice = AutoChoice("n2v2", f"single image(s), {rho}: white noise, pixel-wise blind spot")
    elif bm3d_available():
        choice = AutoChoice("bm3d_refine", f"single image(s), {rho}, correlation length "
                            f"{corr.correlation_length_px} px: BM3D with the measured spectrum, refined by a network "
                            "trained on re-noised BM3D output")
    else:
        choice = AutoChoice("pixel_shuffle", f"single image(s), {rho}, correlation length "
                            f"{corr.correlation_length_px} px: pixel-shuffle blind spot (bm3d_refine, better, needs "
                            "the optional extra operando[bm3d])")
    return AutoChoice(choice.method, choice.reason, choice.settings, noise)


def choose_method(data: Stack | np.ndarray, *, axes: str | None = None) -> AutoChoice:
    """Choose a denoiser from the measured noise (see the module docstring for the rules).

    Parameters
    ----------
    data : Stack or ndarray
        The noisy stack (a plain array needs ``axes`` unless 2-D).
    axes : str, optional
        Axes of a plain array.

    Returns
    -------
    AutoChoice
        Method, one-line reason (with the measured neighbour correlation), settings and the measurement.
    """
    from ._diagnose import diagnose

    return choose_from(diagnose(as_stack(data, axes=axes)))


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
