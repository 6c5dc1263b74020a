"""The registry of denoising methods: one row per method in ``METHOD_TABLE`` (name -> kind, summary, runner, needs).

:func:`operando.denoise.denoise`, ``TrainConfig.method``'s type (``_config.NetworkMethod``), ``build_model``'s
network, the streamed set and halos of :mod:`operando.workflows.scale`, the CLI's ``--method`` help and check,
the pipelines' checks (:func:`check_method`), the benchmarks' default method lists and the public tuples
``NEURAL``, ``BASELINES`` and ``METHODS`` all read this table; nothing else lists the methods. The module imports
nothing heavy (no pydantic, scipy or torch): the CLI's ``--help`` reads it.

How to add a method (one row, plus the method's own code):

* **a deterministic filter** (no training, no seed): write ``run(stack, settings) -> Stack`` in its own
  module (``stack`` is a :class:`~operando.Stack`; return the same shape, axes and dtype, and record what was
  chosen with :func:`._layout.with_record`), then add
  ``DenoiseMethod("name", "deterministic", "one-line summary", run=_lazy("._mymodule", "run"))``.
  Set ``calibrated=True`` only for filters that :func:`denoise_baseline` calibrates (its grid in
  ``_baselines.BASELINE_GRIDS``); ``streams=True`` and ``halo`` (frames read on each side, from its
  per-channel parameters) let ``denoise_large`` stream it. An optional dependency: ``extra="name"`` and
  ``requires=(modules,)`` (:func:`check_method` names the install line; the runner raises ImportError).
* **a network** (self-supervised, trained on the data): add its masking to ``Sampler._hide`` (``_sampler.py``),
  then add ``DenoiseMethod("name", "neural", "summary", network="unet" or "n2v2", streams=True)``: the shared
  runner trains it with :func:`train_denoiser` and applies it with :func:`predict`; ``TrainConfig.method``
  accepts it, and ``ensemble``, ``tta``, ``config``, the seed record, saving and streaming work for every
  neural row without further edits.
* **a network with its own training and inference** (``pixel_shuffle``, ``bm3d_refine``): a row with
  ``run=_lazy_trained("._mymodule", "denoise_mine")``, where ``denoise_mine(stack, config=, device=, progress=)``
  returns the denoised Stack.

``settings`` (:class:`RunSettings`) carries the method's name, the training configuration (neural rows only; its
seed is concrete), the device, ``tta``, the progress callback and the Diagnosis already measured (if any).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .._errors import InputError
from .._progress import Progress
from .._stack import Stack

if TYPE_CHECKING:  # the table imports nothing heavy (the CLI's --help reads it): no pydantic, scipy or torch
    from ._config import TrainConfig
    from ._diagnose import Diagnosis


@dataclass(frozen=True)
class RunSettings:
    """What a runner may use besides the stack: name, training config (networks), device, tta, progress, diagnosis."""

    method: str
    config: TrainConfig | None = None
    device: str = "auto"
    tta: bool = False
    progress: Progress | None = None
    diagnosis: Diagnosis | None = None  # the noise as measured already (networks take their settings from it)


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


def _gaussian_halo(params: dict[str, float]) -> int:
    """Frames scipy's Gaussian reads on each side (truncated at 4 sigma, its default)."""
    return int(4.0 * float(params["sigma_t"]) + 0.5)


def _median_halo(params: dict[str, float]) -> int:
    """Frames a median box of ``size_t`` frames reads on each side."""
    return int(params["size_t"]) // 2


_DEFAULT_RUN = _lazy("._api", "run_network")


