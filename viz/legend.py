"""A label map blended over its image, with a legend of the classes that actually occur."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ._drawing import (
    BLACK,
    ascii_text,
    blend,
    line_metrics,
    put_text,
    require_labels,
    require_rgb_uint8,
    text_scale,
    text_width,
)
from .colors import colorize_labels, palette

# Legend text is this fraction of the image height tall, within readable bounds.
_TEXT_HEIGHT_FRACTION = 1 / 40
_MAX_TEXT_PIXELS = 20
# Long class lines (e.g. 26 background synonyms) would make the panel wider than the image.
_MAX_NAME_CHARS = 32
# Beyond this many columns the panel grows downwards instead, so it never dwarfs a short image.
_MAX_COLUMNS = 4


@dataclass(frozen=True)
class LegendEntry:
    """One class that occurs in a label map."""

    index: int
    name: str
    fraction: float  # share of the label map's pixels, 0..1


def legend_entries(labels: np.ndarray, class_names: Sequence[str]) -> list[LegendEntry]:
    """The classes present in ``labels``, largest area first (ties by class index)."""
    indices = require_labels(labels, len(class_names))
    counts = np.bincount(indices.ravel(), minlength=len(class_names))
    present = sorted(np.flatnonzero(counts), key=lambda i: (-counts[i], i))
    total = max(indices.size, 1)
    return [LegendEntry(int(i), class_names[i], counts[i] / total) for i in present]


def label_map_with_legend(
    image: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    alpha: float = 0.6,
) -> np.ndarray:
    """The image blended with the colour-coded label map, plus a legend panel on the right.

    The legend lists only classes present in ``labels`` (colour swatch, name, area percentage),
    largest first. When the entries do not fit beside the image in up to four columns the panel
    grows downwards and the image part is padded with white below.
    """
    rgb = require_rgb_uint8(image)
    indices = require_labels(labels, len(class_names))
    if indices.shape != rgb.shape[:2]:
        raise ValueError(f"labels have shape {indices.shape}, expected {rgb.shape[:2]} to match the image")
    blended = blend(rgb, colorize_labels(indices, len(class_names)), alpha)
    panel = _render_legend(legend_entries(indices, class_names), palette(len(class_names)), rgb.shape[0])
    height = max(blended.shape[0], panel.shape[0])
    return np.hstack([_pad_bottom(blended, height), _pad_bottom(panel, height)])


def _render_legend(entries: list[LegendEntry], colors: np.ndarray, image_height: int) -> np.ndarray:
    scale = text_scale(min(_MAX_TEXT_PIXELS, image_height * _TEXT_HEIGHT_FRACTION))
    texts = [f"{_shorten(ascii_text(entry.name))} {100 * entry.fraction:.1f}%" for entry in entries]
    widths = [text_width(text, scale) for text in texts]
    ascent, descent = line_metrics(scale)
    line_height = ascent + descent
    pad = max(2, line_height // 3)
    row_height = line_height + pad
    swatch = line_height

    rows_beside_image = max(1, (image_height - pad) // row_height)
    rows_per_column = max(rows_beside_image, math.ceil(len(entries) / _MAX_COLUMNS), 1)
    columns = [
        range(start, min(start + rows_per_column, len(entries))) for start in range(0, len(entries), rows_per_column)
    ]
    column_widths = [swatch + pad + max(widths[i] for i in column) + 2 * pad for column in columns]

    panel_height = max(image_height, pad + rows_per_column * row_height)
    panel = np.full((panel_height, pad + sum(column_widths), 3), 255, dtype=np.uint8)
    left = pad
    for column, column_width in zip(columns, column_widths):
        for row, i in enumerate(column):
            top = pad + row * row_height
            color = tuple(int(c) for c in colors[entries[i].index])
            cv2.rectangle(panel, (left, top), (left + swatch - 1, top + swatch - 1), color, cv2.FILLED)
            # A thin frame keeps white-ish and black swatches distinguishable from the panel.
            cv2.rectangle(panel, (left, top), (left + swatch - 1, top + swatch - 1), BLACK, 1)
            put_text(panel, texts[i], (left + swatch + pad, top + ascent), scale, BLACK)
        left += column_width
    return panel


def _shorten(name: str) -> str:
    return name if len(name) <= _MAX_NAME_CHARS else name[: _MAX_NAME_CHARS - 3] + "..."


def _pad_bottom(picture: np.ndarray, height: int) -> np.ndarray:
    missing = height - picture.shape[0]
    if missing == 0:
        return picture
    filler = np.full((missing, *picture.shape[1:]), 255, dtype=picture.dtype)
    return np.vstack([picture, filler])
