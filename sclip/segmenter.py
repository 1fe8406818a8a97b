"""SCLIP dense segmentation: build once per model, call per image and vocabulary."""
from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .model import CSAImageEncoder, LoadedCLIP, encode_image_global, load_clip
from .pamr import pamr
from .postprocess import PostprocessSettings, class_probabilities, full_rows, postprocess, upsampled_rows
from .text import TextClassifier
from .vocabulary import Vocabulary
from .windows import PIXEL_MEAN, PIXEL_STD, preprocess, slide_inference

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SCLIPSettings:
    """Inference settings; defaults are SCLIP's generic ones (presets override some)."""

    short_side: int = 336
    slide_crop: int = 224
    slide_stride: int = 112
    logit_scale: float = 40.0
    prob_thd: float = 0.0
    area_thd: float | None = None
    pamr_steps: int = 0
    window_batch: int = 16

    def __post_init__(self):
        if self.short_side < 1 or self.slide_crop < 1 or self.slide_stride < 1 or self.window_batch < 1:
            raise ValueError("short side, slide crop, slide stride and window batch must be positive")
        if self.pamr_steps < 0:
            raise ValueError("PAMR steps must be >= 0")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class SCLIPPrediction:
    """Per-pixel result at the original image size."""

    labels: np.ndarray  # (H, W) int32 class indices in vocabulary order
    probs: np.ndarray | None  # (C, H, W) float16 per-class probability before thresholds, when asked for
    class_pixels: list[int]  # pixel count of each class in ``labels``
    timings: dict[str, float] = field(default_factory=dict)

    def mask(self, class_index: int) -> np.ndarray:
        return self.labels == class_index


class SCLIPSegmenter:
    """Holds the CLIP model, its CSA image encoder and the text-embedding cache."""

    def __init__(
        self,
        clip: LoadedCLIP,
        feature_layers: Sequence[int] | None = None,
        cache_dir: str | os.PathLike | None = None,
        progress: bool = True,
    ):
        self.clip = clip
        self.encoder = CSAImageEncoder(clip.model, feature_layers)
        self.text = TextClassifier(clip.model, clip.weights_id, cache_dir=cache_dir, progress=progress)
        self.device = clip.model.visual.conv1.weight.device
        self._last_logits: tuple[tuple, torch.Tensor] | None = None

    @classmethod
    def from_pretrained(
        cls,
        model_name: str,
        weights: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        **kwargs,
    ) -> "SCLIPSegmenter":
        return cls(load_clip(model_name, weights, device=device, dtype=dtype), **kwargs)

    @property
    def feature_layers(self) -> list[int]:
        return self.encoder.feature_layers

    def classifier(self, vocabulary: Vocabulary) -> torch.Tensor:
        """(num_names, E) unit text embeddings for every name of the vocabulary."""
        return self.text(vocabulary.names)

    @torch.inference_mode()
    def window_logits(self, image: np.ndarray, vocabulary: Vocabulary, settings: SCLIPSettings) -> torch.Tensor:
        """Averaged sliding-window logits at the resized scale, (Q, h, w); the last result is reused."""
        key = (
            hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).hexdigest(),
            image.shape,
            tuple(vocabulary.names),
            settings.short_side,
            settings.slide_crop,
            settings.slide_stride,
        )
        if self._last_logits is not None and self._last_logits[0] == key:
            return self._last_logits[1]
        classifier = self.classifier(vocabulary)
        resized = preprocess(image, settings.short_side)
        logits = slide_inference(
            resized, self.encoder, classifier, settings.slide_crop, settings.slide_stride, settings.window_batch,
            self.encoder.patch_size,
        )
        self._last_logits = (key, logits)
        return logits

    @torch.inference_mode()
    def predict(
        self,
        image: np.ndarray,
        vocabulary: Vocabulary,
        settings: SCLIPSettings = SCLIPSettings(),
        return_probs: bool = False,
    ) -> SCLIPPrediction:
        """Segment an RGB uint8 (H, W, 3) image into the vocabulary's classes."""
        height, width = image.shape[:2]
        timings = {}
        start = time.perf_counter()
        self.classifier(vocabulary)
        timings["text"] = time.perf_counter() - start

        start = time.perf_counter()
        logits = self.window_logits(image, vocabulary, settings)
        timings["windows"] = time.perf_counter() - start

        start = time.perf_counter()
        if settings.pamr_steps > 0:
            # PAMR needs neighbours at full resolution, so it works on full-size logits.
            full = F.interpolate(logits[None], size=(height, width), mode="bilinear", align_corners=False)
            guide = F.interpolate(
                preprocess(image, settings.short_side).to(self.device), size=(height, width), mode="bilinear",
                align_corners=False,
            )
            rows = full_rows(pamr(guide, full, settings.pamr_steps)[0])
        else:
            rows = upsampled_rows(logits, height, width)
        probs = np.empty((len(vocabulary), height, width), dtype=np.float16) if return_probs else None
        post = PostprocessSettings(settings.logit_scale, settings.prob_thd, settings.area_thd)
        labels = postprocess(rows, height, width, vocabulary.names_per_class, post, probs_out=probs)
        timings["postprocess"] = time.perf_counter() - start
        class_pixels = np.bincount(labels.ravel(), minlength=len(vocabulary)).tolist()
        return SCLIPPrediction(labels=labels, probs=probs, class_pixels=class_pixels, timings=timings)

    @torch.inference_mode()
    def classify_crops(self, crops: np.ndarray, vocabulary: Vocabulary, logit_scale: float) -> np.ndarray:
        """Plain-CLIP class probabilities of square crops. uint8 (M, S, S, 3) -> (M, C) float32."""
        if len(crops) == 0:
            return np.zeros((0, len(vocabulary)), dtype=np.float32)
        mean = torch.tensor(PIXEL_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(PIXEL_STD, device=self.device).view(1, 3, 1, 1)
        classifier = self.classifier(vocabulary)
        features = []
        for start in range(0, len(crops), 32):
            batch = torch.from_numpy(crops[start : start + 32]).to(self.device).permute(0, 3, 1, 2).float()
            features.append(encode_image_global(self.clip.model, (batch - mean) / std))
        logits = classifier @ torch.cat(features).T  # (Q, M)
        return class_probabilities(logits, vocabulary.names_per_class, logit_scale).T.cpu().numpy()

    @property
    def input_size(self) -> int:
        """Side of the square input the plain CLIP image tower was trained on."""
        return self.clip.model.visual.image_size[0]
