"""Refine a coarse dense prediction with SAM2's sharper mask boundaries by majority voting."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from .errors import SAM2SettingsError
from .sam2_masks import SAM2Masks

FallbackReason = Literal["no_masks", "empty_target", "low_coverage"]

# Thresholds are meant as decimals (0.6 = 3/5). Comparing in floats makes the boundary depend on
# rounding (0.55 * 100 > 55 in floats), so the threshold becomes a fraction and counts are compared exactly.
_MAX_THRESHOLD_DENOMINATOR = 10**6


@dataclass(frozen=True)
class VoteResult:
    """Outcome of ``majority_vote``."""

    mask: np.ndarray  # (H, W) bool at full size: union of the kept SAM2 masks, or the target itself on fallback
    total: int  # SAM2 masks considered; 0 when SAM2 produced none
    kept: int  # SAM2 masks in the union
    fallback: bool  # no mask was kept, so ``mask`` is the unrefined target
    coverage: np.ndarray  # (M,) float64: share of each mask's pixels inside the target; 0 for empty masks
    selected: np.ndarray  # (M,) bool: which masks were kept
    empty_target: bool = False  # the target had no pixels, so no mask could lie inside it

    @property
    def fallback_reason(self) -> FallbackReason | None:
        """Why nothing was kept: "no_masks" (SAM2 found none), "empty_target", "low_coverage"; None if refined."""
        if not self.fallback:
            return None
        if self.total == 0:
            return "no_masks"
        return "empty_target" if self.empty_target else "low_coverage"


def majority_vote(target: np.ndarray, masks: SAM2Masks, min_coverage: float = 0.6) -> VoteResult:
    """Keep the SAM2 masks that lie mostly inside ``target`` and return their union at full size.

    A mask m is kept when |m ∧ target| / |m| >= ``min_coverage`` (the boundary itself is kept, compared
    exactly in integers). Empty masks are never kept. When nothing is kept the target is returned
    unchanged with ``fallback=True``, so refinement can only sharpen a detection, never erase it.

    Pixels are counted at SAM2's working size, where the masks were made: the target is brought down to
    it by area averaging (a working pixel is inside when at least half of it is), which costs one resize
    instead of upsampling every mask. For a photo no larger than the working size this is the exact
    full-size count. The union is formed at the working size and upsampled (``SAM2Masks.union``).

    Args:
        target: (H, W) bool at full size, the coarse prediction for one class.
        masks: SAM2 masks of the same image.
        min_coverage: within [0, 1].
    """
    _check_size(masks, target.shape, "target")
    if target.dtype != bool:
        raise ValueError(f"target must be a bool mask, got {target.dtype}")
    if not 0.0 <= min_coverage <= 1.0:
        raise SAM2SettingsError("min_coverage", f"min_coverage must be within [0, 1], got {min_coverage}")

    areas = masks.working_areas
    inside = _pixels_inside(masks, _to_working_size(target, masks.working_size))
    threshold = Fraction(min_coverage).limit_denominator(_MAX_THRESHOLD_DENOMINATOR)
    selected = (areas > 0) & (inside * threshold.denominator >= areas * threshold.numerator)
    coverage = np.divide(inside, areas, out=np.zeros(len(masks)), where=areas > 0)

    kept = int(selected.sum())
    mask = masks.union(np.flatnonzero(selected)) if kept else target.copy()
    return VoteResult(
        mask=mask,
        total=len(masks),
        kept=kept,
        fallback=kept == 0,
        coverage=coverage,
        selected=selected,
        empty_target=not target.any(),
    )


def refine_label_map(
    labels: np.ndarray,
    masks: SAM2Masks,
    order: Literal["largest-first", "smallest-first"] = "largest-first",
) -> np.ndarray:
    """Relabel every SAM2 mask with the majority class of its pixels in ``labels``.

    Masks overlap, so the painting order decides overlapped pixels. The default paints the largest mask
    first so smaller masks, which are usually the more specific parts (a wheel on a car, a person on a
    street), overwrite it; "smallest-first" lets large regions win instead. Majorities are always taken
    from the original ``labels``, never from partially repainted ones; ties go to the lower class index.
    Pixels outside every mask, and empty masks, leave the labels unchanged. Each mask is upsampled to
    full size (``SAM2Masks.full_region``), so class boundaries follow SAM2's edges at full resolution.

    Args:
        labels: (H, W) non-negative integer class indices at full size.
        masks: SAM2 masks of the same image.
    Returns:
        (H, W) refined labels, same dtype as ``labels``.
    """
    _check_size(masks, labels.shape, "labels")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got {labels.dtype}")
    if order not in ("largest-first", "smallest-first"):
        raise ValueError(f"order must be 'largest-first' or 'smallest-first', got {order!r}")
    if labels.size and labels.min() < 0:
        raise ValueError("labels must be non-negative class indices")

    refined = labels.copy()
    if len(masks) == 0 or labels.size == 0:
        return refined
    areas = masks.areas
    num_classes = int(labels.max()) + 1
    # Stable sort keeps SAM2's order among masks of equal area.
    paint_order = np.argsort(-areas if order == "largest-first" else areas, kind="stable")
    for index in paint_order:
        if areas[index] == 0:
            continue
        box, pixels = masks.full_region(index)
        majority = np.bincount(labels[box][pixels], minlength=num_classes).argmax()
        refined[box][pixels] = majority
    return refined


def _to_working_size(mask: np.ndarray, working_size: tuple[int, int]) -> np.ndarray:
    if mask.shape == working_size:
        return mask
    height, width = working_size
    return cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA) >= 0.5


def _pixels_inside(masks: SAM2Masks, target: np.ndarray) -> np.ndarray:
    """(M,) int64 pixels of each mask inside ``target``, counted on the run-length encodings."""
    if len(masks) == 0:
        return np.zeros(0, dtype=np.int64)
    target_rle = mask_utils.encode(np.asfortranarray(target, dtype=np.uint8))
    return np.array(
        [mask_utils.area(mask_utils.merge([rle, target_rle], intersect=True)) for rle in masks.rles], dtype=np.int64
    )


def _check_size(masks: SAM2Masks, image_shape: tuple[int, ...], image_name: str) -> None:
    if len(image_shape) != 2 or tuple(image_shape) != masks.image_size:
        raise ValueError(f"masks of image size {masks.image_size} do not match {image_name} of shape {image_shape}")
