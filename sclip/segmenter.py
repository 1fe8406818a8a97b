"""SCLIP dense segmentation: build once per model, call per image and vocabulary."""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .model import CSAImageEncoder, LoadedCLIP, encode_image_global, load_clip
from .pamr import pamr
from .postprocess import PostprocessSettings, class_probabilities, full_rows, postprocess, upsampled_rows
from .settings import PIXEL_MEAN, PIXEL_STD, SCLIPSettings
from .text import TextClassifier
from .vocabulary import Vocabulary
from .windows import preprocess, slide_inference


# Crops per plain-CLIP forward pass: an image can have hundreds of SAM2 masks, so activations are
# bounded per batch while batches stay large enough to use the device well.
CROP_BATCH = 32


@dataclass
class SCLIPPrediction:
    """Per-pixel result at the original image size."""

    labels: np.ndarray  # (H, W) int32 class indices in vocabulary order
    probs: np.ndarray | None  # (C, H, W) float16 per-class probability before thresholds, when asked for
    class_pixels: list[int]  # pixel count of each class in ``labels``
    timings: dict[str, float] = field(default_factory=dict)
    # (T, H, W) float16 probabilities of the classes asked for with ``probs_for``, in that order
    target_probs: np.ndarray | None = None


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
        probs_for: Sequence[int] | None = None,
    ) -> SCLIPPrediction:
        """Segment an RGB uint8 (H, W, 3) image into the vocabulary's classes.

        ``return_probs`` keeps every class's full-size probability map (``probs``); ``probs_for``
        keeps only those of the listed class indices (``target_probs``), which is what per-target
        scores need without holding classes x pixels.
        """
        height, width = image.shape[:2]
        targets = None
        if probs_for is not None:
            targets = [int(index) for index in probs_for]
            if any(not 0 <= index < len(vocabulary) for index in targets):
                raise ValueError(f"probs_for {targets} names a class outside 0..{len(vocabulary) - 1}")
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
        target_probs = np.empty((len(targets), height, width), dtype=np.float16) if targets is not None else None
        post = PostprocessSettings(settings.logit_scale, settings.prob_thd, settings.area_thd)
        labels = postprocess(
            rows, height, width, vocabulary.names_per_class, post, probs_out=probs,
            selected_probs_out=None if targets is None else (targets, target_probs),
        )
        timings["postprocess"] = time.perf_counter() - start
        class_pixels = np.bincount(labels.ravel(), minlength=len(vocabulary)).tolist()
        return SCLIPPrediction(
            labels=labels, probs=probs, class_pixels=class_pixels, timings=timings, target_probs=target_probs
        )

    @torch.inference_mode()
    def classify_crops(self, crops: np.ndarray, vocabulary: Vocabulary) -> np.ndarray:
        """Plain-CLIP class probabilities of square crops. uint8 (M, S, S, 3) -> (M, C) float32.

        A crop is classified like a whole image, so the softmax uses CLIP's own learned temperature.
        """
        if len(crops) == 0:
            return np.zeros((0, len(vocabulary)), dtype=np.float32)
        mean = torch.tensor(PIXEL_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(PIXEL_STD, device=self.device).view(1, 3, 1, 1)
        classifier = self.classifier(vocabulary)
        features = []
        for start in range(0, len(crops), CROP_BATCH):
            batch = torch.from_numpy(crops[start : start + CROP_BATCH]).to(self.device).permute(0, 3, 1, 2).float()
            features.append(encode_image_global(self.clip.model, (batch - mean) / std))
        logits = classifier @ torch.cat(features).T  # (Q, M)
        logit_scale = float(self.clip.model.logit_scale.exp())
        return class_probabilities(logits, vocabulary.names_per_class, logit_scale).T.cpu().numpy()

    @property
    def input_size(self) -> int:
        """Side of the square input the plain CLIP image tower was trained on."""
        return self.clip.model.visual.image_size[0]
