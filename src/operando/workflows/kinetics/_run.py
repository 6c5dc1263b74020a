"""One kinetics run: pick the composition video (and its sd) out of the input, measure the noise, fit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._progress import Progress
from ..._stack import Stack

#: Channel names of the composition maps that ``operando stxm composition`` writes.
X_CHANNEL, SD_CHANNELS = "x", ("sd_x", "sd(x)")


@dataclass(frozen=True, eq=False)
class KineticsRun:
    """A fitted kinetics run and what it was fitted to.

    Attributes
    ----------
    result : operando.inverse.KineticsResult
    video : ndarray, shape (T, Y, X)
        The Li-fraction video (NaN outside the particles).
    sd : ndarray or float
        The noise sd the residuals were weighted with.
    sigma_source : str
        Where the sd came from: ``"sd(x) channel"``, ``"given"`` or ``"measured (second differences in time)"``.
    pixel_size, pixel_unit
        Of the input, for the rate map's calibration.
    """

    result: Any
    video: np.ndarray = field(repr=False)
    sd: Any = field(repr=False)
    sigma_source: str
    source: str | None
    pixel_size: float | None
    pixel_unit: str | None
    inputs: dict[str, Any] = field(default_factory=dict)


def composition_video(stack: Stack) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the (T, Y, X) Li-fraction video and its (T, Y, X) sd (None when the input has no sd channel).

    Accepts a ``TYX`` video or the ``TCYX`` maps of ``operando stxm composition`` (channels ``x``,
    ``thickness_um``, ``sd_x``, named in the file's metadata).
    """
    source = stack.metadata.source or "input"
    if "T" not in stack.axes:
        raise InputError(f"{source}: axes {stack.axes!r} have no time axis; the kinetics need a video (T, Y, X) of at "
                         "least 5 frames")
    if set(stack.axes) == set("TYX"):
        return stack.transpose("TYX").to_numpy().astype(np.float64), None
    if set(stack.axes) != set("TCYX"):
        raise InputError(f"{source}: need a TYX composition video or the TCYX maps of 'operando stxm composition', "
                         f"got axes {stack.axes!r}")
    data = stack.transpose("TCYX").to_numpy().astype(np.float64)
    channels = [str(c) for c in stack.metadata.extra.get("channels") or []]
    if len(channels) != data.shape[1] or X_CHANNEL not in channels:
        raise InputError(f"{source}: the {data.shape[1]} channels are not named (x, thickness_um, sd_x); give the "
                         "output of 'operando stxm composition' or a TYX video of the Li fraction")
    sd_index = next((channels.index(n) for n in SD_CHANNELS if n in channels), None)
    return data[:, channels.index(X_CHANNEL)], None if sd_index is None else data[:, sd_index]


def estimate_noise_sd(video: np.ndarray, mask: np.ndarray) -> float:
    """Return the noise sd of a video from its second differences in time (:func:`operando.noise.temporal_noise_sd`).

    A composition that changes smoothly in time cancels in the second difference; moving fronts touch few pixels
    and the robust sd (1.4826 MAD) ignores them.

    Parameters
    ----------
    video : ndarray, shape (T, Y, X)
        The composition video.
    mask : ndarray of bool, shape (Y, X)
        The particle pixels.

    Returns
    -------
    float
    """
    from ...noise import temporal_noise_sd

    return float(temporal_noise_sd(video, mask=mask))


def run_kinetics(data: Stack, config: Any = None, *, labels: np.ndarray | None = None, noise_sd: float | None = None,
                 rng: int | np.random.Generator | None = None, progress: Progress | None = None,
                 **settings: Any) -> KineticsRun:
    """Fit the reaction kinetics of a composition video (see the package docstring).

    Parameters
    ----------
    data : Stack
        TYX Li fraction (NaN outside the particles), or the TCYX maps of ``stxm composition``.
    config : operando.inverse.KineticsConfig, optional
        The fit's settings (or give its fields as keywords, e.g. ``model="chr"``, ``frame_interval=30``).
    labels : ndarray, optional
        Particles (0 outside); default: the connected regions finite in every frame.
    noise_sd : float, optional
        The noise sd, when the input has no sd(x) channel (default: measured from the video).
    rng : int or Generator, optional
        Seed of the bootstrap.
    progress : callable, optional
        Progress events; raise :class:`operando.Cancelled` in it to stop.
    """
    from ...inverse import KineticsConfig, learn_kinetics, particles_of

    cfg = config if config is not None else KineticsConfig(**settings)
    if config is not None and settings:
        cfg = config.model_copy(update=settings)
    video, sd = composition_video(data)
    mask = particles_of(video, labels, data.metadata.source or "input") > 0
    if noise_sd is not None:
        sd, sigma_source = float(noise_sd), "given"
    elif sd is not None:
        sigma_source = "sd(x) channel"
    else:
        sd, sigma_source = max(estimate_noise_sd(video, mask), 1e-4), "measured (second differences in time)"
    stack = Stack(video, "TYX", data.metadata)
    result = learn_kinetics(stack, cfg, sd=sd, labels=labels, rng=rng, progress=progress)
    return KineticsRun(result=result, video=video, sd=sd, sigma_source=sigma_source, source=data.metadata.source,
                       pixel_size=data.metadata.pixel_size, pixel_unit=data.metadata.pixel_unit,
                       inputs={"noise_sd": float(np.nanmedian(sd)) if np.ndim(sd) else float(sd),
                               "labels_given": labels is not None})
