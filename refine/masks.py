"""Automatic SAM2 mask proposals for a whole image, cached per image.

Wraps ``sam2.automatic_mask_generator.SAM2AutomaticMaskGenerator``: a grid of point prompts is decoded
into masks that are filtered by predicted IoU and stability and de-duplicated by box NMS. The image
encoder runs once per image; the mask decoder runs once per batch of points, so the number of grid
points (``points_per_side ** 2``) sets the cost on CPU. Photos larger than ``sam_max_side`` are shrunk
for SAM2 and their masks kept at that working size (see ``SAM2Masks``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import warnings
from collections import OrderedDict
from collections.abc import Hashable, Iterator

import cv2
import numpy as np
import torch
from pycocotools import mask as mask_utils
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.modeling.sam2_base import SAM2Base
from sam2.utils.amg import MaskData

from .errors import SAM2SettingsError
from .sam2_masks import SAM2Masks
from .settings import MaskGeneratorSettings

logger = logging.getLogger(__name__)

_REDUCED_DTYPES = (torch.bfloat16, torch.float16)


class SAM2MaskSource:
    """Generates SAM2 masks for images, keeping the last few results so repeated prompts are free.

    Build it once per model; call ``generate`` per image. Results are cached by a caller-provided key
    (e.g. the image path) or, without one, by a digest of the pixels.

    ``dtype`` is the precision the caller chose. float32 runs without autocast (and without TF32 on
    CUDA); bfloat16 or float16 run the float32 weights under autocast, as Meta runs SAM2, where the
    device supports it, and in float32 with a warning where it does not.
    """

    def __init__(
        self,
        model: SAM2Base,
        settings: MaskGeneratorSettings | None = None,
        cache_size: int = 4,
        dtype: torch.dtype = torch.float32,
        progress: bool = False,
    ) -> None:
        if cache_size < 1:
            raise SAM2SettingsError("cache_size", f"cache_size must be at least 1, got {cache_size}")
        if dtype != torch.float32 and dtype not in _REDUCED_DTYPES:
            raise SAM2SettingsError("dtype", f"SAM2 runs in float32, bfloat16 or float16, not {dtype}")
        self.model = model  # shared with other SAM2 front ends (point prompts), never copied
        self.progress = progress
        self.device = next(model.parameters()).device
        self.dtype = dtype if dtype == torch.float32 or _autocast_supported(self.device, dtype) else torch.float32
        if self.dtype != dtype:
            logger.warning("%s is not supported on %s; SAM2 runs in float32", dtype, self.device)
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
        # sam2's predictor hard-codes the feature-map sizes of a 1024 px model (strides 4, 8 and 16).
        side = model.image_size // 4
        self._generator.predictor._bb_feat_sizes = [(side, side), (side // 2, side // 2), (side // 4, side // 4)]

    def generate(self, image: np.ndarray, key: Hashable | None = None) -> SAM2Masks:
        """Masks for an RGB uint8 image of shape (H, W, 3); an empty set when SAM2 finds nothing."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
        cache_key = key if key is not None else _digest(image)
        if cache_key in self._cache:
            self._cache.move_to_end(cache_key)
            return self._cache[cache_key]

        started = time.perf_counter()
        working = _shrink(image, self.settings.sam_max_side)
        with torch.inference_mode(), self._precision(), _batch_progress(self.progress):
            records = self._generator.generate(working)
        result = self._to_masks(records, image.shape[:2], working.shape[:2])
        logger.debug(
            "SAM2 made %d masks for a %dx%d image (worked at %dx%d) in %.1f s",
            len(result),
            image.shape[1],
            image.shape[0],
            working.shape[1],
            working.shape[0],
            time.perf_counter() - started,
        )

        self._cache[cache_key] = result
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def clear_cache(self) -> None:
        self._cache.clear()

    def _precision(self) -> contextlib.AbstractContextManager:
        if self.dtype != torch.float32:
            return torch.autocast(self.device.type, dtype=self.dtype)
        if self.device.type == "cuda":
            return _without_tf32()
        return contextlib.nullcontext()

    def _to_masks(self, records: list[dict], image_size: tuple[int, int], working_size: tuple[int, int]) -> SAM2Masks:
        data = MaskData(
            rles=[record["segmentation"] for record in records],
            boxes=torch.tensor([_xywh_to_xyxy(record["bbox"]) for record in records]).reshape(-1, 4),
            scores=torch.tensor([record["predicted_iou"] for record in records], dtype=torch.float32),
            stability=torch.tensor([record["stability_score"] for record in records], dtype=torch.float32),
        )
        # The area is set in pixels of the photo; SAM2's masks are at the working size.
        shrink = (working_size[0] * working_size[1]) / (image_size[0] * image_size[1])
        min_area = round(self.settings.min_mask_region_area * shrink)
        if min_area > 0:
            # sam2's generate() never runs this OpenCV clean-up itself, unlike SAM's.
            data = SAM2AutomaticMaskGenerator.postprocess_small_regions(
                data, min_area, max(self._generator.box_nms_thresh, self._generator.crop_nms_thresh)
            )
        height, width = working_size
        result = SAM2Masks(
            rles=tuple(mask_utils.frPyObjects(rle, height, width) for rle in data["rles"]),
            scores=data["scores"].numpy(),
            stability=data["stability"].numpy(),
            image_size=image_size,
            working_size=working_size,
        )
        for array in (result.scores, result.stability):
            array.flags.writeable = False
        return result


def _autocast_supported(device: torch.device, dtype: torch.dtype) -> bool:
    if not torch.amp.is_autocast_available(device.type):
        return False
    return not (device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported())


@contextlib.contextmanager
def _without_tf32() -> Iterator[None]:
    # TF32 keeps only 10 mantissa bits; float32 is meant to be float32.
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return image
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


@contextlib.contextmanager
def _batch_progress(enabled: bool):
    """A labelled bar over the generator's point batches: minutes on a CPU, otherwise silent.

    sam2 offers no progress callback; its module looks ``batch_iterator`` up on every call, so the
    batches of the point grid are counted by wrapping that function for the length of one call.
    """
    if not enabled:
        yield
        return
    import sam2.automatic_mask_generator as amg
    from tqdm.auto import tqdm

    plain = amg.batch_iterator

    def counted(batch_size, *args):
        total = -(-len(args[0]) // batch_size)
        yield from tqdm(plain(batch_size, *args), total=total, desc="SAM2 point batches", unit="batch", leave=False)

    amg.batch_iterator = counted
    try:
        yield
    finally:
        amg.batch_iterator = plain


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
