"""Per-mask helpers for instance outputs (instances.json, COCO export)."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils


def mask_bbox(mask: np.ndarray) -> list[int]:
    """COCO box ``[x, y, width, height]`` in pixels of a (H, W) bool mask; ``[0, 0, 0, 0]`` when empty."""
    if mask.ndim != 2:
        raise ValueError(f"expected a (H, W) mask, got shape {mask.shape}")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return [0, 0, 0, 0]
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def mask_to_coco_rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE ``{"size": [H, W], "counts": str}`` of a (H, W) mask, ready for JSON."""
    if mask.ndim != 2:
        raise ValueError(f"expected a (H, W) mask, got shape {mask.shape}")
    # pycocotools reads column-major uint8 and returns the counts as bytes.
    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(side) for side in rle["size"]], "counts": rle["counts"].decode("ascii")}
