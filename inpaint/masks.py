"""Mask geometry for editing: growing and feathering the region, choosing the crop, pasting the result back.

Diffusion pipelines alter every pixel they see, even outside the mask, because the image makes a round trip
through the VAE (diffusers issue #4782). The edit is therefore composited onto the original with a feathered
alpha: pixels where alpha is 0 are copied from the original bit for bit.
"""

from __future__ import annotations

import cv2
import numpy as np


def check_image_and_mask(image: np.ndarray, mask: np.ndarray) -> None:
    """Raise ValueError unless ``image`` is uint8 (H, W, 3) and ``mask`` a non-empty bool (H, W) mask."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be a uint8 array of shape (H, W, 3), got {_describe(image)}")
    if not isinstance(mask, np.ndarray) or mask.dtype != bool or mask.shape != image.shape[:2]:
        raise ValueError(f"mask must be a bool array of shape {image.shape[:2]}, got {_describe(mask)}")
    if not mask.any():
        raise ValueError("mask is empty: there is no region to edit")


def _describe(array: object) -> str:
    if isinstance(array, np.ndarray):
        return f"{array.dtype} array of shape {array.shape}"
    return type(array).__name__


def feather_mask(mask: np.ndarray, dilate: int, blur: int) -> np.ndarray:
    """Blend weights for an edit of ``mask``: float32 (H, W) in [0, 1].

    The mask is grown by ``dilate`` pixels (elliptical kernel) so the edit covers the object's soft edge and
    shadow fringe, then blurred with a Gaussian of radius ``blur`` pixels so the edit fades into the original.
    Alpha is exactly 0 wherever no grown-mask pixel lies within ``blur`` pixels (per axis), and exactly 1 on the
    mask itself.
    """
    if dilate < 0 or blur < 0:
        raise ValueError(f"dilate and blur must be non-negative, got {dilate}, {blur}")
    grown = mask.astype(np.uint8)
    if dilate > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        grown = cv2.dilate(grown, kernel)
    alpha = grown.astype(np.float32)
    if blur > 0:
        # sigma = radius / 3 keeps 99.7% of the Gaussian inside the kernel; the finite kernel is what makes alpha
        # exactly 0 beyond the band instead of merely tiny.
        alpha = cv2.GaussianBlur(alpha, (2 * blur + 1, 2 * blur + 1), sigmaX=blur / 3, sigmaY=blur / 3)
    # The target itself is always repainted in full, whatever dilate and blur say, so no ghost of it survives.
    alpha = np.maximum(alpha, mask.astype(np.float32))
    return np.clip(alpha, 0.0, 1.0)


def paste_back(original: np.ndarray, generated: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Alpha-blend ``generated`` over ``original`` (both uint8 (H, W, 3)) with ``alpha`` (H, W) in [0, 1].

    The blend is written as original + alpha * (generated - original), which is exact in float32 at both ends:
    the original where alpha == 0, the generated image where alpha == 1.
    """
    if original.shape != generated.shape or alpha.shape != original.shape[:2]:
        raise ValueError(
            f"paste_back needs matching shapes, got original {original.shape}, generated {generated.shape}, "
            f"alpha {alpha.shape}"
        )
    blended = original.astype(np.float32)
    blended += alpha[..., None].astype(np.float32) * (generated.astype(np.float32) - blended)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def crop_around(region: np.ndarray, min_side: int, context: float) -> tuple[int, int, int, int]:
    """A square-ish window (x0, y0, x1, y1) around the non-empty bool ``region``, clipped to the image.

    The side is the region's longer bounding-box side plus ``context`` of it on each side, and at least
    ``min_side`` (the model resolution), so a small region in a big photo is edited at the model's native scale
    instead of being shrunk with the whole image. Where the image is narrower than the side, the window spans
    that whole dimension. The window always contains the region.
    """
    rows = np.flatnonzero(region.any(axis=1))
    cols = np.flatnonzero(region.any(axis=0))
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    left, right = int(cols[0]), int(cols[-1]) + 1
    side = max(round(max(right - left, bottom - top) * (1 + 2 * context)), min_side)
    image_height, image_width = region.shape
    width, height = min(side, image_width), min(side, image_height)
    x0 = min(max((left + right - width) // 2, 0), image_width - width)
    y0 = min(max((top + bottom - height) // 2, 0), image_height - height)
    return x0, y0, x0 + width, y0 + height


def feather_window(mask: np.ndarray, dilate: int, blur: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``feather_mask`` computed only in a window around the mask: (alpha of the window, window (x0, y0, x1, y1)).

    Every non-zero alpha lies inside the window and its values equal ``feather_mask(mask, ...)`` there, so a large
    photo with a small region costs what the region costs. The window reaches ``dilate + 2 * blur + 2`` pixels
    beyond the mask's bounding box: the blur's mirrored border then reads only zeros, as it would in the whole image.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("mask is empty: there is no region to edit")
    margin = dilate + 2 * blur + 2
    height, width = mask.shape
    y0, y1 = max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, height)
    x0, x1 = max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, width)
    return feather_mask(mask[y0:y1, x0:x1], dilate, blur), (x0, y0, x1, y1)
