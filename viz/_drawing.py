"""Small drawing helpers shared by the viz modules (input checks, Hershey text)."""
from __future__ import annotations

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
# Cap height in pixels of FONT at scale 1.0; used to turn a wanted text height into a cv2 scale.
_FONT_PIXELS_AT_SCALE_1 = 22.0
MIN_TEXT_PIXELS = 8

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


def require_rgb_uint8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Return ``image`` as a C-contiguous (H, W, 3) uint8 array, or raise ValueError."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB array, got shape {array.shape} dtype {array.dtype}")
    # cv2 drawing functions refuse non-contiguous views (e.g. slices or channel flips).
    return np.ascontiguousarray(array)


def require_mask(mask: np.ndarray, shape: tuple[int, int], name: str = "mask") -> np.ndarray:
    """Return ``mask`` as a bool array of ``shape`` (non-zero means inside), or raise ValueError."""
    array = np.asarray(mask)
    if array.shape != tuple(shape):
        raise ValueError(f"{name} has shape {array.shape}, expected {tuple(shape)} to match the image")
    return array.astype(bool, copy=False)


def require_labels(labels: np.ndarray, num_classes: int, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 2-D integer array with values in [0, num_classes), or raise ValueError."""
    array = np.asarray(labels)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be a 2-D integer array, got shape {array.shape} dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"{name} hold values {int(array.min())}..{int(array.max())}, expected class indices 0..{num_classes - 1}"
        )
    return array


def blend(base: np.ndarray, overlay: np.ndarray, alpha: float) -> np.ndarray:
    """``(1 - alpha) * base + alpha * overlay`` for uint8 arrays, rounded back to uint8."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    mixed = base.astype(np.float32) * (1.0 - alpha) + overlay.astype(np.float32) * alpha
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def line_thickness(shape: tuple[int, ...]) -> int:
    """Contour thickness that stays visible but thin from thumbnails up to multi-megapixel images."""
    return max(1, min(shape[0], shape[1]) // 256)


def text_scale(text_pixels: float) -> float:
    """cv2 font scale whose capital letters are about ``text_pixels`` tall."""
    return max(text_pixels, MIN_TEXT_PIXELS) / _FONT_PIXELS_AT_SCALE_1


def text_thickness(scale: float) -> int:
    return max(1, round(scale * 1.5))


def ascii_text(text: str) -> str:
    """Hershey fonts only draw ASCII; make other characters an explicit '?' rather than cv2's garbage."""
    return text.encode("ascii", "replace").decode("ascii")


def text_width(text: str, scale: float) -> int:
    (width, _), _ = cv2.getTextSize(text, FONT, scale, text_thickness(scale))
    return width


def line_metrics(scale: float) -> tuple[int, int]:
    """(ascent, descent) in pixels of a text line at ``scale``.

    Measured on a fixed reference string because cv2 reports a text's own extent, which would give
    "Mask" and "Original" different heights and hence different sizes when fitted to the same box.
    """
    (_, ascent), descent = cv2.getTextSize("Hg", FONT, scale, text_thickness(scale))
    return ascent, descent


def put_text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float, color: tuple[int, int, int]) -> None:
    """Draw ``text`` with its baseline-left corner at ``origin`` (x, y), in place."""
    cv2.putText(canvas, text, origin, FONT, scale, color, text_thickness(scale), cv2.LINE_AA)


def fit_text_scale(text: str, max_width: int, max_height: int) -> float:
    """Largest scale (not below the minimum readable one) at which ``text`` fits the box."""
    scale = text_scale(max_height)
    ascent, descent = line_metrics(scale)
    shrink = min(1.0, max_width / max(text_width(text, scale), 1), max_height / max(ascent + descent, 1))
    return max(scale * shrink, text_scale(MIN_TEXT_PIXELS))
