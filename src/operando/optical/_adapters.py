"""Optional deep-learning segmenters (extras, never required; weights downloaded by those packages).

- cellpose (BSD-3 code): its Cellpose-SAM weights are trained on data under CC-BY-NC; check that licence
  before commercial use. ``pip install 'operando[cellpose]'``.
- StarDist (BSD-3, TensorFlow): pretrained ``2D_versatile_he`` for RGB; star-convex shapes only, so
  elongated flakes are approximated. Not an operando extra, since operando does not depend on
  TensorFlow: install it yourself (``pip install stardist tensorflow``).

Both return a label image like :func:`operando.optical.segment_particles`, to be carried through time with
:func:`operando.optical.propagate_labels`.
"""

from __future__ import annotations

import numpy as np


def segment_cellpose(rgb: np.ndarray, *, diameter_px: float | None = None) -> np.ndarray:
    """Segment particles in one RGB frame with cellpose (optional extra).

    Parameters
    ----------
    rgb : ndarray, shape (Y, X, 3)
        The (corrected) representative frame, float in [0, 1].
    diameter_px : float, optional
        Typical particle diameter (pixels); None lets cellpose estimate it.

    Returns
    -------
    ndarray of int32, shape (Y, X)
        Particle ids (0 background).

    Raises
    ------
    ImportError
        If cellpose is not installed.
    """
    try:
        from cellpose import models
    except ImportError as exc:
        raise ImportError("segment_cellpose needs the optional extra 'cellpose' (pip install 'operando[cellpose]'; "
                          "its SAM weights are trained on CC-BY-NC data)") from exc
    model = models.CellposeModel()
    masks, *_ = model.eval(rgb, diameter=diameter_px, channel_axis=-1)
    return np.asarray(masks, np.int32)


def segment_stardist(rgb: np.ndarray, *, n_tiles: tuple[int, int] | None = None) -> np.ndarray:
    """Segment particles in one RGB frame with StarDist's ``2D_versatile_he`` model (optional extra).

    Parameters
    ----------
    rgb : ndarray, shape (Y, X, 3)
        The (corrected) representative frame, float in [0, 1].
    n_tiles : (int, int), optional
        Tiles for large frames (memory).

    Returns
    -------
    ndarray of int32, shape (Y, X)
        Particle ids (0 background).

    Raises
    ------
    ImportError
        If stardist (and TensorFlow) are not installed.
    """
    try:
        from csbdeep.utils import normalize
        from stardist.models import StarDist2D
    except ImportError as exc:
        raise ImportError("segment_stardist needs stardist and TensorFlow, which operando does not install "
                          "(pip install stardist tensorflow)") from exc
    model = StarDist2D.from_pretrained("2D_versatile_he")
    labels, _ = model.predict_instances(normalize(rgb, 1, 99.8, axis=(0, 1)), n_tiles=n_tiles)
    return np.asarray(labels, np.int32)
