"""Which grid points to prompt SAM2 with for a target, and the record of what was prompted.

The vote keeps only SAM2 masks lying mostly on the coarse target, and a mask nearly always contains the
point that seeded it, so the grid points far from the target seed masks the vote throws away. Guided
prompting decodes only the points near a target: those inside its mask grown by a margin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PromptRecord:
    """What SAM2 was prompted with for one set of masks; ``to_json()`` is ready for result.json."""

    grid: str  # "32x32"
    setting: str | None  # the named grid setting (default, fast, sparse), None for a custom one
    masks_per_point: int  # 3, or 1 without multimask output
    points: str  # "guided" or "grid"
    margin: float | None  # fraction of the longer side; None when the whole grid ran
    points_in_grid: int
    points_decoded: int  # grid points whose masks make up the set (the targets' points together)

    def to_json(self) -> dict:
        return asdict(self)


def points_near(points: np.ndarray, target: np.ndarray, margin: float) -> np.ndarray:
    """(N,) bool: which (x, y) pixel positions in ``target``'s frame lie within ``margin`` of it.

    ``margin`` is a fraction of the target's longer side. A target that no point comes that close to
    (smaller than the grid's spacing) gets its nearest point(s) instead, so every non-empty target is
    prompted; an empty target gets none.
    """
    height, width = target.shape
    near = np.zeros(len(points), dtype=bool)
    rows_any = np.flatnonzero(target.any(axis=1))
    if rows_any.size == 0 or len(points) == 0:
        return near
    cols_any = np.flatnonzero(target.any(axis=0))
    reach = margin * max(height, width)
    cols = np.clip(np.floor(points[:, 0]).astype(np.intp), 0, width - 1)
    rows = np.clip(np.floor(points[:, 1]).astype(np.intp), 0, height - 1)

    # Only points in the target's box grown by the reach can be near it: the distance map is computed on
    # that box, which keeps a small target on a 12 MP photo cheap.
    grow = int(np.ceil(reach)) + 1
    top, bottom = max(0, rows_any[0] - grow), min(height, rows_any[-1] + grow + 1)
    left, right = max(0, cols_any[0] - grow), min(width, cols_any[-1] + grow + 1)
    inside_box = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
    if inside_box.any():
        box = target[top:bottom, left:right]
        # Distance of every box pixel to the nearest target pixel (0 on the target).
        distance = cv2.distanceTransform((~box).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        candidates = np.flatnonzero(inside_box)
        near[candidates] = distance[rows[candidates] - top, cols[candidates] - left] <= reach
    if not near.any():
        near = _nearest(points, target)
    return near


def _nearest(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(N,) bool marking the point(s) closest to any pixel of a target no point lies near."""
    # Such a target is smaller than the grid's spacing, so its pixels are few.
    ys, xs = np.nonzero(target)
    centres = np.stack([xs + 0.5, ys + 0.5], axis=1)
    step = max(1, len(centres) // 4096)  # a subsample bounds the work of a target that is long and thin
    centres = centres[::step]
    squared = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).min(axis=1)
    return squared == squared.min()


def union_of_points(points: np.ndarray, targets: Sequence[np.ndarray], margin: float) -> np.ndarray:
    """Indices of the points near any of ``targets`` (``points_near`` for each, united), ascending."""
    chosen = np.zeros(len(points), dtype=bool)
    for target in targets:
        chosen |= points_near(points, target, margin)
    return np.flatnonzero(chosen)
