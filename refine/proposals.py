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


@dataclass(frozen=True)
class ProposalSelection:
    """Masks taken as instances of the target class, best first."""

    indices: np.ndarray  # (K,) int64, rows of the mask stack
    scores: np.ndarray  # (K,) float64, target-class probability of each


def square_crops(
    image: np.ndarray,
    masks: np.ndarray,
    size: int,
    fill_rgb: tuple[int, int, int],
    enlarge: float = 0.1,
) -> np.ndarray:
    """One ``size`` x ``size`` crop per mask, showing only the mask's pixels.

    The square is centred on the mask's bounding box with a side ``1 + enlarge`` times the box's longer
    side, so the classifier sees the object's outline with a little margin and no background. Pixels
    outside the mask, and parts of the square beyond the image border, are ``fill_rgb`` (the
    classifier's mean colour, which normalises to zero). Empty masks give plain ``fill_rgb`` crops.

    Args:
        image: (H, W, 3) uint8 RGB.
        masks: (M, H, W) bool.
    Returns:
        (M, size, size, 3) uint8 RGB.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
    if masks.ndim != 3 or masks.shape[1:] != image.shape[:2]:
        raise ValueError(f"masks of shape {masks.shape} do not match the image of shape {image.shape}")
    if size < 1 or enlarge < 0:
        raise ValueError(f"size must be positive and enlarge non-negative, got size={size}, enlarge={enlarge}")
    fill = np.asarray(fill_rgb, dtype=np.uint8).reshape(3)
    crops = np.empty((len(masks), size, size, 3), dtype=np.uint8)
    for index, mask in enumerate(masks):
        crops[index] = _square_crop(image, mask, size, fill, enlarge)
    return crops


def _square_crop(image: np.ndarray, mask: np.ndarray, size: int, fill: np.ndarray, enlarge: float) -> np.ndarray:
    x, y, width, height = mask_bbox(mask)
    if width == 0:
        return np.broadcast_to(fill, (size, size, 3))
    side = max(1, int(max(width, height) * (1.0 + enlarge) + 0.5))
    # Integer centring (any odd pixel of margin goes after the box) keeps crops reproducible.
    left = x + (width - side) // 2
    top = y + (height - side) // 2

    # Copy only the part of the square that lies inside the image.
    image_height, image_width = mask.shape
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + side, image_width), min(top + side, image_height)
    square = np.empty((side, side, 3), dtype=np.uint8)
    square[:] = fill
    square[y0 - top : y1 - top, x0 - left : x1 - left] = np.where(mask[y0:y1, x0:x1, None], image[y0:y1, x0:x1], fill)
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
