"""Preprocessing and sliding-window inference, as in the official SCLIP evaluation (mmseg-style)."""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .settings import PIXEL_MEAN, PIXEL_STD

MAX_LONG_SIDE = 2048


def resized_size(width: int, height: int, short_side: int, long_side: int = MAX_LONG_SIDE) -> tuple[int, int]:
    """Keep-ratio target size (w, h): the largest scale with long side <= long_side and short side <= short_side.

    Beyond ~4000:1 the short side would round to 0 pixels; it is kept at 1 (windows pad it later).
    """
    factor = min(long_side / max(width, height), short_side / min(width, height))
    return max(1, int(width * factor + 0.5)), max(1, int(height * factor + 0.5))


def preprocess(image: np.ndarray, short_side: int) -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> normalised float (1, 3, h, w) at SCLIP's inference scale."""
    height, width = image.shape[:2]
    new_w, new_h = resized_size(width, height, short_side)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    tensor = torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1).float()  # (3, h, w)
    mean = torch.tensor(PIXEL_MEAN).view(3, 1, 1)
    std = torch.tensor(PIXEL_STD).view(3, 1, 1)
    return ((tensor - mean) / std).unsqueeze(0)


def window_boxes(height: int, width: int, crop: int, stride: int) -> list[tuple[int, int, int, int]]:
    """(y1, y2, x1, x2) of every window; the last row/column is shifted back to end at the border."""
    if crop <= 0 or stride <= 0:
        raise ValueError("slide crop and stride must be positive")
    h_grids = max(height - crop + stride - 1, 0) // stride + 1
    w_grids = max(width - crop + stride - 1, 0) // stride + 1
    boxes = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y1, x1 = h_idx * stride, w_idx * stride
            y2, x2 = min(y1 + crop, height), min(x1 + crop, width)
            y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
            boxes.append((y1, y2, x1, x2))
    return boxes


def window_logits(
    features: torch.Tensor, classifier: torch.Tensor, window_size: tuple[int, int]
) -> torch.Tensor:
    """Cosine logits upsampled to the window. features (B, gh, gw, E), classifier (Q, E) -> (B, Q, h, w)."""
    logits = torch.einsum("bhwe,qe->bqhw", features, classifier)
    return F.interpolate(logits, size=window_size, mode="bilinear", align_corners=False)


def slide_inference(
    image: torch.Tensor,
    encode: Callable[[torch.Tensor], torch.Tensor],
    classifier: torch.Tensor,
    crop: int,
    stride: int,
    batch_size: int,
    patch_size: int,
) -> torch.Tensor:
    """Average of per-window logits over the (resized) image. image (1, 3, H, W) -> (Q, H, W) float32.

    ``encode`` maps a batch of crops (B, 3, h, w) to unit patch features (B, gh, gw, E). Every window
    has the same size (min(crop, H), min(crop, W)), so windows are stacked and encoded in batches;
    each window's logits are added into the canvas in place.
    """
    _, _, height, width = image.shape
    boxes = window_boxes(height, width, crop, stride)
    window_h, window_w = min(crop, height), min(crop, width)
    # Only images thinner than a window (aspect ratio beyond ~9:1) get windows narrower than a patch;
    # they are padded with the mean colour (0 after normalisation) and their logits cropped back.
    pad_h, pad_w = max(patch_size - window_h, 0), max(patch_size - window_w, 0)
    canvas = torch.zeros(classifier.shape[0], height, width, device=classifier.device)  # (Q, H, W)
    counts = torch.zeros(1, height, width, device=classifier.device)
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start : start + batch_size]
        crops = torch.cat([image[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in chunk])  # (B, 3, h, w)
        crops = F.pad(crops, (0, pad_w, 0, pad_h))
        features = encode(crops.to(classifier.device))
        logits = window_logits(features.float(), classifier, crops.shape[-2:])  # (B, Q, h, w)
        logits = logits[:, :, :window_h, :window_w]
        for (y1, y2, x1, x2), window in zip(chunk, logits):
            canvas[:, y1:y2, x1:x2] += window
            counts[:, y1:y2, x1:x2] += 1
    return canvas.div_(counts)
