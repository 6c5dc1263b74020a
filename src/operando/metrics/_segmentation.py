"""Scoring segmentations against annotation: instance F1 at IoU > 0.5 and stage confusion matrices."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._errors import InputError


@dataclass(frozen=True)
class InstanceScore:
    """Instance segmentation against annotation (counts summed over frames for a video).

    Attributes
    ----------
    f1, precision, recall : float
        ``2 TP / (2 TP + FP + FN)``, ``TP / n_pred``, ``TP / n_true``; a match is a Hungarian pair with IoU above
        the threshold.
    mean_iou : float
        Mean IoU of the matched pairs (NaN when none).
    n_true, n_pred, n_matched : int
        Objects in the annotation, in the prediction, and matched.
    per_frame_f1 : tuple of float
        F1 of each frame (one value for a single image).
    """

    f1: float
    precision: float
    recall: float
    mean_iou: float
    n_true: int
    n_pred: int
    n_matched: int
    per_frame_f1: tuple[float, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, float | int]:
        """Return the scalar scores as a dict (for tables and JSON)."""
        return {"f1": self.f1, "precision": self.precision, "recall": self.recall, "mean_iou": self.mean_iou,
                "n_true": self.n_true, "n_pred": self.n_pred, "n_matched": self.n_matched}


def _check_labels(truth: np.ndarray, pred: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    truth, pred = np.asarray(truth), np.asarray(pred)
    if truth.shape != pred.shape:
        raise InputError(f"{what}: prediction shape {pred.shape} differs from the annotation's {truth.shape}; "
                         "score images of the same size")
    if truth.dtype.kind not in "ui" or pred.dtype.kind not in "ui":
        raise InputError(f"{what}: label images must be integer (0 = background), got {truth.dtype} and "
                         f"{pred.dtype}")
    return truth, pred


def iou_matrix(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the IoU of every annotated object with every predicted object of one label image.

    Parameters
    ----------
    truth, pred : ndarray of int
        Label images of the same shape; 0 is background.

    Returns
    -------
    iou : ndarray, shape (n_true, n_pred)
        Intersection over union.
    true_ids, pred_ids : ndarray
        The label values of the rows and the columns.
    """
    truth, pred = _check_labels(truth, pred, "iou_matrix")
    true_ids, t_index = np.unique(truth, return_inverse=True)
    pred_ids, p_index = np.unique(pred, return_inverse=True)
    t_index, p_index = t_index.ravel(), p_index.ravel()
    n_t, n_p = len(true_ids), len(pred_ids)
    inter = np.bincount(t_index * n_p + p_index, minlength=n_t * n_p).reshape(n_t, n_p).astype(np.float64)
    area_t, area_p = inter.sum(1), inter.sum(0)
    keep_t, keep_p = true_ids != 0, pred_ids != 0
    inter = inter[keep_t][:, keep_p]
    union = area_t[keep_t][:, None] + area_p[keep_p][None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou, true_ids[keep_t], pred_ids[keep_p]


def match_instances(truth: np.ndarray, pred: np.ndarray, *, iou_threshold: float = 0.5
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair annotated and predicted objects one-to-one (Hungarian matching on IoU), keeping IoU > threshold.

    Parameters
    ----------
    truth, pred : ndarray of int
        Label images (2-D) of the same shape; 0 is background.
    iou_threshold : float
        Pairs with IoU at or below this are not matches.

    Returns
    -------
    true_ids, pred_ids, iou : ndarray
        The matched label values and their IoU.
    """
    from scipy.optimize import linear_sum_assignment

    iou, true_ids, pred_ids = iou_matrix(truth, pred)
    if iou.size == 0:
        return np.zeros(0, true_ids.dtype), np.zeros(0, pred_ids.dtype), np.zeros(0)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    good = iou[rows, cols] > iou_threshold
    return true_ids[rows[good]], pred_ids[cols[good]], iou[rows[good], cols[good]]


def instance_f1(truth: np.ndarray, pred: np.ndarray, *, iou_threshold: float = 0.5) -> InstanceScore:
    """Score an instance segmentation: F1, precision and recall at IoU > threshold, mean IoU of matches.

    Parameters
    ----------
    truth, pred : ndarray of int, shape (Y, X) or (T, Y, X)
        Annotated and predicted label images (0 = background). A 3-D array is a video: each frame is matched
        on its own and the counts are summed.
    iou_threshold : float
        Minimum IoU (exclusive) of a match; 0.5 makes the matching unique.

    Returns
    -------
    InstanceScore
        The scores.
    """
    truth, pred = _check_labels(truth, pred, "instance_f1")
    frames = [(truth, pred)] if truth.ndim == 2 else list(zip(truth, pred, strict=True))
    n_true = n_pred = n_match = 0
    ious: list[np.ndarray] = []
    per_frame = []
    for t, p in frames:
        _, _, iou = match_instances(t, p, iou_threshold=iou_threshold)
        nt, npred = len(np.unique(t[t > 0])), len(np.unique(p[p > 0]))
        n_true, n_pred, n_match = n_true + nt, n_pred + npred, n_match + len(iou)
        ious.append(iou)
        per_frame.append(2 * len(iou) / (nt + npred) if nt + npred else 1.0)
    all_iou = np.concatenate(ious)
    return InstanceScore(
        f1=2 * n_match / (n_true + n_pred) if n_true + n_pred else 1.0,
        precision=n_match / n_pred if n_pred else float("nan"),
        recall=n_match / n_true if n_true else float("nan"),
        mean_iou=float(all_iou.mean()) if all_iou.size else float("nan"),
        n_true=n_true, n_pred=n_pred, n_matched=n_match, per_frame_f1=tuple(per_frame))


@dataclass(frozen=True)
class StageScore:
    """Per-pixel classification against annotation.

    Attributes
    ----------
    accuracy : float
        Share of the scored pixels whose predicted class equals the annotated one.
    confusion : ndarray, shape (n_classes, n_classes)
        Pixel counts, rows = annotation, columns = prediction, in the order of ``classes``.
    classes : tuple of int
        The class values of the rows and columns.
    n_pixels : int
        Pixels scored.
    """

    accuracy: float
    confusion: np.ndarray
    classes: tuple[int, ...]
    n_pixels: int


def stage_confusion(truth: np.ndarray, pred: np.ndarray, *, classes: tuple[int, ...] | None = None,
                    mask: np.ndarray | None = None) -> StageScore:
    """Pixel accuracy and confusion matrix of a per-pixel classification (e.g. graphite stages).

    Parameters
    ----------
    truth, pred : ndarray of int
        Annotated and predicted class images of the same shape (any number of dimensions).
    classes : tuple of int, optional
        Class values, in the order of the matrix rows and columns (default: every value seen in either).
    mask : ndarray of bool, optional
        Score only these pixels (e.g. inside annotated particles: ``truth > 0``).

    Returns
    -------
    StageScore
        Accuracy, confusion matrix and the class order.
    """
    truth, pred = _check_labels(truth, pred, "stage_confusion")
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != truth.shape:
            raise InputError(f"stage_confusion: mask shape {mask.shape} differs from the images' {truth.shape}")
        truth, pred = truth[mask], pred[mask]
    truth, pred = truth.ravel().astype(np.int64), pred.ravel().astype(np.int64)
    values = tuple(int(v) for v in (classes if classes is not None else np.union1d(truth, pred)))
    lookup = {v: i for i, v in enumerate(values)}
    missing = set(np.unique(truth).tolist() + np.unique(pred).tolist()) - set(values)
    if missing:
        raise InputError(f"stage_confusion: class values {sorted(missing)} are not in classes={values}; "
                         "add them or leave classes out")
    table = np.full(max(values) + 1, -1, np.int64)
    table[list(lookup)] = list(lookup.values())
    n = len(values)
    confusion = np.bincount(table[truth] * n + table[pred], minlength=n * n).reshape(n, n)
    n_pix = int(truth.size)
    accuracy = float(np.trace(confusion) / n_pix) if n_pix else float("nan")
    return StageScore(accuracy=accuracy, confusion=confusion, classes=values, n_pixels=n_pix)