@dataclass(frozen=True)
class DenoiseMethod:
    """One row of the registry: a method's name, kind, one-line summary, runner and what it needs."""

    name: str
    kind: Literal["neural", "deterministic"]
    summary: str
    run: Runner = _DEFAULT_RUN
    calibrated: bool = False  # a J-invariant calibrated baseline of denoise_baseline()
    streams: bool = False  # denoise_large streams it chunk by chunk (a network trained on a sample, or a filter)
    network: Literal["video", "unet", "n2v2", ""] = ""  # the network build_model makes ("": its own, or none)
    halo: Callable[[dict[str, float]], int] | None = None  # a streamed filter's frames read each side, per channel
    extra: str = ""  # the optional extra it needs: pip install 'operando[EXTRA]'
    requires: tuple[str, ...] = ()  # the modules of that extra (looked for without importing them)

    @property
    def tags(self) -> frozenset[str]:
        """Its kind, plus ``calibrated`` and ``streamed`` where they apply (what ``kinds=`` selects on)."""
        return frozenset({self.kind} | ({"calibrated"} if self.calibrated else set())
                         | ({"streamed"} if self.streams else set()))

    @property
    def trains_one_network(self) -> bool:
        """Whether it trains one network with ``train_denoiser`` and applies it with ``predict`` (a model to save)."""
        return self.kind == "neural" and self.run is _DEFAULT_RUN

    def missing_extra(self) -> str:
        """Return the install line of the optional extra it needs when that is not installed, else ``""``."""
        if all(_installed(module) for module in self.requires):
            return ""
        return f"pip install 'operando[{self.extra}]' (non-commercial licence)"


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported (found without importing it; one set to None in sys.modules is not)."""
    import importlib.util
    import sys

    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


_FILTER = {"run": _lazy("._baselines", "run_baseline"), "calibrated": True, "streams": True}

METHOD_TABLE: dict[str, DenoiseMethod] = {m.name: m for m in (
    DenoiseMethod("video", "neural", "temporal masking: frame t predicted from its neighbours (+ donut blind spot)",
                  streams=True, network="video"),
    DenoiseMethod("n2v", "neural", "Noise2Void: random pixels hidden behind a random neighbour", streams=True,
                  network="unet"),
    DenoiseMethod("n2v2", "neural", "N2V2: median replacement, blur-pool, no top skip (no checkerboard artefacts)",
                  streams=True, network="n2v2"),
    DenoiseMethod("structn2v", "neural", "structN2V: whole rows hidden (row-correlated, scan-line noise)",
                  streams=True, network="unet"),
    DenoiseMethod("gaussian", "deterministic", "space-time Gaussian filter, calibrated J-invariantly",
                  halo=_gaussian_halo, **_FILTER),
    DenoiseMethod("median", "deterministic", "space-time median filter, calibrated J-invariantly",
                  halo=_median_halo, **_FILTER),
    DenoiseMethod("nlm", "deterministic", "per-frame non-local means (scikit-image), calibrated", **_FILTER),
    DenoiseMethod("tv", "deterministic", "per-frame total variation (scikit-image), calibrated", **_FILTER),
    DenoiseMethod("bm4d", "deterministic", "BM4D on the whole stack (optional extra operando[bm3d])",
                  run=_lazy("._bm4d", "run_bm4d"), extra="bm3d", requires=("bm4d",)),
    DenoiseMethod("shaped", "neural", "N2V2 with the blind spot widened to the measured noise correlation "
                  "(a square of radius blind_spot_radius_px hidden around each scored pixel)", streams=True,
                  network="n2v2"),
    DenoiseMethod("pixel_shuffle", "neural", "N2V2 on pixel-shuffled sub-images (AP-BSN: large training "
                  "stride, small inference stride, random-replacement refinement): spatially correlated noise",
                  run=_lazy_trained("._pixel_shuffle", "denoise_pixel_shuffle"), streams=True, network="n2v2"),
    DenoiseMethod("bm3d", "deterministic", "BM3D per image with the measured noise power spectrum "
                  "(optional extra operando[bm3d])", run=_lazy("._bm3d", "run_bm3d"), extra="bm3d",
                  requires=("bm3d", "bm4d")),
    DenoiseMethod("bm3d_refine", "neural", "BM3D with the measured noise spectrum, then a network trained on "
                  "re-noised BM3D output corrects it (optional extra operando[bm3d]): correlated noise, one image",
                  run=_lazy_trained("._bm3d_refine", "denoise_bm3d_refined"), extra="bm3d",
                  requires=("bm3d", "bm4d")),
)}

NEURAL = tuple(name for name, m in METHOD_TABLE.items() if m.kind == "neural")
BASELINES = tuple(name for name, m in METHOD_TABLE.items() if m.calibrated)
METHODS = tuple(METHOD_TABLE)
#: What ``kinds=`` of :func:`method_names` and :func:`check_method` selects on.
KINDS = ("neural", "deterministic", "calibrated", "streamed")


def method_names(kinds: str | tuple[str, ...] | None = None) -> tuple[str, ...]:
    """List the methods of the table, in its order: all of them, or those of ``kinds``.

    Parameters
    ----------
    kinds : str or tuple of str, optional
        ``neural`` (trained on the data), ``deterministic`` (filters), ``calibrated`` (the J-invariant
        baselines of :func:`denoise_baseline`), ``streamed`` (:func:`operando.workflows.scale.denoise_large`
        streams them chunk by chunk). A method is listed when it has any of them. None: every method.

    Returns
    -------
    tuple of str
        The method names.
    """
    if kinds is None:
        return METHODS
    wanted = {kinds} if isinstance(kinds, str) else set(kinds)
    unknown = sorted(wanted - set(KINDS))
    if unknown:
        raise InputError(f"unknown method kind(s) {', '.join(unknown)}; choose from {', '.join(KINDS)}")
    return tuple(name for name, m in METHOD_TABLE.items() if m.tags & wanted)


def check_method(name: str, option: str = "--method", *, kinds: str | tuple[str, ...] | None = None,
                 allow: tuple[str, ...] = ()) -> str:
    """Refuse a method name that is unknown, not of ``kinds``, or whose optional extra is not installed.

    The refusal is one :class:`InputError` line naming ``option``, the value and the choices (for a missing
    extra: its install line). Nothing heavy is imported.

    Parameters
    ----------
    name : str
        The method asked for.
    option : str
        How the caller names the setting (``--method``, ``denoise``, ...).
    kinds : str or tuple of str, optional
        The kinds the caller accepts (as :func:`method_names`); None: every method.
    allow : tuple of str
        Further names the caller accepts besides the table's (e.g. ``("auto",)``, ``("none",)``), listed first.

    Returns
    -------
    str
        ``name``, checked.
    """
    if name in allow:
        return name
    names = method_names(kinds)
    choices = ", ".join((*allow, *names))
    if name not in names:
        wanted = (kinds,) if isinstance(kinds, str) else tuple(kinds or ())
        what = (f"is not a {' or '.join(wanted)} method" if name in METHOD_TABLE else "is not a denoising method")
        raise InputError(f"{option} {name!r} {what}; choose one of {choices}")
    missing = METHOD_TABLE[name].missing_extra()
    if missing:
        ready = ", ".join(n for n in (*allow, *names) if n in allow or not METHOD_TABLE[n].missing_extra())
        raise InputError(f"{option} {name!r} needs the optional extra operando[{METHOD_TABLE[name].extra}]: "
                         f"{missing}; or choose one of {ready}")
    return name


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
