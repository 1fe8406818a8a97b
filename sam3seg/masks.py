"""Bringing working-size binary masks back to the image's size without full-size arrays per instance.

A mask is upsampled bilinearly with half-pixel centres (the mapping of ``F.interpolate(..., align_corners=False)``
and ``cv2.resize``) and thresholded at 0.5, which smooths the staircase a nearest-neighbour upscale would leave.
Each output pixel reads at most two source rows and columns, so only the output window that can touch the mask's
bounding box is computed; everything outside it is exactly zero.
"""

from __future__ import annotations

import cv2
import numpy as np

# Windows larger than this share of the output are cut from a whole-image resize instead of being warped alone.
_RESIZE_WHOLE_SHARE = 0.25


def upsampled_block(mask: np.ndarray, out_height: int, out_width: int) -> tuple[np.ndarray, int, int] | None:
    """The part of the upsampled ``mask`` that can be non-zero, as ``(block, y0, x0)``; None for an empty mask.

    ``block`` is a bool array whose top-left pixel sits at ``(y0, x0)`` of the (out_height, out_width) result.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    (y0, y1), (r0, r1), scale_y = _window(mask.shape[0], out_height, rows[0], rows[-1])
    (x0, x1), (c0, c1), scale_x = _window(mask.shape[1], out_width, cols[0], cols[-1])
    if (y1 - y0) * (x1 - x0) > _RESIZE_WHOLE_SHARE * out_height * out_width:
        # cv2.resize has the same mapping and is several times faster than warpAffine for large windows.
        whole = cv2.resize(mask.astype(np.float32), (out_width, out_height), interpolation=cv2.INTER_LINEAR)
        return whole[y0:y1, x0:x1] > 0.5, y0, x0
    source = mask[r0:r1, c0:c1].astype(np.float32)
    # Output pixel (x, y) of the window reads source (scale * (x + x0 + 0.5) - 0.5 - c0, ...) of the crop. The crop
    # holds every tap the window needs; replicating its border is the clamping bilinear resizing does at image edges.
    transform = np.array(
        [
            [scale_x, 0.0, scale_x * (x0 + 0.5) - 0.5 - c0],
            [0.0, scale_y, scale_y * (y0 + 0.5) - 0.5 - r0],
        ]
    )
    block = cv2.warpAffine(
        source,
        transform,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return block > 0.5, y0, x0


def upsample_mask(mask: np.ndarray, out_height: int, out_width: int) -> np.ndarray:
    """A (h, w) bool mask at (out_height, out_width), bilinear and thresholded at 0.5."""
    full = np.zeros((out_height, out_width), dtype=bool)
    found = upsampled_block(mask, out_height, out_width)
    if found is not None:
        block, y0, x0 = found
        full[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1]] = block
    return full


def _window(n_in: int, n_out: int, first: int, last: int) -> tuple[tuple[int, int], tuple[int, int], float]:
    """Output range that reads source indices within [first, last], the source range it reads, and the scale."""
    scale = n_in / n_out
    source = np.maximum((np.arange(n_out) + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(np.floor(source).astype(np.intp), n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    # low and high never decrease along the axis, so the positions that see the mask are one contiguous run.
    start = int(np.searchsorted(high, first, side="left"))
    stop = int(np.searchsorted(low, last, side="right"))
    return (start, stop), (int(low[start]), int(high[stop - 1]) + 1), scale
