"""Proposal-based segmentation (``main.py``): classify each SAM2 mask as a whole.

Each mask becomes a square crop with everything outside the mask painted in a neutral colour; the
caller classifies the crops (e.g. with CLIP) and hands the class probabilities back to
``score_proposals``. Nothing here knows about the classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .instances import mask_bbox
from .sam2_masks import SAM2Masks


@dataclass(frozen=True)
class ProposalSelection:
    """Masks taken as instances of the target class, best first."""

    indices: np.ndarray  # (K,) int64, mask indices into SAM2Masks
    scores: np.ndarray  # (K,) float64, target-class probability of each


def square_crops(
    image: np.ndarray,
    masks: SAM2Masks,
    size: int,
    fill_rgb: tuple[int, int, int],
    enlarge: float = 0.1,
) -> np.ndarray:
    """One ``size`` x ``size`` crop per mask, showing only the mask's pixels at full resolution.

    The square is centred on the mask's bounding box with a side ``1 + enlarge`` times the box's longer
    side, so the classifier sees the object's outline with a little margin and no background. Pixels
    outside the mask, and parts of the square beyond the image border, are ``fill_rgb`` (the
    classifier's mean colour, which normalises to zero). Empty masks give plain ``fill_rgb`` crops.

    Args:
        image: (H, W, 3) uint8 RGB at full size.
        masks: SAM2 masks of the same image.
    Returns:
        (M, size, size, 3) uint8 RGB.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
    if masks.image_size != image.shape[:2]:
        raise ValueError(f"masks of image size {masks.image_size} do not match the image of shape {image.shape}")
    if size < 1 or enlarge < 0:
        raise ValueError(f"size must be positive and enlarge non-negative, got size={size}, enlarge={enlarge}")
    fill = np.asarray(fill_rgb, dtype=np.uint8).reshape(3)
    crops = np.empty((len(masks), size, size, 3), dtype=np.uint8)
    for index in range(len(masks)):
        (rows, cols), mask = masks.full_region(index)
        crops[index] = _square_crop(image, rows.start, cols.start, mask, size, fill, enlarge)
    return crops


def _square_crop(
    image: np.ndarray, top: int, left: int, mask: np.ndarray, size: int, fill: np.ndarray, enlarge: float
) -> np.ndarray:
    """The crop of a mask given as ``mask``, a region of the full mask whose corner is pixel (top, left)."""
    x, y, width, height = mask_bbox(mask)
    if width == 0:
        return np.broadcast_to(fill, (size, size, 3))
    mask = mask[y : y + height, x : x + width]
    x, y = x + left, y + top
    side = max(1, int(max(width, height) * (1.0 + enlarge) + 0.5))
    # Integer centring (any odd pixel of margin goes after the box) keeps crops reproducible.
    square_left = x + (width - side) // 2
    square_top = y + (height - side) // 2

    # The square holds the mask's box, and the box lies inside the image, so only the box is copied.
    square = np.empty((side, side, 3), dtype=np.uint8)
    square[:] = fill
    inside = (slice(y - square_top, y - square_top + height), slice(x - square_left, x - square_left + width))
    square[inside] = np.where(mask[..., None], image[y : y + height, x : x + width], fill)
    # Area averaging when shrinking avoids the aliasing that the classifier's own (antialiased) resize
    # never shows it; bicubic when enlarging, as in CLIP's preprocessing.
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(square, (size, size), interpolation=interpolation)


def score_proposals(class_probs: np.ndarray, target_class: int, top_k: int | None = None) -> ProposalSelection:
    """Pick the masks whose most likely class is ``target_class``, best first.

    Args:
        class_probs: (M, C) class probabilities (or any scores) of each mask's crop.
        target_class: column of the target.
        top_k: keep at most this many; None keeps all.
    """
    if class_probs.ndim != 2:
        raise ValueError(f"class_probs must have shape (M, C), got {class_probs.shape}")
    if not 0 <= target_class < class_probs.shape[1]:
        raise ValueError(f"target_class {target_class} is outside the {class_probs.shape[1]} classes")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1 or None, got {top_k}")
    if len(class_probs) == 0:
        return ProposalSelection(indices=np.zeros(0, dtype=np.int64), scores=np.zeros(0))

    candidates = np.flatnonzero(class_probs.argmax(axis=1) == target_class)
    target_scores = class_probs[candidates, target_class].astype(np.float64)
    # Stable, so equal scores keep mask order and the result is reproducible.
    best_first = np.argsort(-target_scores, kind="stable")[:top_k]
    return ProposalSelection(indices=candidates[best_first].astype(np.int64), scores=target_scores[best_first])
