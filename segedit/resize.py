"""Resizing between the size an image is processed at and the size its results are reported at."""
from __future__ import annotations

import cv2
import numpy as np


def scaled_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """(h, w) with the long side at most ``max_side``, the aspect ratio kept, no side below 1."""
    if max_side is None or max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def downscale(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    """A copy whose long side is at most ``max_side`` (area interpolation), or the image itself."""
    height, width = scaled_size(*rgb.shape[:2], max_side)
    if (height, width) == rgb.shape[:2]:
        return rgb
    return np.ascontiguousarray(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA))


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map or mask to (H, W): class indices never blend."""
    if labels.shape[:2] == tuple(size):
        return labels
    dtype = labels.dtype
    # OpenCV resizes neither bool nor int64 maps
    source = labels.astype(np.int32) if dtype in (np.bool_, np.int64, np.uint32) else labels
    return cv2.resize(source, (size[1], size[0]), interpolation=cv2.INTER_NEAREST).astype(dtype)


def resize_scores(scores: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a (H, W) score map to (H, W), keeping its dtype."""
    if scores.shape[:2] == tuple(size):
        return scores
    resized = cv2.resize(scores.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return resized.astype(scores.dtype)
