import numpy as np
import pytest

from operando import InputError
from operando.metrics import instance_f1, match_instances, stage_confusion


def _two_squares():
    lab = np.zeros((20, 20), np.int32)
    lab[2:8, 2:8] = 1
    lab[10:18, 10:18] = 2
    return lab


def test_identical_and_relabelled_segmentations_score_one():
    truth = _two_squares()
    assert instance_f1(truth, truth).f1 == 1.0
    swapped = np.choose(truth, [0, 7, 3])
    score = instance_f1(truth, swapped)
    assert score.f1 == 1.0 and score.mean_iou == 1.0
    t_ids, p_ids, _ = match_instances(truth, swapped)
    assert dict(zip(t_ids.tolist(), p_ids.tolist(), strict=True)) == {1: 7, 2: 3}


def test_split_and_missed_objects_count_as_errors():
    truth = _two_squares()
    pred = np.zeros_like(truth)
    pred[2:8, 2:5] = 1  # half of object 1: IoU 0.5, not a match (IoU must exceed 0.5)
    pred[2:8, 5:8] = 2
    pred[10:18, 10:17] = 3  # IoU 56/64 with object 2
    s = instance_f1(truth, pred)
    assert (s.n_true, s.n_pred, s.n_matched) == (2, 3, 1)
    assert s.f1 == pytest.approx(2 * 1 / 5)
    assert s.mean_iou == pytest.approx(56 / 64)


def test_video_counts_are_summed_over_frames():
    truth = np.stack([_two_squares(), _two_squares()])
    pred = truth.copy()
    pred[1] = 0
    s = instance_f1(truth, pred)
    assert s.per_frame_f1 == (1.0, 0.0) and s.f1 == pytest.approx(2 * 2 / 6)


def test_stage_confusion_counts():
    truth = np.array([[1, 1, 2, 2], [3, 3, 0, 0]], np.uint8)
    pred = np.array([[1, 2, 2, 2], [3, 255, 1, 0]], np.uint8)
    s = stage_confusion(truth, pred, classes=(0, 1, 2, 3, 4, 255), mask=truth > 0)
    assert s.n_pixels == 6 and s.accuracy == pytest.approx(4 / 6)
    assert s.confusion[1, 2] == 1 and s.confusion[3, 5] == 1 and s.confusion.sum() == 6


def test_scoring_refuses_mismatched_shapes():
    with pytest.raises(InputError, match="differs"):
        instance_f1(np.zeros((4, 4), int), np.zeros((4, 5), int))
