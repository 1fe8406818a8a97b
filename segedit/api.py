"""Python API: build a ``Segmenter`` once, then segment and edit many images.

    from segedit import Segmenter
    segmenter = Segmenter(model="ViT-B-16", refine=False)
    result = segmenter.segment("street.jpg", "car", vocabulary=["road", "building", "sky"])
    result.targets["car"].mask          # (H, W) bool
    edited = segmenter.edit("street.jpg", result.targets["car"].mask, mode="remove", target="car",
                            inpainter="opencv")

Models load lazily: SAM2 on the first refinement, the inpainter on the first edit. Nothing happens
at import time and nothing is global; two ``Segmenter`` objects are independent.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

import inpaint
import refine
import sclip
from sclip import SCLIPSegmenter, SCLIPSettings, Vocabulary

from .devices import precision_name, resolve_device, resolve_dtype
from .images import as_rgb_array

logger = logging.getLogger(__name__)

_UNSET = object()


@dataclass(frozen=True)
class SAM2Options:
    """Which SAM2 to load (hub id, or a local checkpoint + config) and how to run its mask generator."""

    model: str = refine.DEFAULT_SAM2_MODEL
    checkpoint: str | None = None
    config: str | None = None
    generator: refine.MaskGeneratorSettings = field(default_factory=refine.MaskGeneratorSettings)


@dataclass
class TargetResult:
    """One prompt's mask in one image."""

    prompt: str
    class_index: int
    sclip_mask: np.ndarray  # (H, W) bool, Stage 1 argmax == class_index
    mask: np.ndarray  # (H, W) bool, refined when Stage 2 ran, else sclip_mask
    refinement: dict | None = None  # {"masks", "kept", "fallback", "min_coverage"} when Stage 2 ran

    @property
    def found(self) -> bool:
        return bool(self.mask.any())


@dataclass
class SegmentationResult:
    """Stage 1 (+ 2) result for one image and any number of prompts sharing one vocabulary."""

    vocabulary: Vocabulary
    labels: np.ndarray  # (H, W) int32, whole-map labels (refined with --refine-all-classes)
    probs: np.ndarray | None  # (C, H, W) float16 per-class probability before thresholds
    class_pixels: list[int]
    targets: dict[str, TargetResult]
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Instance:
    """One SAM2 mask that CLIP labels as the target (proposal approach)."""

    mask: np.ndarray  # (H, W) bool
    score: float
    class_index: int
    bbox: list[int]  # x, y, w, h
    area: int


@dataclass
class ProposalResult:
    vocabulary: Vocabulary
    target: str
    class_index: int
    instances: list[Instance]
    mask: np.ndarray  # (H, W) bool, union of instances
    similarity: np.ndarray  # (H, W) float32, best target score of the masks covering each pixel
    proposals: int  # SAM2 masks scored
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.mask.any())


def build_vocabulary(prompts: Sequence[str], vocabulary=None, preset: str | None = None) -> Vocabulary:
    """The vocabulary for some prompts: a preset, explicit class lines, or background + prompts.

    Every prompt that no class names is appended as a class of its own.
    """
    prompts = [prompt.strip() for prompt in prompts]
    if not prompts or any(not prompt for prompt in prompts):
        raise ValueError("the prompt is empty; pass the object to find, e.g. --prompt car")
    if preset is not None:
        base = sclip.load_preset(preset).vocabulary
    elif isinstance(vocabulary, Vocabulary):
        base = vocabulary
    elif vocabulary:
        base = Vocabulary.from_lines(vocabulary)
    else:
        base = Vocabulary.from_lines([", ".join(sclip.BACKGROUND_NAMES)])
    missing = [(prompt,) for prompt in dict.fromkeys(prompts) if base.find(prompt) is None]
    return Vocabulary(base.classes + tuple(missing))


