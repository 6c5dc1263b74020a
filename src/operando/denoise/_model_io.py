"""Save and load trained denoisers: safetensors weights plus a JSON config with the normalisation.

:func:`model_files` is the one definition of a saved model's two file names (``operando.workflows.scale`` uses
it too). The module imports nothing heavy at import time (torch and pydantic when a model is saved or loaded).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._errors import InputError, validation_reason
from .._files import atomic_path, write_json_file
from .._provenance import versions

if TYPE_CHECKING:
    from ._config import TrainedDenoiser

#: The endings of a saved model's two files: the weights and the settings.
MODEL_SUFFIXES = (".safetensors", ".json")


def model_files(path: str | os.PathLike) -> tuple[Path, Path]:
    """Return the two files of a saved model: ``(STEM.safetensors, STEM.json)``.

    Parameters
    ----------
    path : str or path-like
        Either file, or their common stem (a name without an ending; any other ending is replaced).

    Returns
    -------
    tuple of Path
        The weights file and the settings file.
    """
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in MODEL_SUFFIXES else p
    weights, settings = MODEL_SUFFIXES
    return stem.with_suffix(weights), stem.with_suffix(settings)




def check_model_path(path: str | os.PathLike) -> None:
    """Refuse a model path whose ending :func:`save_model` would silently replace (``run.tif`` -> ``run.json``).

    Parameters
    ----------
    path : str or path-like
        Where a model is to be saved: a stem without an ending, or a name ending in ``.safetensors``/``.json``.

    Returns
    -------
    None
        The path is fine.

    Raises
    ------
    InputError
        If the name ends in another ending, or names an existing folder.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: names an existing folder; give a model name such as {p / 'model'}")
    if p.suffix and p.suffix not in MODEL_SUFFIXES:
        raise InputError(f"{p}: a model is saved as NAME.safetensors + NAME.json; give a name ending in .safetensors "
                         f"(e.g. {p.name}.safetensors) or without an ending")


def save_model(model: TrainedDenoiser, path: str | os.PathLike) -> Path:
    """Write ``PATH.safetensors`` (weights) and ``PATH.json`` (config with its seed, normalisation, history, versions).

    A model trained for ``method="auto"`` also records the choice and its reason (``"auto"``).

    Parameters
    ----------
    model : TrainedDenoiser
        A trained model.
    path : str or path-like
        The common stem (``.safetensors``/``.json`` suffixes are replaced).

    Returns
    -------
    Path
        The weights file.
    """
    from safetensors.torch import save_file

    check_model_path(path)
    weights, meta = model_files(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.module.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp))
    record = {
        "format": "operando-denoiser", "version": 2, "config": model.config.model_dump(), "seed": model.config.seed,
        "mean": model.mean.tolist(), "scale": model.scale.tolist(), "channels": model.channels,
        "loss": model.loss, "steps": model.steps, "history": model.history,
        "stop_reason": model.stop_reason, "best_step": model.best_step, "versions": versions(),
    }
    if model.auto is not None:
        record["auto"] = model.auto
    write_json_file(meta, record)
    return weights


def load_model(path: str | os.PathLike) -> TrainedDenoiser:
    """Load a model written by :func:`save_model`.

    Parameters
    ----------
    path : str or path-like
        Either file or the common stem.

    Returns
    -------
    TrainedDenoiser
        The model, ready for :func:`predict` or for ``train_denoiser(..., resume=...)``.
    """
    weights, meta = model_files(path)
    if not weights.exists() or not meta.exists():
        raise InputError(f"{path}: need both {weights.name} and {meta.name}; give the stem of a model written by "
                         "save_model()")
    redo = "save the model again (operando train, or denoise --save-model)"
    try:
        record = json.loads(meta.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{meta}: not a readable model settings file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'damaged'}); {redo}") from None
    if not isinstance(record, dict) or record.get("format") != "operando-denoiser":
        raise InputError(f"{meta}: not an operando denoiser config; give a model written by operando train")
    try:
        return _from_record(record, weights)
    except InputError:
        raise
    except (KeyError, TypeError, ValueError) as exc:  # a damaged or hand-edited settings file (pydantic included)
        from pydantic import ValidationError

        what = (validation_reason(exc) if isinstance(exc, ValidationError)
                else f"missing {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0])
        raise InputError(f"{meta}: damaged model settings ({what}); {redo}") from None


def _from_record(record: dict, weights: Path) -> TrainedDenoiser:
    """Build the model of a settings record and load its weights (InputError for damaged or mismatched weights)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ._config import TrainConfig, TrainedDenoiser
    from ._unet import build_model

    config = dict(record["config"])
    if config.get("version", 1) == 1:  # operando 0.1: the blind spot was always the checkerboard
        config.update(version=2, blind_spot_kind="checkerboard")
    cfg = TrainConfig(**config)
    channels = int(record["channels"])
    if channels < 1:
        raise ValueError(f"channels {channels} < 1")
    mean = np.asarray(record["mean"], np.float32).reshape(-1)
    scale = np.asarray(record["scale"], np.float32).reshape(-1)
    if mean.size != channels or scale.size != channels or not (np.isfinite(mean).all() and np.all(scale > 0)):
        raise ValueError(f"normalisation of {mean.size}/{scale.size} values for {channels} channel(s), or not finite")
    module = build_model(cfg, channels)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{weights}: not a readable weights file ({str(exc).splitlines()[0]}); the file may be "
                         "truncated or damaged: save the model again (operando train)") from None
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0].rstrip(":. ")
        raise InputError(f"{weights}: the weights do not fit the network its .json describes ({first}); the two "
                         "files belong to different models: give both files of one saved model") from None
    module.eval()
    return TrainedDenoiser(module=module, config=cfg, mean=mean, scale=scale, channels=channels,
                           loss=str(record["loss"]), steps=int(record["steps"]), history=list(record["history"]),
                           stop_reason=record.get("stop_reason", ""), best_step=record.get("best_step"),
                           auto=record.get("auto"))
