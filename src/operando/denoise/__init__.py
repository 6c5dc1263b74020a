"""Denoisers: self-supervised networks (video, Noise2Void family) and calibrated classical baselines.

``import operando.denoise`` is light: it loads the method table (``_methods.METHOD_TABLE``; its docstring says how
to add one) and nothing else; every other name is imported on first use (torch when a network is trained or
applied, scipy with the filters and the diagnosis). ``NEURAL``, ``BASELINES``, ``METHODS``,
:func:`method_names` and :func:`check_method` are derived from the table.

``method="auto"``: :func:`diagnose` measures the noise once; :func:`choose_from` (``_auto``) alone picks the
method from that :class:`Diagnosis`; :func:`denoise`, :func:`train_denoiser` and the streamed
``operando.workflows.scale.denoise_large`` take the Diagnosis instead of measuring again and record the choice
with its reason (``metadata.extra["denoise"]["auto"]``, the saved model's JSON, the Zarr manifest).
"""

from importlib import import_module

from ._methods import BASELINES, METHODS, NEURAL, check_method, method_entry, method_names

#: Where each public name lives (imported when first asked for).
_LAZY = {
    "denoise": "_api",
    "AutoChoice": "_auto", "choose_from": "_auto", "choose_method": "_auto", "diagnose": "_auto",
    "record_choice": "_auto",
    "denoise_baseline": "_baselines",
    "denoise_bm3d": "_bm3d",
    "TrainConfig": "_config", "TrainedDenoiser": "_config", "make_config": "_config",
    "Diagnosis": "_diagnose",
    "predict": "_inference", "denoise_with_params": "_inference",
    "joint_bm3d": "_joint", "joint_tv": "_joint",
    "denoise_masked": "_masked_data", "fill_invalid": "_masked_data",
    "impulse_pixels": "_measured", "keep_measured_pixels": "_measured",
    "save_model": "_model_io", "load_model": "_model_io", "model_files": "_model_io",
    "check_model_path": "_model_io",
    "denoise_pixel_shuffle": "_pixel_shuffle", "train_pixel_shuffle": "_pixel_shuffle",
    "apply_pixel_shuffle": "_pixel_shuffle",
    "train_denoiser": "_training",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = ["BASELINES", "METHODS", "NEURAL", "check_method", "method_entry", "method_names", *_LAZY]
