"""SAM 3 concept segmentation of one image for several text phrases, bounded in memory at any image size.

The image is shrunk to the working size (``SAM3Settings.max_side``) and encoded once; each phrase then runs SAM 3's
text encoder, DETR detector and mask decoder on the cached image features. Instance masks stay at the working size;
only the per-phrase unions and the label map are made at the image's size, one instance at a time.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch

from .loading import LoadedSAM3, load_sam3
from .masks import upsample_mask, upsampled_block
from .settings import DEFAULT_SAM3_MODEL, SAM3Settings

logger = logging.getLogger(__name__)

# Post-processing upsamples each kept query's mask to the working size as float32 and then holds it as int64;
# queries go through it in groups that stay within this many bytes.
_POSTPROCESS_BUDGET_BYTES = 256 * 2**20
_POSTPROCESS_BYTES_PER_PIXEL = 4 + 8


@dataclass(frozen=True)
class SAM3Instance:
    """One detected instance of a phrase."""

    score: float  # SAM 3's query score times its presence score for the phrase, in [0, 1]
    box: tuple[float, float, float, float]  # SAM 3's predicted box (x0, y0, x1, y1) in image pixels
    mask: np.ndarray  # (h, w) bool at the working size, read-only
    area: int  # pixels of the mask at the image's size


@dataclass(frozen=True)
class PhraseResult:
    """The instances SAM 3 found for one phrase, best first, and their union at the image's size."""

    phrase: str
    instances: tuple[SAM3Instance, ...]
    mask: np.ndarray  # (H, W) bool, read-only

    @property
    def found(self) -> bool:
        return bool(self.instances)


@dataclass(frozen=True)
class SAM3Result:
    """Everything SAM 3 found in one image for the phrases asked for, in their order.

    ``labels`` is a label map for the phrases taken as a vocabulary whose class 0 (``phrases[0]``) is the
    background: each pixel holds the index of the phrase whose instance covering it scores highest, and 0 where no
    instance covers it.
    """

    phrases: tuple[PhraseResult, ...]
    labels: np.ndarray  # (H, W) int32, read-only
    image_size: tuple[int, int]  # (H, W)
    working_size: tuple[int, int]  # (h, w) at which SAM 3 ran and instance masks are kept
    settings: SAM3Settings
    timings: dict[str, float] = field(default_factory=dict)

    def phrase(self, text: str) -> PhraseResult:
        for result in self.phrases:
            if result.phrase == text:
                return result
        raise KeyError(text)

    def metadata(self) -> dict[str, Any]:
        """Everything but the masks, as JSON-ready values (for result.json)."""
        return {
            "image_size": list(self.image_size),
            "working_size": list(self.working_size),
            "settings": self.settings.to_json(),
            "phrases": [
                {
                    "phrase": phrase.phrase,
                    "pixels": int(np.count_nonzero(phrase.mask)),
                    "instances": [
                        {"score": instance.score, "box": list(instance.box), "area": instance.area}
                        for instance in phrase.instances
                    ],
                }
                for phrase in self.phrases
            ],
            "timings": dict(self.timings),
        }

    def instance_mask(self, phrase_index: int, instance_index: int) -> np.ndarray:
        """One instance's mask at the image's size, (H, W) bool, made on demand."""
        mask = self.phrases[phrase_index].instances[instance_index].mask
        return upsample_mask(mask, *self.image_size)


