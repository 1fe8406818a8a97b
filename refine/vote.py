"""Refine a coarse dense prediction with SAM2's sharper mask boundaries by majority voting."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

# Thresholds are meant as decimals (0.6 = 3/5). Comparing in floats makes the boundary depend on
# rounding (0.55 * 100 > 55 in floats), so the threshold becomes a fraction and counts are compared exactly.
_MAX_THRESHOLD_DENOMINATOR = 10**6


@dataclass(frozen=True)
class VoteResult:
    """Outcome of ``majority_vote``."""

    mask: np.ndarray  # (H, W) bool: union of the kept SAM2 masks, or the target itself on fallback
    total: int  # SAM2 masks considered
    kept: int  # SAM2 masks in the union
    fallback: bool  # no mask was kept, so ``mask`` is the unrefined target
    coverage: np.ndarray  # (M,) float64: share of each mask's pixels inside the target; 0 for empty masks
    selected: np.ndarray  # (M,) bool: which masks were kept


def majority_vote(target: np.ndarray, masks: np.ndarray, min_coverage: float = 0.6) -> VoteResult:
    """Keep the SAM2 masks that lie mostly inside ``target`` and return their union.

    A mask m is kept when |m ∧ target| / |m| >= ``min_coverage`` (the boundary itself is kept, compared
    exactly in integers). Empty masks are never kept. When nothing is kept the target is returned
    unchanged with ``fallback=True``, so refinement can only sharpen a detection, never erase it.

    Args:
        target: (H, W) bool, the coarse prediction for one class.
        masks: (M, H, W) bool, SAM2 masks of the same image.
        min_coverage: within [0, 1].
    """
    _check_masks(masks, target.shape, "target")
    if target.dtype != bool:
        raise ValueError(f"target must be a bool mask, got {target.dtype}")
    if not 0.0 <= min_coverage <= 1.0:
        raise ValueError(f"min_coverage must be within [0, 1], got {min_coverage}")

    flat_masks = masks.reshape(len(masks), target.size)  # (M, H*W)
    areas = flat_masks.sum(axis=1, dtype=np.int64)  # (M,)
    inside = flat_masks[:, target.reshape(-1)].sum(axis=1, dtype=np.int64)  # (M,)
    threshold = Fraction(min_coverage).limit_denominator(_MAX_THRESHOLD_DENOMINATOR)
    selected = (areas > 0) & (inside * threshold.denominator >= areas * threshold.numerator)
    coverage = np.divide(inside, areas, out=np.zeros(len(masks)), where=areas > 0)

    kept = int(selected.sum())
    mask = masks[selected].any(axis=0) if kept else target.copy()
    return VoteResult(mask=mask, total=len(masks), kept=kept, fallback=kept == 0, coverage=coverage, selected=selected)


def refine_label_map(
    labels: np.ndarray,
    masks: np.ndarray,
    order: Literal["largest-first", "smallest-first"] = "largest-first",
) -> np.ndarray:
    """Relabel every SAM2 mask with the majority class of its pixels in ``labels``.

    Masks overlap, so the painting order decides overlapped pixels. The default paints the largest mask
    first so smaller masks, which are usually the more specific parts (a wheel on a car, a person on a
    street), overwrite it; "smallest-first" lets large regions win instead. Majorities are always taken
    from the original ``labels``, never from partially repainted ones; ties go to the lower class index.
    Pixels outside every mask, and empty masks, leave the labels unchanged.

    Args:
        labels: (H, W) non-negative integer class indices.
        masks: (M, H, W) bool SAM2 masks.
    Returns:
        (H, W) refined labels, same dtype as ``labels``.
    """
    _check_masks(masks, labels.shape, "labels")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got {labels.dtype}")
    if order not in ("largest-first", "smallest-first"):
        raise ValueError(f"order must be 'largest-first' or 'smallest-first', got {order!r}")
    if labels.size and labels.min() < 0:
        raise ValueError("labels must be non-negative class indices")

    refined = labels.copy()
    if len(masks) == 0 or labels.size == 0:
        return refined
    flat_labels = labels.reshape(-1)
    flat_masks = masks.reshape(len(masks), labels.size)  # (M, H*W)
    areas = flat_masks.sum(axis=1, dtype=np.int64)
    num_classes = int(flat_labels.max()) + 1
    # Stable sort keeps SAM2's order among masks of equal area.
    paint_order = np.argsort(-areas if order == "largest-first" else areas, kind="stable")

    flat_refined = refined.reshape(-1)
    for index in paint_order:
        if areas[index] == 0:
            continue
        pixels = flat_masks[index]
        majority = np.bincount(flat_labels[pixels], minlength=num_classes).argmax()
        flat_refined[pixels] = majority
    return refined


def _check_masks(masks: np.ndarray, image_shape: tuple[int, ...], image_name: str) -> None:
    if masks.ndim != 3 or masks.dtype != bool:
        raise ValueError(f"masks must be a bool array of shape (M, H, W), got {masks.dtype} {masks.shape}")
    if len(image_shape) != 2 or masks.shape[1:] != image_shape:
        raise ValueError(f"masks of size {masks.shape[1:]} do not match {image_name} of shape {image_shape}")
