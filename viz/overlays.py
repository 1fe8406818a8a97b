"""Masks, instances and score maps drawn over an RGB image."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ._drawing import (
    WHITE,
    ascii_text,
    blend,
    line_metrics,
    line_thickness,
    put_text,
    require_mask,
    require_rgb_uint8,
    text_scale,
    text_width,
)
from .colors import palette

# Instance captions are this fraction of the shorter image side tall (before the readability floor).
_CAPTION_HEIGHT_FRACTION = 0.03


def overlay_mask(
    image: np.ndarray,
    mask: np.ndarray,
    color: tuple[int, int, int] = (255, 0, 0),
    alpha: float = 0.5,
    outline: bool = True,
) -> np.ndarray:
    """Tint the pixels of ``mask`` with ``color`` (RGB) and, with ``outline``, trace its boundary.

    Pixels outside the mask are untouched except for the contour line, which is drawn centred on the
    mask's border pixels and so may spill up to half its thickness outside.
    """
    rgb = require_rgb_uint8(image)
    inside = require_mask(mask, rgb.shape[:2])
    result = rgb.copy()
    tint = np.broadcast_to(np.asarray(color, dtype=np.uint8), (int(inside.sum()), 3))
    result[inside] = blend(rgb[inside], tint, alpha)
    if outline and inside.any():
        # RETR_LIST also traces holes, so an object with a gap shows both of its boundaries.
        contours, _ = cv2.findContours(inside.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(result, contours, -1, tuple(int(c) for c in color), line_thickness(rgb.shape))
    return result


def instance_overlay(
    image: np.ndarray,
    masks: np.ndarray,
    scores: Sequence[float],
    labels: Sequence[str] | None = None,
    alpha: float = 0.5,
) -> np.ndarray:
    """Each of the M instance masks (M, H, W) in its own colour, captioned "label score" at its box corner.

    Colours are VOC palette entries 1..M, so instance ``i`` has the same colour in every picture.
    """
    rgb = require_rgb_uint8(image)
    stack = np.asarray(masks)
    if stack.ndim != 3:
        raise ValueError(f"masks must be an (M, H, W) array, got shape {stack.shape}")
    stack = require_mask(stack, (stack.shape[0], *rgb.shape[:2]), name="masks")
    if len(scores) != len(stack):
        raise ValueError(f"got {len(stack)} masks but {len(scores)} scores")
    if labels is not None and len(labels) != len(stack):
        raise ValueError(f"got {len(stack)} masks but {len(labels)} labels")

    colors = palette(len(stack) + 1)[1:]
    # Largest first, so small instances lying on big ones stay visible on top.
    order = sorted(range(len(stack)), key=lambda i: int(stack[i].sum()), reverse=True)
    result = rgb
    for i in order:
        result = overlay_mask(result, stack[i], tuple(int(c) for c in colors[i]), alpha)
    for i in order:
        if stack[i].any():
            caption = f"{labels[i]} {scores[i]:.2f}" if labels is not None else f"{scores[i]:.2f}"
            _draw_caption(result, ascii_text(caption), stack[i], tuple(int(c) for c in colors[i]))
    return result


def _draw_caption(canvas: np.ndarray, caption: str, mask: np.ndarray, color: tuple[int, int, int]) -> None:
    """White text on a box of the instance colour at the mask's top-left box corner, kept inside the image."""
    rows, cols = np.nonzero(mask)
    height, width = canvas.shape[:2]
    scale = text_scale(_CAPTION_HEIGHT_FRACTION * min(height, width))
    ascent, descent = line_metrics(scale)
    pad = max(1, ascent // 4)
    box_width, box_height = text_width(caption, scale) + 2 * pad, ascent + descent + 2 * pad
    left = max(0, min(int(cols.min()), width - box_width))
    top = max(0, min(int(rows.min()), height - box_height))
    cv2.rectangle(canvas, (left, top), (left + box_width - 1, top + box_height - 1), color, cv2.FILLED)
    put_text(canvas, caption, (left + pad, top + pad + ascent), scale, WHITE)


def heatmap(
    score_map: np.ndarray,
    image: np.ndarray | None = None,
    alpha: float = 0.5,
    colormap: int = cv2.COLORMAP_JET,
) -> np.ndarray:
    """Colour-map a score map with values in [0, 1] (clipped; NaN counts as 0).

    With ``image`` the coloured map is resized to the image (bilinear) and blended over it with
    weight ``alpha``; ``colormap`` is any ``cv2.COLORMAP_*`` constant.
    """
    scores = np.asarray(score_map, dtype=np.float32)
    if scores.ndim != 2:
        raise ValueError(f"score_map must be 2-D, got shape {scores.shape}")
    rgb = None if image is None else require_rgb_uint8(image)
    if rgb is not None and scores.shape != rgb.shape[:2]:
        scores = cv2.resize(scores, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    levels = np.rint(np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0) * 255).astype(np.uint8)
    colored = cv2.cvtColor(cv2.applyColorMap(levels, colormap), cv2.COLOR_BGR2RGB)
    return colored if rgb is None else blend(rgb, colored, alpha)