class SAM3Segmenter:
    """Holds a loaded SAM 3 and the image features of the last few images; call :meth:`segment` per image."""

    def __init__(self, sam3: LoadedSAM3, settings: SAM3Settings | None = None, cache_size: int = 2) -> None:
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, got {cache_size}")
        self.sam3 = sam3
        self.settings = settings or SAM3Settings()
        self.cache_size = cache_size
        self._vision: OrderedDict[Hashable, object] = OrderedDict()

    @classmethod
    def from_pretrained(
        cls,
        model: str = DEFAULT_SAM3_MODEL,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        settings: SAM3Settings | None = None,
        cache_size: int = 2,
    ) -> SAM3Segmenter:
        return cls(load_sam3(model, device=device, dtype=dtype), settings=settings, cache_size=cache_size)

    def segment(
        self,
        image: np.ndarray,
        phrases: Sequence[str],
        key: Hashable | None = None,
        settings: SAM3Settings | None = None,
    ) -> SAM3Result:
        """Instances, unions and label map of ``phrases`` in an RGB uint8 (H, W, 3) image.

        ``key`` names the image for the feature cache (a digest of the pixels otherwise); ``settings`` overrides the
        segmenter's for this call, so thresholds can change without encoding the image again.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
        if isinstance(phrases, str) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            raise ValueError(f"expected a non-empty list of non-empty phrases, got {phrases!r}")
        settings = settings or self.settings
        height, width = image.shape[:2]
        timings: dict[str, float] = {}

        started = time.perf_counter()
        working = _working_image(image, settings.max_side)
        working_size = working.shape[:2]
        with torch.inference_mode():
            vision = self._vision_features(working, key)
            timings["vision"] = time.perf_counter() - started
            started = time.perf_counter()
            detections = [self._detect(vision, phrase, working_size, settings) for phrase in phrases]
        timings["detect"] = time.perf_counter() - started

        started = time.perf_counter()
        phrase_results, labels = _to_image_size(phrases, detections, (height, width), working_size)
        timings["upsample"] = time.perf_counter() - started
        logger.debug(
            "SAM 3 on a %dx%d image (working %dx%d): %s",
            width,
            height,
            working_size[1],
            working_size[0],
            ", ".join(f"{r.phrase!r} {len(r.instances)}" for r in phrase_results),
        )
        return SAM3Result(
            phrases=phrase_results,
            labels=labels,
            image_size=(height, width),
            working_size=working_size,
            settings=settings,
            timings=timings,
        )

    def clear_cache(self) -> None:
        self._vision.clear()

    def _vision_features(self, working: np.ndarray, key: Hashable | None) -> object:
        name = key if key is not None else hashlib.blake2b(working.data, digest_size=16).hexdigest()
        cache_key = (name, working.shape)
        if cache_key in self._vision:
            self._vision.move_to_end(cache_key)
            return self._vision[cache_key]
        pixels = self.sam3.processor(images=working, return_tensors="pt").pixel_values
        features = self.sam3.model.get_vision_features(pixel_values=pixels.to(self.sam3.device, self.sam3.dtype))
        self._vision[cache_key] = features
        if len(self._vision) > self.cache_size:
            self._vision.popitem(last=False)
        return features

    def _tokenize(self, phrase: str):
        # Sam3Processor pads to the text encoder's length but does not truncate, so a long phrase would crash it.
        limit = self.sam3.model.config.text_config.max_position_embeddings
        tokenizer = self.sam3.processor.tokenizer
        if len(tokenizer(phrase).input_ids) > limit:
            logger.warning("phrase %r is longer than SAM 3's %d text tokens; only its beginning is used", phrase, limit)
        text = tokenizer(phrase, padding="max_length", max_length=limit, truncation=True, return_tensors="pt")
        return text.to(self.sam3.device)

    def _detect(
        self, vision: object, phrase: str, working_size: tuple[int, int], settings: SAM3Settings
    ) -> list[tuple[float, tuple[float, ...], np.ndarray]]:
        """(score, working-size box, working-size mask) of every instance above the thresholds, best first."""
        from transformers.models.sam3.modeling_sam3 import Sam3ImageSegmentationOutput

        text = self._tokenize(phrase)
        outputs = self.sam3.model(vision_embeds=vision, input_ids=text.input_ids, attention_mask=text.attention_mask)
        bytes_per_query = working_size[0] * working_size[1] * _POSTPROCESS_BYTES_PER_PIXEL
        per_group = max(1, _POSTPROCESS_BUDGET_BYTES // bytes_per_query)
        found = []
        for start in range(0, outputs.pred_logits.shape[1], per_group):
            queries = slice(start, start + per_group)
            group = Sam3ImageSegmentationOutput(
                pred_logits=outputs.pred_logits[:, queries].float(),
                pred_boxes=outputs.pred_boxes[:, queries].float(),
                pred_masks=outputs.pred_masks[:, queries].float(),
                presence_logits=None if outputs.presence_logits is None else outputs.presence_logits.float(),
            )
            (kept,) = self.sam3.processor.post_process_instance_segmentation(
                group,
                threshold=settings.threshold,
                mask_threshold=settings.mask_threshold,
                target_sizes=[working_size],
            )
            masks = kept["masks"].bool().cpu().numpy()
            for score, box, mask in zip(kept["scores"].tolist(), kept["boxes"].tolist(), masks):
                found.append((score, tuple(box), mask))
        found.sort(key=lambda item: -item[0])
        return found


def _working_image(image: np.ndarray, max_side: int) -> np.ndarray:
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return np.ascontiguousarray(image)
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _to_image_size(
    phrases: Sequence[str],
    detections: list[list[tuple[float, tuple[float, ...], np.ndarray]]],
    image_size: tuple[int, int],
    working_size: tuple[int, int],
) -> tuple[tuple[PhraseResult, ...], np.ndarray]:
    """Per-phrase unions and the label map at the image's size, upsampling each instance once."""
    height, width = image_size
    box_scale = np.array([width / working_size[1], height / working_size[0]] * 2)
    unions = [np.zeros(image_size, dtype=bool) for _ in phrases]
    labels = np.zeros(image_size, dtype=np.int32)
    # Painted from the lowest score up, so each pixel ends with the class of its best-scoring instance.
    order = sorted(
        (score, index, rank) for index, found in enumerate(detections) for rank, (score, _, _) in enumerate(found)
    )
    areas: dict[tuple[int, int], int] = {}
    for _, index, rank in order:
        block = upsampled_block(detections[index][rank][2], height, width)
        if block is None:
            areas[index, rank] = 0
            continue
        pixels, y0, x0 = block
        areas[index, rank] = int(np.count_nonzero(pixels))
        window = (slice(y0, y0 + pixels.shape[0]), slice(x0, x0 + pixels.shape[1]))
        unions[index][window] |= pixels
        np.copyto(labels[window], index, where=pixels)
    results = []
    for index, (phrase, found) in enumerate(zip(phrases, detections)):
        instances = []
        for rank, (score, box, mask) in enumerate(found):
            mask.flags.writeable = False
            instances.append(
                SAM3Instance(
                    score=float(score),
                    box=tuple(float(v) for v in np.asarray(box) * box_scale),
                    mask=mask,
                    area=areas[index, rank],
                )
            )
        unions[index].flags.writeable = False
        results.append(PhraseResult(phrase=phrase, instances=tuple(instances), mask=unions[index]))
    labels.flags.writeable = False
    return tuple(results), labels
