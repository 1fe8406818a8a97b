"""SAM2's masks for one image, stored compactly at SAM2's working size.

A photo larger than the working size is never held as a full-size (M, H, W) stack: the masks are kept as
COCO run-length encodings at the working size, and single masks or unions are brought up to full size
on request. Upsampling is bilinear on the 0/1 mask followed by a threshold at 0.5, so edges come out
smooth rather than as the blocks that nearest-neighbour scaling would give.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pycocotools import mask as mask_utils

from .guided import PromptRecord
from .instances import mask_to_coco_rle


@dataclass(frozen=True, eq=False)
class SAM2Masks:
    """SAM2's masks for one image. Arrays are read-only because the same object is served from cache.

    ``rles`` are pycocotools RLE dicts of shape ``working_size``; ``working_size`` equals ``image_size``
    when the photo was small enough for SAM2 to see it whole, and then every full-size mask is exactly
    the mask SAM2 produced.
    """

    rles: tuple[dict, ...]  # M COCO RLEs at working_size
    scores: np.ndarray  # (M,) float32, SAM2's predicted IoU
    stability: np.ndarray  # (M,) float32, stability score
    image_size: tuple[int, int]  # (H, W) of the photo
    working_size: tuple[int, int]  # (h, w) SAM2 worked at
    prompts: PromptRecord | None = None  # the grid and the points that made these masks (None: built by hand)

    @classmethod
    def from_arrays(
        cls,
        masks: np.ndarray,
        scores: np.ndarray | None = None,
        stability: np.ndarray | None = None,
        image_size: tuple[int, int] | None = None,
    ) -> SAM2Masks:
        """Encode a (M, h, w) bool stack; ``image_size`` (default (h, w)) is the photo's size if it is larger."""
        if masks.ndim != 3 or masks.dtype != bool:
            raise ValueError(f"masks must be a bool array of shape (M, H, W), got {masks.dtype} {masks.shape}")
        working_size = (int(masks.shape[1]), int(masks.shape[2]))
        image_size = working_size if image_size is None else (int(image_size[0]), int(image_size[1]))
        if image_size[0] < working_size[0] or image_size[1] < working_size[1]:
            raise ValueError(f"the image size {image_size} is smaller than the masks' size {working_size}")
        count = len(masks)
        # pycocotools encodes a column-major (h, w, M) stack in one call.
        rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0), dtype=np.uint8)) if count else []
        result = cls(
            rles=tuple(rles),
            # Copies, since they are made read-only below.
            scores=np.zeros(count, np.float32) if scores is None else np.array(scores, np.float32),
            stability=np.zeros(count, np.float32) if stability is None else np.array(stability, np.float32),
            image_size=image_size,
            working_size=working_size,
        )
        if not len(result.scores) == len(result.stability) == count:
            got = f"{len(result.scores)} and {len(result.stability)}"
            raise ValueError(f"expected {count} scores and stabilities, got {got}")
        for array in (result.scores, result.stability):
            array.flags.writeable = False
        return result

    def __len__(self) -> int:
        return len(self.rles)

    @property
    def scaled(self) -> bool:
        """Whether SAM2 worked on a shrunk copy of the photo."""
        return self.working_size != self.image_size

    @cached_property
    def working_areas(self) -> np.ndarray:
        """(M,) int64 pixels per mask at the working size."""
        # pycocotools sizes a uint8 array by the list's length, which numpy 2 rejects beyond 255 masks
        chunks = [mask_utils.area(list(self.rles[start : start + 255])) for start in range(0, len(self), 255)]
        areas = np.concatenate(chunks).astype(np.int64) if chunks else np.zeros(0, np.int64)
        areas.flags.writeable = False
        return areas

    @cached_property
    def areas(self) -> np.ndarray:
        """(M,) int64 pixels per mask at full size (each mask upsampled once, on first use)."""
        if not self.scaled:
            return self.working_areas
        areas = np.array([np.count_nonzero(self.full_region(index)[1]) for index in range(len(self))], np.int64)
        areas.flags.writeable = False
        return areas

    def working_mask(self, index: int) -> np.ndarray:
        """(h, w) bool mask ``index`` at the working size."""
        return _decode(self.rles[index])

    def full_region(self, index: int) -> tuple[tuple[slice, slice], np.ndarray]:
        """Mask ``index`` at full size, cut to the box it can occupy: ``((rows, cols), crop)``.

        ``full_mask(index)[rows, cols]`` equals ``crop`` and the full mask is False outside the box, so
        per-mask work costs the mask's extent rather than the whole photo.
        """
        return self._upsample(self.working_mask(index), self.rles[index])

    def full_mask(self, index: int) -> np.ndarray:
        """(H, W) bool mask ``index`` at full size (a new array)."""
        mask = np.zeros(self.image_size, dtype=bool)
        box, crop = self.full_region(index)
        mask[box] = crop
        return mask

    def union(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """(H, W) bool union of the chosen masks, united at the working size and then upsampled."""
        chosen = [self.rles[int(index)] for index in indices]
        if not chosen:
            return np.zeros(self.image_size, dtype=bool)
        merged = mask_utils.merge(chosen, intersect=False)
        mask = np.zeros(self.image_size, dtype=bool)
        box, crop = self._upsample(_decode(merged), merged)
        mask[box] = crop
        return mask

    def coco_rle(self, index: int) -> dict:
        """JSON-ready COCO RLE ``{"size": [H, W], "counts": str}`` of mask ``index`` at full size."""
        return mask_to_coco_rle(self.full_mask(index))

    def _upsample(self, mask: np.ndarray, rle: dict) -> tuple[tuple[slice, slice], np.ndarray]:
        x, y, width, height = (int(value) for value in mask_utils.toBbox(rle))
        if width == 0:
            return (slice(0, 0), slice(0, 0)), np.zeros((0, 0), dtype=bool)
        if not self.scaled:
            box = (slice(y, y + height), slice(x, x + width))
            return box, mask[box]
        rows = self._rows.window(y, y + height)
        cols = self._cols.window(x, x + width)
        # Rows first at the working width, then columns: two cheap 1-D interpolations.
        lo, hi = self._cols.sources(cols)
        blended = self._rows.blend(mask[:, lo:hi], rows, axis=0)
        return (rows, cols), self._cols.blend(blended, cols, axis=1, offset=lo) >= 0.5

    @cached_property
    def _rows(self) -> _Axis:
        return _Axis(self.working_size[0], self.image_size[0])

    @cached_property
    def _cols(self) -> _Axis:
        return _Axis(self.working_size[1], self.image_size[1])


class _Axis:
    """Bilinear sampling positions along one axis, as cv2.resize places them (pixel centres aligned)."""

    def __init__(self, source: int, target: int) -> None:
        position = (np.arange(target) + 0.5) * (source / target) - 0.5
        position = np.clip(position, 0, source - 1)
        self.low = np.floor(position).astype(np.intp)
        self.high = np.minimum(self.low + 1, source - 1)
        self.weight = (position - self.low).astype(np.float32)

    def window(self, start: int, stop: int) -> slice:
        """Target pixels whose value can involve source pixels ``start:stop``."""
        return slice(int(np.searchsorted(self.low, start - 1)), int(np.searchsorted(self.low, stop - 1, side="right")))

    def sources(self, window: slice) -> tuple[int, int]:
        """Source range ``lo:hi`` that the target pixels of ``window`` read."""
        return int(self.low[window.start]), int(self.high[window.stop - 1]) + 1

    def blend(self, values: np.ndarray, window: slice, axis: int, offset: int = 0) -> np.ndarray:
        """Interpolate ``values`` along ``axis`` (whose index 0 is source pixel ``offset``) at ``window``."""
        low = np.take(values, self.low[window] - offset, axis=axis).astype(np.float32, copy=False)
        high = np.take(values, self.high[window] - offset, axis=axis).astype(np.float32, copy=False)
        weight = self.weight[window, None] if axis == 0 else self.weight[None, window]
        # In place: these arrays can be as large as the photo.
        high -= low
        high *= weight
        low += high
        return low


def _decode(rle: dict) -> np.ndarray:
    with warnings.catch_warnings():
        # pycocotools' decode trips numpy 2's copy-keyword deprecation inside its own code.
        warnings.filterwarnings("ignore", message=".*copy keyword.*", category=DeprecationWarning)
        return mask_utils.decode(rle).view(bool)
