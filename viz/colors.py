"""Class colours: the PASCAL VOC colour map, palette PNGs and colour-coded label maps."""
from __future__ import annotations

import numpy as np
from PIL import Image

from ._drawing import require_labels

# Each round hands three more bits of the index to the three channels, so 8 rounds keep every
# index below 2**24 distinct (the VOC map itself only needs 256).
_BIT_ROUNDS = 8
MAX_PALETTE_COLORS = 1 << (3 * _BIT_ROUNDS)
PALETTE_PNG_CLASSES = 256
GRAY16_PNG_CLASSES = 1 << 16


def palette(n: int) -> np.ndarray:
    """The standard PASCAL VOC colour map with ``n`` entries as an (n, 3) uint8 array.

    Index ``i`` gets bit ``3k + c`` of ``i`` as bit ``7 - k`` of channel ``c`` (R, G, B); entry 0 is
    black, 1 is (128, 0, 0), 15 is (192, 128, 128) and 255 is VOC's ignore colour (224, 224, 192).
    The same construction continues past 256 entries for label maps with more classes.
    """
    if not 0 <= n <= MAX_PALETTE_COLORS:
        raise ValueError(f"palette size must be in 0..{MAX_PALETTE_COLORS}, got {n}")
    indices = np.arange(n, dtype=np.int64)
    colors = np.zeros((n, 3), dtype=np.int64)
    for round_ in range(_BIT_ROUNDS):
        for channel in range(3):
            bit = (indices >> (3 * round_ + channel)) & 1
            colors[:, channel] |= bit << (7 - round_)
    return colors.astype(np.uint8)


def labels_to_palette_image(labels: np.ndarray) -> Image.Image:
    """A mode "P" image whose pixel values are the class indices, coloured with the VOC palette.

    Palette PNGs store 8-bit indices, so more than 256 classes (an index above 255) is unsupported
    and raises ValueError.
    """
    indices = require_labels(labels, PALETTE_PNG_CLASSES)
    height, width = indices.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(indices, dtype=np.uint8).tobytes())
    image.putpalette(palette(PALETTE_PNG_CLASSES).ravel().tolist())
    return image


def label_map_image(labels: np.ndarray, num_classes: int | None = None) -> Image.Image:
    """A PNG-ready image whose pixel values are the class indices, for any number of classes.

    Up to 256 classes: the VOC-coloured palette image of ``labels_to_palette_image``. More: a 16-bit
    grayscale image (mode "I;16"), which PIL and OpenCV (``cv2.IMREAD_UNCHANGED``) read back as
    the indices. The format follows ``num_classes`` (the vocabulary size) when given, so every image
    of one run gets the same format; else the largest index in ``labels``.
    """
    indices = require_labels(labels, GRAY16_PNG_CLASSES)
    largest = num_classes - 1 if num_classes is not None else (int(indices.max()) if indices.size else 0)
    if largest < PALETTE_PNG_CLASSES:
        return labels_to_palette_image(indices)
    return Image.fromarray(np.ascontiguousarray(indices, dtype=np.uint16))  # uint16 -> mode "I;16"


def colorize_labels(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(H, W) class indices in [0, n_classes) → (H, W, 3) uint8 VOC colours."""
    indices = require_labels(labels, n_classes)
    return palette(n_classes)[indices]
