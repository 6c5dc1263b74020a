"""The registry of denoising methods: one row per method in ``METHOD_TABLE`` (name -> kind, summary, runner).

:func:`operando.denoise.denoise`, the CLI's ``--method`` check, the benchmarks' default method lists and the
public tuples ``NEURAL``, ``BASELINES`` and ``METHODS`` all read this table; nothing else lists the methods.

How to add a method (one row, plus the method's own code):

* **a deterministic filter** (no training, no seed): write ``run(stack, settings) -> Stack`` in its own
  module (``stack`` is a :class:`~operando.Stack`; return the same shape, axes and dtype, and record what was
  chosen with :func:`._layout.with_record`), then add
  ``DenoiseMethod("name", "deterministic", "one-line summary", run=_lazy("._mymodule", "run"))``.
  Set ``calibrated=True`` only for filters that :func:`denoise_baseline` calibrates (its grid in
  ``_baselines.BASELINE_GRIDS``). A missing optional dependency raises ImportError naming the extra.
* **a network** (self-supervised, trained on the data): add the name to ``TrainConfig.method``
  (``_config.NetworkMethod``), its masking to ``Sampler._hide`` (``_sampler.py``) and its network to
  ``build_model`` (``_unet.py``), then add ``DenoiseMethod("name", "neural", "summary")``: the shared
  runner trains it with :func:`train_denoiser` and applies it with :func:`predict`; ``ensemble``, ``tta``,
  ``config``, the seed record and saving work for every neural row without further edits.
* **a network with its own training and inference** (``pixel_shuffle``, ``bm3d_refine``): add the name to
  ``_config.NetworkMethod`` and a row with ``run=_lazy_trained("._mymodule", "denoise_mine")``, where
  ``denoise_mine(stack, config=, device=, progress=)`` returns the denoised Stack.

``settings`` (:class:`RunSettings`) carries the method's name, the training configuration (neural rows only; its seed is
concrete), the device, ``tta`` and the ``progress(fraction, message)`` callback.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .._errors import InputError
from .._stack import Progress, Stack
from ._config import TrainConfig


@dataclass(frozen=True)
class RunSettings:
    """What a runner may use besides the stack: its name, training config (neural only), device, tta, progress."""

    method: str
    config: TrainConfig | None = None
    device: str = "auto"
    tta: bool = False
    progress: Progress | None = None


Runner = Callable[[Stack, RunSettings], Stack]


def _lazy(module: str, name: str) -> Runner:
    """Make a runner imported on first use (keeps ``import operando.denoise`` free of torch and optional extras)."""
    def run(stack: Stack, settings: RunSettings) -> Stack:
        return getattr(importlib.import_module(module, __package__), name)(stack, settings)

    return run


def _lazy_trained(module: str, name: str) -> Runner:
    """Make a runner of a network with its own entry point ``name(stack, config=, device=, progress=)``."""
    def run(stack: Stack, settings: RunSettings) -> Stack:
        denoise_with = getattr(importlib.import_module(module, __package__), name)
        return denoise_with(stack, config=settings.config, device=settings.device, progress=settings.progress)

    return run


@dataclass(frozen=True)
class DenoiseMethod:
    """One row of the registry: a method's name, kind, one-line summary and runner."""

    name: str
    kind: Literal["neural", "deterministic"]
    summary: str
    run: Runner = _lazy("._api", "run_network")
    calibrated: bool = False  # a J-invariant calibrated baseline of denoise_baseline()


METHOD_TABLE: dict[str, DenoiseMethod] = {m.name: m for m in (
    DenoiseMethod("video", "neural", "temporal masking: frame t predicted from its neighbours (+ donut blind spot)"),
    DenoiseMethod("n2v", "neural", "Noise2Void: random pixels hidden behind a random neighbour"),
    DenoiseMethod("n2v2", "neural", "N2V2: median replacement, blur-pool, no top skip (no checkerboard artefacts)"),
    DenoiseMethod("structn2v", "neural", "structN2V: whole rows hidden (row-correlated, scan-line noise)"),
    DenoiseMethod("gaussian", "deterministic", "space-time Gaussian filter, calibrated J-invariantly",
                  run=_lazy("._baselines", "run_baseline"), calibrated=True),
    DenoiseMethod("median", "deterministic", "space-time median filter, calibrated J-invariantly",
                  run=_lazy("._baselines", "run_baseline"), calibrated=True),
    DenoiseMethod("nlm", "deterministic", "per-frame non-local means (scikit-image), calibrated",
                  run=_lazy("._baselines", "run_baseline"), calibrated=True),
    DenoiseMethod("tv", "deterministic", "per-frame total variation (scikit-image), calibrated",
                  run=_lazy("._baselines", "run_baseline"), calibrated=True),
    DenoiseMethod("bm4d", "deterministic", "BM4D on the whole stack (optional extra operando[bm3d])",
                  run=_lazy("._bm4d", "run_bm4d")),
    DenoiseMethod("shaped", "neural", "N2V2 with the blind spot widened to the measured noise correlation "
                  "(a square of radius blind_spot_radius_px hidden around each scored pixel)"),
    DenoiseMethod("pixel_shuffle", "neural", "N2V2 on pixel-shuffled sub-images (AP-BSN: large training "
                  "stride, small inference stride, random-replacement refinement): spatially correlated noise",
                  run=_lazy_trained("._pixel_shuffle", "denoise_pixel_shuffle")),
    DenoiseMethod("bm3d", "deterministic", "BM3D per image with the measured noise power spectrum "
                  "(optional extra operando[bm3d])", run=_lazy("._bm3d", "run_bm3d")),
    DenoiseMethod("bm3d_refine", "neural", "BM3D with the measured noise spectrum, then a network trained on "
                  "re-noised BM3D output corrects it (optional extra operando[bm3d]): correlated noise, one image",
                  run=_lazy_trained("._bm3d_refine", "denoise_bm3d_refined")),
)}

NEURAL = tuple(name for name, m in METHOD_TABLE.items() if m.kind == "neural")
BASELINES = tuple(name for name, m in METHOD_TABLE.items() if m.calibrated)
METHODS = tuple(METHOD_TABLE)


def method_entry(name: str) -> DenoiseMethod:
    """Return the registry row of ``name``; InputError naming the choices for an unknown one.

    Parameters
    ----------
    name : str
        A method name.

    Returns
    -------
    DenoiseMethod
        Its row.
    """
    if name not in METHOD_TABLE:
        raise InputError(f"unknown denoising method {name!r}; choose one of {', '.join(METHODS)}")
    return METHOD_TABLE[name]
