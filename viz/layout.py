"""Side-by-side comparison strips with a title above each picture."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ._drawing import BLACK, ascii_text, fit_text_scale, line_metrics, put_text, text_width

# Title bar height as a fraction of the strip's picture height, within readable bounds.
_TITLE_BAR_FRACTION = 0.08
_MIN_TITLE_BAR = 16
_MAX_TITLE_BAR = 64


def comparison_strip(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    height: int | None = None,
) -> np.ndarray:
    """Pictures side by side under one title bar each, e.g. "Original | Mask | Edited".

    Every picture is resized (aspect kept) to ``height``, by default the first picture's height.
    Pictures may be RGB uint8 (H, W, 3) or single-channel masks (H, W) of bool or uint8, shown as grey.
    The strip is as wide as the resized pictures together.
    """
    if len(images) != len(titles):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    if not images:
        raise ValueError("comparison_strip needs at least one image")
    pictures = [_as_rgb(picture, f"images[{i}]") for i, picture in enumerate(images)]
    target_height = pictures[0].shape[0] if height is None else height
    if target_height < 1:
        raise ValueError(f"height must be positive, got {target_height}")
    bar_height = min(_MAX_TITLE_BAR, max(_MIN_TITLE_BAR, round(target_height * _TITLE_BAR_FRACTION)))
    pad = max(2, bar_height // 8)
    resized = [_resize_to_height(picture, target_height) for picture in pictures]
    texts = [ascii_text(title) for title in titles]
    # One scale for all titles: the one that lets the tightest title fit its panel.
    scale = min(fit_text_scale(text, p.shape[1] - 2 * pad, bar_height - 2 * pad) for text, p in zip(texts, resized))
    panels = [np.vstack([_title_bar(text, p.shape[1], bar_height, scale), p]) for text, p in zip(texts, resized)]
    return np.hstack(panels)


def _as_rgb(picture: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(picture)
    if array.ndim == 2 and array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 2 and array.dtype == np.uint8:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8:
        return array
    raise ValueError(
        f"{name} must be (H, W, 3) uint8 or an (H, W) bool/uint8 mask, got shape {array.shape} dtype {array.dtype}"
    )


def _resize_to_height(picture: np.ndarray, height: int) -> np.ndarray:
    old_height, old_width = picture.shape[:2]
    if old_height == height:
        return picture
    width = max(1, round(old_width * height / old_height))
    # INTER_AREA avoids aliasing when shrinking; it degrades to bilinear-like blur when enlarging.
    interpolation = cv2.INTER_AREA if height < old_height else cv2.INTER_LINEAR
    return cv2.resize(picture, (width, height), interpolation=interpolation)


def _title_bar(text: str, width: int, height: int, scale: float) -> np.ndarray:
    bar = np.full((height, width, 3), 255, dtype=np.uint8)
    ascent, descent = line_metrics(scale)
    # Text wider than a very narrow panel is clipped by the bar's own edges, never spilling onto a neighbour.
    left = max(0, (width - text_width(text, scale)) // 2)
    put_text(bar, text, (left, (height + ascent - descent) // 2), scale, BLACK)
    return bar
