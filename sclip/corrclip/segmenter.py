"""CorrCLIP dense segmentation: build once per model pair, call per image, vocabulary and region map.

Same calling interface as ``SCLIPSegmenter`` (``predict`` returns an ``SCLIPPrediction``; the text cache, crop
classification and the last-result cache are SCLIP's), plus the image's region map as a keyword argument.
"""
from __future__ import annotations

import hashlib
import os
import time
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import RegionMapError
from ..model import LoadedCLIP, load_clip
from ..postprocess import PostprocessSettings, postprocess, upsampled_rows
from ..segmenter import SCLIPPrediction, SCLIPSegmenter
from ..vocabulary import Vocabulary
from ..windows import preprocess, window_boxes
from .dino import LoadedDINO, load_dino
from .model import CorrCLIPImageEncoder
from .regions import MASK_PAD_VALUE, map_correction, nearest_indices
from .settings import DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED, PAD_MULTIPLE, CorrCLIPSettings


def padding(size: int, multiple: int = PAD_MULTIPLE) -> tuple[int, int]:
    """(before, after) padding of one side up to a multiple; the odd pixel goes after."""
    total = -size % multiple
    return total // 2, total - total // 2


def pad_window(image: torch.Tensor, regions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """Pad a window to multiples of 56: the image with 0 (CLIP's mean colour once normalised), the region map
    with MASK_PAD_VALUE (the border becomes a region of its own). (1, 3, h, w), (h, w) -> padded, (top, left).

    Only windows of images smaller than the crop need it: 336 and 224 are multiples of 56 already.
    """
    (top, bottom), (left, right) = padding(image.shape[-2]), padding(image.shape[-1])
    image = F.pad(image, (left, right, top, bottom), value=0.0)
    padded = torch.full(image.shape[-2:], MASK_PAD_VALUE, dtype=regions.dtype, device=regions.device)
    padded[top : top + regions.shape[0], left : left + regions.shape[1]] = regions
    return image, padded, (top, left)


class CorrCLIPSegmenter(SCLIPSegmenter):
    """Holds CLIP, DINO, the CorrCLIP image encoder and SCLIP's text-embedding cache."""

    def __init__(
        self,
        clip: LoadedCLIP,
        dino: LoadedDINO,
        cache_dir: str | os.PathLike | None = None,
        progress: bool = True,
    ):
        super().__init__(clip, cache_dir=cache_dir, progress=progress)
        self.dino = dino
        self.encoder = CorrCLIPImageEncoder(clip.model, dino.model)

    @classmethod
    def from_pretrained(
        cls,
        model_name: str = DEFAULT_CLIP_MODEL,
        weights: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        pretrained: str = DEFAULT_CLIP_PRETRAINED,
        dino_weights: str | os.PathLike | None = None,
        **kwargs,
    ) -> "CorrCLIPSegmenter":
        """CLIP from open_clip (``model_name`` + ``pretrained`` tag) or an OpenAI-format file (``weights``), and
        DINO ViT-B/8 from the hub or a DINO-format file (``dino_weights``)."""
        clip = load_clip(model_name, weights, device=device, dtype=dtype, pretrained=pretrained)
        return cls(clip, load_dino(dino_weights, device=device, dtype=dtype), **kwargs)

    @property
    def feature_layers(self) -> list[int]:
        return []  # CorrCLIP fixes its layers (spatial_block_indices); nothing to choose

    @torch.inference_mode()
    def window_logits(
        self, image: np.ndarray, vocabulary: Vocabulary, settings: CorrCLIPSettings, region_map: np.ndarray
    ) -> torch.Tensor:
        """Averaged sliding-window cosine logits at the resized scale, (Q, h, w); the last result is reused."""
        key = (
            _digest(image), image.shape, _digest(region_map), region_map.dtype.str, tuple(vocabulary.names),
            settings.short_side, settings.slide_crop, settings.slide_stride,
        )
        if self._last_logits is not None and self._last_logits[0] == key:
            return self._last_logits[1]
        classifier = self.classifier(vocabulary)  # (Q, D)
        resized = preprocess(image, settings.short_side)  # (1, 3, h, w)
        height, width = resized.shape[-2:]
        # gathered from the full-size map without copying it: a 12-MP map stays as the caller holds it
        rows, cols = nearest_indices(region_map.shape[0], height), nearest_indices(region_map.shape[1], width)
        regions = torch.from_numpy(region_map[np.ix_(rows.numpy(), cols.numpy())].astype(np.int64))  # (h, w)
        canvas = torch.zeros(classifier.shape[0], height, width, device=self.device)  # (Q, h, w)
        counts = torch.zeros(1, height, width, device=self.device)
        for y1, y2, x1, x2 in window_boxes(height, width, settings.slide_crop, settings.slide_stride):
            crop, crop_regions, (top, left) = pad_window(resized[:, :, y1:y2, x1:x2], regions[y1:y2, x1:x2])
            features = self.encoder(crop.to(self.device), crop_regions.to(self.device))  # (f_h, f_w, D)
            logits = (features @ classifier.T).permute(2, 0, 1)[None]  # (1, Q, f_h, f_w)
            logits = F.interpolate(logits, size=crop.shape[-2:], mode="bilinear", align_corners=False)[0]
            canvas[:, y1:y2, x1:x2] += logits[:, top : top + y2 - y1, left : left + x2 - x1]
            counts[:, y1:y2, x1:x2] += 1
        logits = canvas.div_(counts)
        self._last_logits = (key, logits)
        return logits

    @torch.inference_mode()
    def predict(
        self,
        image: np.ndarray,
        vocabulary: Vocabulary,
        settings: CorrCLIPSettings = CorrCLIPSettings(),
        return_probs: bool = False,
        probs_for: Sequence[int] | None = None,
        *,
        region_map: np.ndarray,
    ) -> SCLIPPrediction:
        """Segment an RGB uint8 (H, W, 3) image into the vocabulary's classes.

        ``region_map`` is the image's (H, W) integer region map (0 = unsegmented; see ``region_map_from_masks``).
        Probabilities are per class, the max over each class's own names; labels get ``prob_thd`` and then Map
        Correction. ``return_probs`` / ``probs_for`` as for SCLIP.
        """
        height, width = image.shape[:2]
        region_map = np.asarray(region_map)
        if region_map.shape != (height, width) or not np.issubdtype(region_map.dtype, np.integer):
            raise RegionMapError(
                f"the region map must be an integer array of the image's size {height}x{width}, "
                f"got {region_map.dtype} {'x'.join(map(str, region_map.shape))}"
            )
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
        logits = self.window_logits(image, vocabulary, settings, region_map)
        timings["windows"] = time.perf_counter() - start

        start = time.perf_counter()
        probs = np.empty((len(vocabulary), height, width), dtype=np.float16) if return_probs else None
        target_probs = np.empty((len(targets), height, width), dtype=np.float16) if targets is not None else None
        labels = postprocess(
            upsampled_rows(logits, height, width), height, width, vocabulary.names_per_class,
            PostprocessSettings(settings.logit_scale, settings.prob_thd, None), probs_out=probs,
            selected_probs_out=None if targets is None else (targets, target_probs),
        )
        timings["postprocess"] = time.perf_counter() - start
        start = time.perf_counter()
        labels = map_correction(labels, region_map, len(vocabulary))
        timings["map_correction"] = time.perf_counter() - start
        class_pixels = np.bincount(labels.ravel(), minlength=len(vocabulary)).tolist()
        return SCLIPPrediction(
            labels=labels, probs=probs, class_pixels=class_pixels, timings=timings, target_probs=target_probs
        )


def _digest(array: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(array).data, digest_size=16).hexdigest()