class Segmenter:
    """SCLIP (+ SAM2) segmentation and inpainting behind one object."""

    def __init__(
        self,
        model: str = sclip.DEFAULT_MODEL,
        clip_weights: str | os.PathLike | None = None,
        device: str = "auto",
        precision: str = "auto",
        feature_layers: Sequence[int] | None = None,
        cache_dir: str | os.PathLike | None = _UNSET,  # type: ignore[assignment]
        sam2: SAM2Options | None = None,
        progress: bool = False,
    ):
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(precision, self.device)
        self.progress = progress
        self.sam2_options = sam2 or SAM2Options()
        started = time.perf_counter()
        self.sclip = SCLIPSegmenter.from_pretrained(
            model,
            clip_weights,
            device=self.device,
            dtype=self.dtype,
            feature_layers=feature_layers,
            cache_dir=sclip.default_cache_dir() if cache_dir is _UNSET else cache_dir,
            progress=progress,
        )
        self.load_seconds = {"clip": time.perf_counter() - started}
        self._mask_source: refine.SAM2MaskSource | None = None
        self._inpainters: dict[tuple, object] = {}

    def describe(self) -> dict:
        """Model identity for result.json."""
        return {
            "clip": self.sclip.clip.name,
            "clip_weights": self.sclip.clip.weights_id,
            "feature_layers": self.sclip.feature_layers,
            "device": str(self.device),
            "precision": precision_name(self.dtype),
        }

    # ---- Stage 2 -----------------------------------------------------------------------------
    @property
    def mask_source(self) -> refine.SAM2MaskSource:
        if self._mask_source is None:
            started = time.perf_counter()
            options = self.sam2_options
            model = refine.load_sam2(options.model, options.checkpoint, options.config, device=self.device)
            self._mask_source = refine.SAM2MaskSource(model, options.generator)
            self.load_seconds["sam2"] = time.perf_counter() - started
        return self._mask_source

    def sam2_masks(self, image: np.ndarray, key=None) -> refine.SAM2Masks:
        return self.mask_source.generate(image, key=key)

    # ---- Stage 1 (+2) ------------------------------------------------------------------------
    def segment(
        self,
        image,
        prompts: str | Sequence[str],
        vocabulary=None,
        preset: str | None = None,
        settings: SCLIPSettings | None = None,
        refine_masks: bool = True,
        min_coverage: float = 0.6,
        refine_all_classes: bool = False,
        return_probs: bool = False,
        image_key=None,
    ) -> SegmentationResult:
        """Segment ``image`` (path, PIL image or RGB uint8 array) for one or more prompts."""
        rgb = as_rgb_array(image)
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        vocab = build_vocabulary(prompts, vocabulary, preset)
        if settings is None:
            settings = preset_settings(preset) if preset else SCLIPSettings()
        prediction = self.sclip.predict(rgb, vocab, settings, return_probs=return_probs)
        timings = {f"sclip_{name}": seconds for name, seconds in prediction.timings.items()}
        labels = prediction.labels

        needs_sam = refine_masks or refine_all_classes
        sam_masks = None
        if needs_sam:
            started = time.perf_counter()
            sam_masks = self.sam2_masks(rgb, key=image_key)
            timings["sam2"] = time.perf_counter() - started

        targets = {}
        for prompt in dict.fromkeys(prompts):
            index = vocab.find(prompt)
            sclip_mask = prediction.labels == index
            mask, info = sclip_mask, None
            if refine_masks:
                vote = refine.majority_vote(sclip_mask, sam_masks.masks, min_coverage)
                mask = vote.mask
                info = {"masks": vote.total, "kept": vote.kept, "fallback": vote.fallback, "min_coverage": min_coverage}
                if vote.fallback and sclip_mask.any():
                    logger.warning(
                        "no SAM2 mask lies >= %.0f%% on '%s'; keeping the SCLIP mask", 100 * min_coverage, prompt
                    )
            targets[prompt] = TargetResult(prompt, index, sclip_mask, mask, info)

        if refine_all_classes:
            started = time.perf_counter()
            labels = refine.refine_label_map(labels, sam_masks.masks)
            timings["refine_all_classes"] = time.perf_counter() - started
        class_pixels = np.bincount(labels.ravel(), minlength=len(vocab)).tolist()
        return SegmentationResult(vocab, labels, prediction.probs, class_pixels, targets, timings)

    # ---- Proposal approach (main.py) ---------------------------------------------------------
    def propose(
        self, image, prompt: str, vocabulary=None, top_k: int = 5, image_key=None
    ) -> ProposalResult:
        """SAM2 masks classified as wholes by plain CLIP; the top-k target instances."""
        rgb = as_rgb_array(image)
        vocab = build_vocabulary([prompt], vocabulary)
        target = vocab.find(prompt)
        timings = {}
        started = time.perf_counter()
        sam_masks = self.sam2_masks(rgb, key=image_key)
        timings["sam2"] = time.perf_counter() - started

        started = time.perf_counter()
        probs = self._classify_masks(rgb, sam_masks, vocab)
        selection = refine.score_proposals(probs, target, top_k)
        timings["clip_crops"] = time.perf_counter() - started

        height, width = rgb.shape[:2]
        union = np.zeros((height, width), dtype=bool)
        similarity = np.zeros((height, width), dtype=np.float32)
        for mask, score in zip(sam_masks.masks, probs[:, target]):
            np.maximum(similarity, np.where(mask, np.float32(score), 0), out=similarity)
        instances = []
        for index, score in zip(selection.indices, selection.scores):
            mask = np.array(sam_masks.masks[index])
            union |= mask
            instances.append(Instance(mask, float(score), target, refine.mask_bbox(mask), int(mask.sum())))
        return ProposalResult(vocab, prompt, target, instances, union, similarity, len(sam_masks), timings)

    # ---- Whole label maps (evaluation) ------------------------------------------------------
    def predict_labels(
        self, image, vocabulary: Vocabulary, settings: SCLIPSettings, method: str = "sclip", image_key=None
    ) -> np.ndarray:
        """(H, W) class indices over the whole vocabulary by one of the three methods.

        ``sclip``: Stage 1 alone (the official SCLIP protocol). ``sclip+sam2``: each SAM2 mask then
        takes the majority class of its pixels. ``proposals``: each SAM2 mask gets the class CLIP
        gives its crop, larger masks painted first so smaller ones stay on top; pixels outside
        every mask are class 0.
        """
        rgb = as_rgb_array(image)
        if method == "proposals":
            masks = self.sam2_masks(rgb, key=image_key)
            classes = self._classify_masks(rgb, masks, vocabulary).argmax(axis=1)
            labels = np.zeros(rgb.shape[:2], dtype=np.int32)
            for index in np.argsort(-masks.areas, kind="stable"):
                labels[masks.masks[index]] = classes[index]
            return labels
        labels = self.sclip.predict(rgb, vocabulary, settings).labels
        if method == "sclip+sam2":
            labels = refine.refine_label_map(labels, self.sam2_masks(rgb, key=image_key).masks)
        elif method != "sclip":
            raise ValueError(f"unknown method '{method}'; choose sclip, sclip+sam2 or proposals")
        return labels

    def _classify_masks(self, rgb: np.ndarray, masks: refine.SAM2Masks, vocabulary: Vocabulary) -> np.ndarray:
        """(M, C) class probabilities of each SAM2 mask's crop under plain CLIP."""
        crops = refine.square_crops(rgb, masks.masks, self.sclip.input_size, _mean_rgb())
        # CLIP's own learned temperature: a crop is classified like a whole image
        logit_scale = float(self.sclip.clip.model.logit_scale.exp())
        return self.sclip.classify_crops(crops, vocabulary, logit_scale)

    # ---- Stage 3 -----------------------------------------------------------------------------
    def inpainter(self, kind: str = "diffusion", model: str | None = None, scheduler: str | None = None,
                  low_vram: bool = False):
        key = (kind, model, scheduler, low_vram)
        if key not in self._inpainters:
            if kind == "opencv":
                self._inpainters[key] = inpaint.OpenCVRemover()
            elif kind == "diffusion":
                self._inpainters[key] = inpaint.DiffusionInpainter(
                    model=model or inpaint.DEFAULT_INPAINT_MODEL,
                    device=self.device,
                    scheduler=scheduler,
                    low_vram=low_vram,
                    progress=self.progress,
                )
            else:
                raise ValueError(f"unknown inpainter '{kind}'; choose diffusion or opencv")
        return self._inpainters[key]

    def edit(
        self,
        image,
        mask: np.ndarray,
        mode: str,
        target: str,
        edit: str | None = None,
        inpainter: str = "diffusion",
        inpaint_model: str | None = None,
        settings: "inpaint.InpaintSettings | None" = None,
    ):
        """Remove, replace or restyle the masked region; returns ``inpaint.EditResult``."""
        rgb = as_rgb_array(image)
        settings = settings or inpaint.InpaintSettings()
        worker = self.inpainter(inpainter, inpaint_model, settings.scheduler, settings.low_vram)
        return worker.edit(rgb, mask, mode, target, edit, settings)


def preset_settings(name: str, **overrides) -> SCLIPSettings:
    preset = sclip.load_preset(name)
    values = dict(
        short_side=preset.short_side, logit_scale=preset.logit_scale, prob_thd=preset.prob_thd,
        area_thd=preset.area_thd,
    )
    values.update({key: value for key, value in overrides.items() if value is not None})
    return SCLIPSettings(**values)


def _mean_rgb() -> tuple[int, int, int]:
    return tuple(int(round(value)) for value in sclip.PIXEL_MEAN)
