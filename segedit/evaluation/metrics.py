"""Semantic-segmentation metrics from a confusion matrix, reported the way mmsegmentation prints them.

* IoU of class c = TP / (TP + FP + FN); accuracy of class c = TP / (TP + FN).
* mIoU averages IoU over classes that occur in the ground truth or the prediction (TP + FP + FN > 0).
* mAcc averages accuracy over classes present in the ground truth (TP + FN > 0).
* aAcc = all true positives / all valid (not ignored) pixels.
All values are percentages (0–100); a class that never occurs has NaN and is left out of the means.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metrics:
    """Scores in percent; per-class arrays have one entry per class index (NaN: class never occurs)."""

    class_iou: np.ndarray
    class_acc: np.ndarray
    mean_iou: float  # mIoU
    all_acc: float  # aAcc
    mean_acc: float  # mAcc


class ConfusionMatrix:
    """Accumulates pixel counts ``matrix[gt, pred]`` over any number of images."""

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self._counts = np.zeros((num_classes, num_classes), dtype=np.int64)

    @property
    def matrix(self) -> np.ndarray:
        """A copy of the (num_classes, num_classes) counts; rows are ground truth, columns prediction."""
        return self._counts.copy()

    def update(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """Add one image. Pixels whose ground truth is ``ignore_index`` are skipped.

        Raises ValueError for mismatched shapes, non-integer arrays, predictions outside
        [0, num_classes) anywhere, and ground-truth values outside that range that are not the ignore index.
        """
        pred = np.asarray(pred)
        gt = np.asarray(gt)
        if pred.shape != gt.shape:
            raise ValueError(f"prediction has shape {pred.shape} but ground truth has {gt.shape}")
        for name, array in (("prediction", pred), ("ground truth", gt)):
            if not np.issubdtype(array.dtype, np.integer):
                raise ValueError(f"{name} must hold integer class indices, got dtype {array.dtype}")
        if pred.size and (pred.min() < 0 or pred.max() >= self.num_classes):
            raise ValueError(
                f"prediction holds values {int(pred.min())}..{int(pred.max())}, "
                f"expected class indices 0..{self.num_classes - 1}"
            )
        valid = gt != self.ignore_index
        gt_valid = gt[valid].astype(np.int64)
        if gt_valid.size and (gt_valid.min() < 0 or gt_valid.max() >= self.num_classes):
            bad = gt_valid[(gt_valid < 0) | (gt_valid >= self.num_classes)]
            raise ValueError(
                f"ground truth holds value {int(bad[0])}, which is neither a class index "
                f"0..{self.num_classes - 1} nor the ignore index {self.ignore_index}"
            )
        # One bincount over gt * C + pred fills the whole matrix in a single pass.
        flat = gt_valid * self.num_classes + pred[valid].astype(np.int64)
        self._counts += np.bincount(flat, minlength=self.num_classes**2).reshape(self.num_classes, self.num_classes)

    def compute(self) -> Metrics:
        true_positives = np.diag(self._counts).astype(np.float64)
        gt_pixels = self._counts.sum(axis=1).astype(np.float64)  # TP + FN
        predicted_pixels = self._counts.sum(axis=0).astype(np.float64)  # TP + FP
        union = gt_pixels + predicted_pixels - true_positives  # TP + FP + FN
        class_iou = _percent(true_positives, union)
        class_acc = _percent(true_positives, gt_pixels)
        total = gt_pixels.sum()
        return Metrics(
            class_iou=class_iou,
            class_acc=class_acc,
            mean_iou=_mean_ignoring_nan(class_iou),
            all_acc=float(100.0 * true_positives.sum() / total) if total else float("nan"),
            mean_acc=_mean_ignoring_nan(class_acc),
        )


def _percent(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    result = np.full(numerator.shape, np.nan)
    occurs = denominator > 0
    result[occurs] = 100.0 * numerator[occurs] / denominator[occurs]
    return result


def _mean_ignoring_nan(values: np.ndarray) -> float:
    # np.nanmean warns on an all-NaN input; an empty evaluation simply has no score.
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")
