import numpy as np
import pytest

from segedit.evaluation import ConfusionMatrix

# A 2x3 example scored by hand (255 = ignore):
#   gt   = 0 0 1      pred = 0 1 1
#          1 2 255           1 0 2
# class 0: TP 1 (top-left), FN 1 (gt 0 → 1), FP 1 (gt 2 → 0)        IoU 1/3, acc 1/2
# class 1: TP 2, FP 1 (gt 0 → 1), FN 0                               IoU 2/3, acc 2/2
# class 2: TP 0, FN 1 (gt 2 → 0); its prediction lies on an ignored pixel and does not count: IoU 0, acc 0
# valid pixels 5, correct 3.
GT = np.array([[0, 0, 1], [1, 2, 255]])
PRED = np.array([[0, 1, 1], [1, 0, 2]])


def test_perfect_prediction_scores_100():
    gt = np.random.default_rng(0).integers(0, 4, size=(10, 10))
    confusion = ConfusionMatrix(4)
    confusion.update(gt, gt)
    metrics = confusion.compute()
    assert metrics.mean_iou == pytest.approx(100)
    assert metrics.all_acc == pytest.approx(100)
    assert metrics.mean_acc == pytest.approx(100)


def test_hand_computed_example():
    confusion = ConfusionMatrix(3, ignore_index=255)
    confusion.update(PRED, GT)
    expected_matrix = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 0]])  # rows gt, columns prediction
    assert np.array_equal(confusion.matrix, expected_matrix)
    metrics = confusion.compute()
    assert metrics.class_iou == pytest.approx([100 / 3, 200 / 3, 0])
    assert metrics.class_acc == pytest.approx([50, 100, 0])
    assert metrics.mean_iou == pytest.approx((100 / 3 + 200 / 3 + 0) / 3)
    assert metrics.all_acc == pytest.approx(100 * 3 / 5)
    assert metrics.mean_acc == pytest.approx(50)


def test_classes_absent_from_gt_and_prediction_are_left_out():
    confusion = ConfusionMatrix(5)
    confusion.update(PRED, GT)
    metrics = confusion.compute()
    assert np.isnan(metrics.class_iou[3:]).all() and np.isnan(metrics.class_acc[3:]).all()
    assert metrics.mean_iou == pytest.approx((100 / 3 + 200 / 3 + 0) / 3)
    assert metrics.mean_acc == pytest.approx(50)


def test_class_only_predicted_counts_for_miou_but_not_macc():
    gt = np.array([[0, 0, 0, 0]])
    pred = np.array([[0, 0, 0, 1]])
    confusion = ConfusionMatrix(2)
    confusion.update(pred, gt)
    metrics = confusion.compute()
    assert metrics.class_iou == pytest.approx([75, 0])
    assert np.isnan(metrics.class_acc[1])
    assert metrics.mean_iou == pytest.approx(37.5)
    assert metrics.mean_acc == pytest.approx(75)


def test_ignored_pixels_never_count():
    gt = np.array([[1, 255], [255, 0]])
    pred = np.array([[1, 0], [1, 0]])
    confusion = ConfusionMatrix(2)
    confusion.update(pred, gt)
    assert confusion.matrix.sum() == 2
    assert confusion.compute().mean_iou == pytest.approx(100)


def test_updates_accumulate_like_one_big_image():
    rng = np.random.default_rng(1)
    gts = [rng.integers(0, 3, size=(5, 7)) for _ in range(3)]
    preds = [rng.integers(0, 3, size=(5, 7)) for _ in range(3)]
    separate, joined = ConfusionMatrix(3), ConfusionMatrix(3)
    for pred, gt in zip(preds, gts):
        separate.update(pred, gt)
    joined.update(np.concatenate(preds), np.concatenate(gts))
    assert np.array_equal(separate.matrix, joined.matrix)
    assert separate.matrix.sum() == 3 * 5 * 7


def test_empty_evaluation_has_no_score():
    metrics = ConfusionMatrix(3).compute()
    assert np.isnan(metrics.mean_iou) and np.isnan(metrics.all_acc) and np.isnan(metrics.mean_acc)


@pytest.mark.parametrize(
    "pred, gt",
    [
        (np.array([[0, 3]]), np.array([[0, 1]])),  # prediction beyond the classes
        (np.array([[0, -1]]), np.array([[0, 1]])),  # negative prediction
        (np.array([[0, 1]]), np.array([[0, 7]])),  # gt value that is neither class nor ignore
        (np.array([[0, 1, 1]]), np.array([[0, 1]])),  # shape mismatch
        (np.array([[0.0, 1.0]]), np.array([[0, 1]])),  # float prediction
    ],
)
def test_invalid_input_is_an_error(pred, gt):
    with pytest.raises(ValueError):
        ConfusionMatrix(3).update(pred, gt)
