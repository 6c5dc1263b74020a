"""Save and load trained denoisers: safetensors weights plus a JSON config with the normalisation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._errors import InputError
from .._files import atomic_path, write_json_file
from ._config import TrainConfig, TrainedDenoiser
from ._unet import build_model


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_model(model: TrainedDenoiser, path: str | os.PathLike) -> Path:
    """Write ``PATH.safetensors`` (weights) and ``PATH.json`` (config with its seed, normalisation, history).

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

    weights, meta = _paths(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.module.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp))
    record = {
        "format": "operando-denoiser", "version": 2, "config": model.config.model_dump(), "seed": model.config.seed,
        "mean": model.mean.tolist(), "scale": model.scale.tolist(), "channels": model.channels,
        "loss": model.loss, "steps": model.steps, "history": model.history,
        "stop_reason": model.stop_reason, "best_step": model.best_step,
    }
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
    from safetensors.torch import load_file

    weights, meta = _paths(path)
    if not weights.exists() or not meta.exists():
        raise InputError(f"{path}: need both {weights.name} and {meta.name}; give the stem of a model written by "
                         "save_model()")
    record = json.loads(meta.read_text(encoding="utf-8"))
    if record.get("format") != "operando-denoiser":
        raise InputError(f"{meta}: not an operando denoiser config")
    config = dict(record["config"])
    if config.get("version", 1) == 1:  # operando 0.1: the blind spot was always the checkerboard
        config.update(version=2, blind_spot_kind="checkerboard")
    cfg = TrainConfig(**config)
    module = build_model(cfg, int(record["channels"]))
    module.load_state_dict(load_file(str(weights)))
    module.eval()
    return TrainedDenoiser(module=module, config=cfg, mean=np.asarray(record["mean"], np.float32),
                           scale=np.asarray(record["scale"], np.float32), channels=int(record["channels"]),
                           loss=record["loss"], steps=int(record["steps"]), history=list(record["history"]),
                           stop_reason=record.get("stop_reason", ""), best_step=record.get("best_step"))
