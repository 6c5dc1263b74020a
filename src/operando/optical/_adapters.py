"""Optional deep-learning segmenters (extras, never required), from model weights already on disk.

operando never downloads weights at run time: both adapters take the path of weights the user has fetched
(cellpose's ``models.CellposeModel(pretrained_model=...)`` file, a StarDist model folder) and refuse, in one
line, a path that does not exist, before the package is even imported.

- cellpose (BSD-3 code): its Cellpose-SAM weights are trained on data under CC-BY-NC; check that licence
  before commercial use. ``pip install 'operando[cellpose]'``.
- StarDist (BSD-3, TensorFlow): pretrained ``2D_versatile_he`` for RGB; star-convex shapes only, so
  elongated flakes are approximated. Not an operando extra, since operando does not depend on
  TensorFlow: install it yourself (``pip install stardist tensorflow``).

Both return a label image like :func:`operando.optical.segment_particles`, to be carried through time with
:func:`operando.optical.propagate_labels`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _local_model(path: str | os.PathLike, what: str) -> Path:
    """Return ``path`` if it exists, else refuse it in one line (operando downloads no weights)."""
    from .._errors import InputError

    found = Path(path).expanduser()
    if not found.exists():
        raise InputError(f"{what} weights not found at {found}; operando never downloads weights: fetch them once "
                         f"with the package's own tools and pass their path")
    return found


def segment_cellpose(rgb: np.ndarray, *, model_path: str | os.PathLike, diameter_px: float | None = None
                     ) -> np.ndarray:
    """Segment particles in one RGB frame with cellpose (optional extra), from weights on disk.

    Parameters
    ----------
    rgb : ndarray, shape (Y, X, 3)
        The (corrected) representative frame, float in [0, 1].
    model_path : str or path
        A cellpose model file already on disk (e.g. fetched once by cellpose into ``~/.cellpose/models``).
    diameter_px : float, optional
        Typical particle diameter (pixels); None lets cellpose estimate it.

    Returns
    -------
    ndarray of int32, shape (Y, X)
        Particle ids (0 background).

    Raises
    ------
    InputError
        If ``model_path`` does not exist.
    ImportError
        If cellpose is not installed.
    """
    weights = _local_model(model_path, "cellpose")
    try:
        from cellpose import models
    except ImportError as exc:
        raise ImportError("segment_cellpose needs the optional extra 'cellpose' (pip install 'operando[cellpose]'; "
                          "its SAM weights are trained on CC-BY-NC data)") from exc
    model = models.CellposeModel(pretrained_model=str(weights))
    masks, *_ = model.eval(rgb, diameter=diameter_px, channel_axis=-1)
    return np.asarray(masks, np.int32)


def segment_stardist(rgb: np.ndarray, *, model_dir: str | os.PathLike, n_tiles: tuple[int, int] | None = None
                     ) -> np.ndarray:
    """Segment particles in one RGB frame with a StarDist model on disk, e.g. ``2D_versatile_he`` (optional extra).

    Parameters
    ----------
    rgb : ndarray, shape (Y, X, 3)
        The (corrected) representative frame, float in [0, 1].
    model_dir : str or path
        A StarDist model folder (``config.json`` and weights) already on disk.
    n_tiles : (int, int), optional
        Tiles for large frames (memory).

    Returns
    -------
    ndarray of int32, shape (Y, X)
        Particle ids (0 background).

    Raises
    ------
    InputError
        If ``model_dir`` does not exist.
    ImportError
        If stardist (and TensorFlow) are not installed.
    """
    folder = _local_model(model_dir, "StarDist")
    try:
        from csbdeep.utils import normalize
        from stardist.models import StarDist2D
    except ImportError as exc:
        raise ImportError("segment_stardist needs stardist and TensorFlow, which operando does not install "
                          "(pip install stardist tensorflow)") from exc
    model = StarDist2D(None, name=folder.name, basedir=str(folder.parent))
    labels, _ = model.predict_instances(normalize(rgb, 1, 99.8, axis=(0, 1)), n_tiles=n_tiles)
    return np.asarray(labels, np.int32)
