"""Noise specifications as strings (``"gaussian:0.1"``, ``"poisson:30+impulse:0.05"``) and applying them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from .._stack import Stack, as_stack
from . import _models

# name -> (function, parameter names in the order the spec string gives them, number required)
_MODELS = {
    "gaussian": (_models.add_gaussian_noise, ("sigma",), 1),
    "poisson": (_models.add_poisson_noise, ("peak",), 1),
    "impulse": (_models.add_impulse_noise, ("fraction",), 1),
    "mixed": (_models.add_mixed_noise, ("peak", "sigma", "impulse"), 2),
    "scanline": (_models.add_scanline_noise, ("offset_sigma", "gain_sigma", "pixel_sigma", "correlation"), 1),
    "fixed": (_models.add_fixed_pattern_noise, ("sigma", "gain_sigma"), 1),
    "correlated": (_models.add_correlated_noise, ("sigma", "rho"), 1),
    "scintillator": (_models.add_scintillator_noise, ("peak", "rho"), 1),
}
NOISE_HELP = (
    "gaussian:SIGMA, poisson:PEAK, impulse:FRACTION, mixed:PEAK,SIGMA[,IMPULSE], "
    "scanline:OFFSET[,GAIN[,PIXEL[,CORR]]], fixed:SIGMA[,GAIN], correlated:SIGMA[,RHO], "
    "scintillator:PEAK[,RHO]; join several with '+'"
)


@dataclass(frozen=True)
class NoiseModel:
    """One parsed noise model: its name and keyword parameters."""

    name: str
    params: tuple[tuple[str, float], ...]

    def __str__(self) -> str:
        return f"{self.name}:" + ",".join(f"{v:g}" for _, v in self.params)


def parse_noise(spec: str) -> list[NoiseModel]:
    """Parse ``"name:v1,v2+name2:v"`` into noise models, with a one-line error for a bad spec.

    Parameters
    ----------
    spec : str
        Noise models joined by ``+`` (see :data:`NOISE_HELP`).

    Returns
    -------
    list of NoiseModel
        In the order given.
    """
    models = []
    for part in spec.split("+"):
        name, _, values = part.strip().partition(":")
        name = name.lower()
        if name not in _MODELS:
            raise InputError(f"unknown noise {name!r} in {spec!r}; use {NOISE_HELP}")
        _, names, required = _MODELS[name]
        try:
            numbers = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise InputError(f"noise {part!r}: parameters must be numbers; use {NOISE_HELP}") from None
        if not required <= len(numbers) <= len(names):
            raise InputError(f"noise {part!r} takes {required} to {len(names)} number(s); use {NOISE_HELP}")
        models.append(NoiseModel(name, tuple(zip(names, numbers, strict=False))))
    return models


def corrupt(data: Stack | np.ndarray, noise: str, *, axes: str | None = None, rng=None) -> Stack:
    """Apply the noise models of ``noise`` (e.g. ``"poisson:30+gaussian:0.02"``) to a stack, in order.

    Row (scan-line) and fixed-pattern noise act on the Y and X axes; each frame, energy and channel gets its
    own scan-line realisation, and the fixed pattern is shared by all frames. The input is not modified.

    Parameters
    ----------
    data : Stack or ndarray
        Clean stack (a plain array needs ``axes`` unless 2-D).
    noise : str
        Noise specification (:data:`NOISE_HELP`).
    axes : str, optional
        Axes of a plain array.
    rng : int or Generator, optional
        Seed.

    Returns
    -------
    Stack
        Float32 noisy data with the input's axes and metadata.
    """
    stack = as_stack(data, axes=axes)
    order = [a for a in stack.axes if a not in "YX"] + ["Y", "X"]
    moved = stack.transpose("".join(order))
    x = moved.to_numpy().astype(np.float32)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise InputError("the clean data holds NaN or infinite values; replace them before adding noise")
    gen = np.random.default_rng(rng)
    for model in parse_noise(noise):
        fn, _, _ = _MODELS[model.name]
        x = fn(x, rng=gen, **dict(model.params))
    noisy = moved.with_data(x.astype(np.float32)).transpose(stack.axes)
    return Stack(noisy.data, axes=stack.axes, metadata=stack.metadata.replace(original_dtype="float32"))
