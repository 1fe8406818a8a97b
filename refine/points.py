"""Point-prompted SAM2 masks: the clicks of an interactive correction.

The image encoder is the expensive part (seconds on a CPU), the prompt decoder is cheap (tens of
milliseconds), so each image is embedded once by ``SAM2ImagePredictor.set_image`` and every further
click only runs the decoder. One predictor per recent image holds that embedding; all predictors share
the one SAM2 model the automatic mask generator uses.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Hashable, Sequence

import numpy as np
import torch
from sam2.modeling.sam2_base import SAM2Base
from sam2.sam2_image_predictor import SAM2ImagePredictor

from .masks import _digest

POSITIVE = 1
NEGATIVE = 0


class PointRefiner:
    """SAM2 masks from positive and negative clicks, with image embeddings cached per image."""

    def __init__(self, model: SAM2Base, cache_size: int = 4) -> None:
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, got {cache_size}")
        self.model = model
        self.device = next(model.parameters()).device
        self.cache_size = cache_size
        self._predictors: OrderedDict[Hashable, SAM2ImagePredictor] = OrderedDict()
        # one predictor holds mutable state; two visitors clicking on the same image share it
        self._lock = threading.Lock()

    def predict(
        self,
        image: np.ndarray,
        points: Sequence[Sequence[float]],
        labels: Sequence[int],
        key: Hashable | None = None,
    ) -> np.ndarray:
        """(H, W) bool mask of the object the points describe (label 1 = on it, 0 = not on it).

        ``points`` are (x, y) pixel positions in ``image``; ``key`` names the image for the embedding
        cache (a digest of its pixels by default). Without points the mask is empty.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
        coords = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        point_labels = np.asarray(labels, dtype=np.int32).reshape(-1)
        if len(coords) != len(point_labels):
            raise ValueError(f"got {len(coords)} points but {len(point_labels)} labels")
        if not set(point_labels.tolist()) <= {POSITIVE, NEGATIVE}:
            raise ValueError("point labels must be 1 (on the object) or 0 (not on it)")
        height, width = image.shape[:2]
        if len(coords) == 0:
            return np.zeros((height, width), dtype=bool)
        outside = (coords[:, 0] < 0) | (coords[:, 0] >= width) | (coords[:, 1] < 0) | (coords[:, 1] >= height)
        if outside.any():
            raise ValueError(f"point {coords[outside][0].tolist()} lies outside the {width}x{height} image")
        with self._lock, torch.inference_mode():
            predictor = self._predictor(image, key if key is not None else _digest(image))
            # several clicks describe one object unambiguously; a single click may mean a part or the
            # whole, so SAM2's three candidates are asked for and the best-scored one is taken
            single = len(coords) == 1
            masks, scores, _ = predictor.predict(coords, point_labels, multimask_output=single)
        return masks[int(np.argmax(scores))] > 0

    def correct(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        points: Sequence[Sequence[float]],
        labels: Sequence[int],
        key: Hashable | None = None,
    ) -> np.ndarray:
        """``mask`` with the object under the positive points added and the one under the negative points cut.

        The positive points (against the negative ones) describe what to add, the negative points
        (against the positive ones) what to remove, so a wrong click is undone by clicking it out.
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != image.shape[:2]:
            raise ValueError(f"mask has shape {mask.shape}, expected {image.shape[:2]} to match the image")
        point_labels = np.asarray(labels, dtype=np.int32).reshape(-1)
        corrected = mask.copy()
        if (point_labels == POSITIVE).any():
            corrected |= self.predict(image, points, point_labels, key)
        if (point_labels == NEGATIVE).any():
            corrected &= ~self.predict(image, points, 1 - point_labels, key)
        return corrected

    def clear_cache(self) -> None:
        with self._lock:
            self._predictors.clear()

    def _predictor(self, image: np.ndarray, key: Hashable) -> SAM2ImagePredictor:
        if key in self._predictors:
            self._predictors.move_to_end(key)
            return self._predictors[key]
        with warnings.catch_warnings():
            # sam2 scripts its image transforms with torch.jit, which torch now deprecates on every call.
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
            predictor = SAM2ImagePredictor(self.model)
            predictor.set_image(image)
        self._predictors[key] = predictor
        if len(self._predictors) > self.cache_size:
            self._predictors.popitem(last=False)
        return predictor
