"""Automatic SAM2 mask proposals for a whole image, cached per image.

Wraps ``sam2.automatic_mask_generator.SAM2AutomaticMaskGenerator``: a grid of point prompts is decoded
into masks that are filtered by predicted IoU and stability and de-duplicated by box NMS. The image
encoder runs once per image; the mask decoder runs once per batch of points, so the number of grid
points (``points_per_side ** 2``) sets the cost on CPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import warnings
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace

import numpy as np
import torch
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.modeling.sam2_base import SAM2Base
from sam2.utils.amg import MaskData, rle_to_mask

logger = logging.getLogger(__name__)

_CPU_POINTS_PER_BATCH = 64
_CUDA_POINTS_PER_BATCH = 256


@dataclass(frozen=True)
class MaskGeneratorSettings:
    """Settings of SAM2's automatic mask generator.

    The defaults are the reference system's (32x32 points, IoU 0.88, stability 0.95; sam2's own
    defaults otherwise). ``points_per_batch=None`` picks 64 on CPU and 256 on CUDA: bigger batches
    only pay off when a GPU runs them in parallel. ``min_mask_region_area > 0`` removes islands and
    fills holes smaller than that many pixels (with OpenCV, as SAM does).
    """

    points_per_side: int = 32
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    points_per_batch: int | None = None
    crop_n_layers: int = 0
    min_mask_region_area: int = 0

    def __post_init__(self) -> None:
        if self.points_per_side < 1:
            raise ValueError(f"points_per_side must be at least 1, got {self.points_per_side}")
        if self.points_per_batch is not None and self.points_per_batch < 1:
            raise ValueError(f"points_per_batch must be at least 1 or None, got {self.points_per_batch}")
        for name in ("pred_iou_thresh", "stability_score_thresh"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        if self.crop_n_layers < 0 or self.min_mask_region_area < 0:
            raise ValueError("crop_n_layers and min_mask_region_area must not be negative")

    @classmethod
    def fast(cls) -> MaskGeneratorSettings:
        """CPU preset: a 12x12 grid decodes 144 instead of 1024 point prompts.

        The mask decoder dominates the cost, so this is ~6.5x faster than 32x32 on CPU (Hiera-tiny,
        512x512 photo, 2 threads: 26 s against 172 s). It finds large and medium objects but misses
        small parts that no grid point lands on.
        """
        return cls(points_per_side=12)

    def with_points_per_batch_for(self, device: torch.device) -> MaskGeneratorSettings:
        """These settings with ``points_per_batch`` resolved for ``device``."""
        if self.points_per_batch is not None:
            return self
        default = _CUDA_POINTS_PER_BATCH if device.type == "cuda" else _CPU_POINTS_PER_BATCH
        return replace(self, points_per_batch=default)


@dataclass(frozen=True)
class SAM2Masks:
    """SAM2's masks for one image. Arrays are read-only because the same object is served from cache."""

    masks: np.ndarray  # (M, H, W) bool
    scores: np.ndarray  # (M,) float32, SAM2's predicted IoU
    stability: np.ndarray  # (M,) float32, stability score
    areas: np.ndarray  # (M,) int64, pixels per mask

    def __len__(self) -> int:
        return len(self.masks)


class SAM2MaskSource:
    """Generates SAM2 masks for images, keeping the last few results so repeated prompts are free.

    Build it once per model; call ``generate`` per image. Results are cached by a caller-provided key
    (e.g. the image path) or, without one, by a digest of the pixels.
    """

    def __init__(
        self,
        model: SAM2Base,
        settings: MaskGeneratorSettings | None = None,
        cache_size: int = 4,
    ) -> None:
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, got {cache_size}")
        self.model = model  # shared with other SAM2 front ends (point prompts), never copied
        self.device = next(model.parameters()).device
        self.settings = (settings or MaskGeneratorSettings()).with_points_per_batch_for(self.device)
        self.cache_size = cache_size
        self._cache: OrderedDict[Hashable, SAM2Masks] = OrderedDict()
        with warnings.catch_warnings():
            # sam2 scripts its image transforms with torch.jit, which torch now deprecates on every call.
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
            self._generator = SAM2AutomaticMaskGenerator(
                model,
                points_per_side=self.settings.points_per_side,
                points_per_batch=self.settings.points_per_batch,
                pred_iou_thresh=self.settings.pred_iou_thresh,
                stability_score_thresh=self.settings.stability_score_thresh,
                crop_n_layers=self.settings.crop_n_layers,
                # sam2 uses this area to fill holes in the low-resolution logits with its compiled `_C`
                # extension; without the extension it warns on every batch and skips the step.
                min_mask_region_area=self.settings.min_mask_region_area if _has_connected_components() else 0,
                output_mode="uncompressed_rle",
            )

    def generate(self, image: np.ndarray, key: Hashable | None = None) -> SAM2Masks:
        """Masks for an RGB uint8 image of shape (H, W, 3); (0, H, W) when SAM2 finds nothing."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
        cache_key = key if key is not None else _digest(image)
        if cache_key in self._cache:
            self._cache.move_to_end(cache_key)
            return self._cache[cache_key]

        started = time.perf_counter()
        with torch.inference_mode(), self._autocast():
            records = self._generator.generate(image)
        result = self._to_masks(records, image.shape[:2])
        logger.debug(
            "SAM2 made %d masks for a %dx%d image in %.1f s",
            len(result),
            image.shape[1],
            image.shape[0],
            time.perf_counter() - started,
        )

        self._cache[cache_key] = result
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def clear_cache(self) -> None:
        self._cache.clear()

    def _autocast(self) -> contextlib.AbstractContextManager:
        # Reduced precision only where it is fast and was validated by Meta: on CUDA.
        if self.device.type != "cuda":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    def _to_masks(self, records: list[dict], size: tuple[int, int]) -> SAM2Masks:
        data = MaskData(
            rles=[record["segmentation"] for record in records],
            boxes=torch.tensor([_xywh_to_xyxy(record["bbox"]) for record in records]).reshape(-1, 4),
            scores=torch.tensor([record["predicted_iou"] for record in records], dtype=torch.float32),
            stability=torch.tensor([record["stability_score"] for record in records], dtype=torch.float32),
        )
        if self.settings.min_mask_region_area > 0:
            # sam2's generate() never runs this OpenCV clean-up itself, unlike SAM's.
            data = SAM2AutomaticMaskGenerator.postprocess_small_regions(
                data,
                self.settings.min_mask_region_area,
                max(self._generator.box_nms_thresh, self._generator.crop_nms_thresh),
            )
        if data["rles"]:
            masks = np.stack([rle_to_mask(rle) for rle in data["rles"]])
        else:
            masks = np.zeros((0, *size), dtype=bool)
        result = SAM2Masks(
            masks=masks,
            scores=data["scores"].numpy(),
            stability=data["stability"].numpy(),
            areas=masks.sum(axis=(1, 2), dtype=np.int64),
        )
        for array in (result.masks, result.scores, result.stability, result.areas):
            array.flags.writeable = False
        return result


def _has_connected_components() -> bool:
    try:
        from sam2 import _C  # noqa: F401
    except ImportError:
        logger.debug("sam2 was built without its _C extension; small regions are cleaned with OpenCV instead")
        return False
    return True


def _digest(image: np.ndarray) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(repr(image.shape).encode())
    hasher.update(np.ascontiguousarray(image).data)
    return hasher.hexdigest()


def _xywh_to_xyxy(box: list[float]) -> list[float]:
    x, y, w, h = box
    return [x, y, x + w, y + h]
