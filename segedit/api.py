"""Python API: build a ``Segmenter`` once, then segment and edit many images.

    from segedit import Segmenter
    segmenter = Segmenter(model="ViT-B-16")
    result = segmenter.segment("street.jpg", "car", vocabulary=["road", "building", "sky"])
    result.targets["car"].mask          # (H, W) bool at the input's size
    edited = segmenter.edit("street.jpg", result.targets["car"].mask, mode="remove", target="car",
                            inpainter="opencv")

Models load lazily: CLIP on the first SCLIP or proposal call, SAM2 on the first refinement, SAM 3 on the
first ``concept`` call, the inpainter on the first edit. Nothing happens
at import time and nothing is global; two ``Segmenter`` objects are independent. Every result is at
the size of the image passed in, also when ``max_side`` asks for a downscaled computation.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

import inpaint
import refine
import sam3seg
import sclip
from sclip import SCLIPSettings, Vocabulary

from .devices import Precision, resolve_device
from .images import as_rgb_array
from .options import ModelOptions, RefineOptions, RunOptions, SAM2Options, SAM3Options, default
from .resize import downscale, resize_labels, resize_scores

logger = logging.getLogger(__name__)

_UNSET = object()
_REFINE = RefineOptions()
_TOP_K = default(RunOptions, "top_k")
# What Segmenter.load can load; "inpaint" is the inpainter its arguments name.
MODELS = ("clip", "sam2", "sam3", "inpaint")


@dataclass
class Instance:
    """One object mask that an approach labels as the target (proposals, SAM 3)."""

    mask: np.ndarray  # (H, W) bool
    score: float
    class_index: int

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    @property
    def bbox(self) -> list[int]:
        return refine.mask_bbox(self.mask)


@dataclass
class TargetResult:
    """One prompt's result in one image, whichever approach found it."""

    prompt: str
    class_index: int
    names: tuple[str, ...]
    mask: np.ndarray  # (H, W) bool, the final target mask
    sclip_mask: np.ndarray | None = None  # dense approach: Stage 1 alone
    refinement: dict | None = None  # dense approach: Stage 2's vote, or why it did not run
    instances: list[Instance] = field(default_factory=list)  # proposal approach, best first
    similarity: np.ndarray | None = None  # proposal approach: (H, W) float32 best target score per pixel
    score: float | None = None  # mean target probability over the mask (COCO score)
    proposals: int | None = None  # proposal approach: SAM2 masks scored
    phrase: str | None = None  # SAM 3: the class name whose instances were kept (the best-scoring one)

    @property
    def found(self) -> bool:
        return bool(self.mask.any())

    @property
    def pixels(self) -> int:
        return int(self.mask.sum())

    def to_json(self) -> dict:
        record = {
            "prompt": self.prompt,
            "class_index": self.class_index,
            "names": list(self.names),
            "found": self.found,
            "pixels": self.pixels,
            "share": round(self.pixels / self.mask.size, 6) if self.mask.size else 0.0,
        }
        if self.sclip_mask is not None:
            record["sclip_pixels"] = int(self.sclip_mask.sum())
            record["refinement"] = self.refinement
        if self.proposals is not None:
            record["proposals"] = self.proposals
        if self.proposals is not None or self.phrase is not None:
            record["instances"] = len(self.instances)
        if self.phrase is not None:
            record["phrase"] = self.phrase
        if self.score is not None:
            record["score"] = round(self.score, 6)
        return record


@dataclass
class SegmentationResult:
    """One image's result for any number of prompts sharing one vocabulary."""

    approach: str  # "sclip" | "proposals" | "sam3"
    vocabulary: Vocabulary
    targets: dict[str, TargetResult]
    labels: np.ndarray | None = None  # (H, W) int32 class map (dense approach, SAM 3)
    probs: np.ndarray | None = None  # (C, H, W) float16 per-class probability, when asked for
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def class_pixels(self) -> list[int] | None:
        if self.labels is None:
            return None
        return np.bincount(self.labels.ravel(), minlength=len(self.vocabulary)).tolist()


class Segmenter:
    """SCLIP (+ SAM2) segmentation, SAM2 proposals, SAM 3 concepts and inpainting behind one object."""

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
        sam3: SAM3Options | None = None,
    ):
        self.device = resolve_device(device)
        self.precision = Precision.resolve(precision, self.device)
        self.progress = progress
        self.sam2_options = sam2 or SAM2Options()
        self.sam3_options = sam3 or SAM3Options()
        self._clip_arguments = dict(
            model_name=model,
            weights=clip_weights,
            feature_layers=feature_layers,
            cache_dir=sclip.default_cache_dir() if cache_dir is _UNSET else cache_dir,
        )
        self.load_seconds: dict[str, float] = {}
        self._sclip: sclip.SCLIPSegmenter | None = None
        self._mask_source: refine.SAM2MaskSource | None = None
        self._sam3: "sam3seg.SAM3Segmenter | None" = None
        self._inpainters: dict[tuple, inpaint.Inpainter] = {}

    @classmethod
    def from_options(cls, models: ModelOptions, progress: bool = False) -> "Segmenter":
        """The segmenter a run's ModelOptions describe; nothing is loaded yet (see ``load``)."""
        return cls(
            model=models.model,
            clip_weights=models.clip_weights,
            device=models.device,
            precision=models.precision,
            feature_layers=models.feature_layers,
            cache_dir=None if models.no_cache else (models.cache_dir or sclip.default_cache_dir()),
            sam2=models.sam2,
            sam3=models.sam3,
            progress=progress,
        )

    def load(self, models: Sequence[str], inpainter: str = "diffusion", inpaint_model: str | None = None,
             low_vram: bool = False) -> "Segmenter":
        """Load ``models`` now (any of "clip", "sam2", "sam3", "inpaint"), so that a missing one fails at
        once rather than at the first image; "inpaint" is the inpainter the other arguments name."""
        unknown = set(models) - set(MODELS)
        if unknown:
            raise ValueError(f"unknown models {sorted(unknown)}; choose from {', '.join(MODELS)}")
        if "clip" in models:
            self._load_clip()
        if "sam2" in models:
            self._load_sam2()
        if "sam3" in models:
            self._load_sam3()
        if "inpaint" in models:
            self.inpainter(inpainter, inpaint_model, low_vram)
        return self

    @property
    def loaded(self) -> set[str]:
        """The models loaded so far."""
        return {name for name, model in (("clip", self._sclip), ("sam2", self._mask_source), ("sam3", self._sam3))
                if model is not None} | ({"inpaint"} if self._inpainters else set())

    @property
    def sclip(self) -> sclip.SCLIPSegmenter:
        """SCLIP on its CLIP, loaded on first use: the SAM 3 approach never needs it."""
        return self._load_clip()

    def _load_clip(self) -> sclip.SCLIPSegmenter:
        if self._sclip is None:
            started = time.perf_counter()
            self._sclip = sclip.SCLIPSegmenter.from_pretrained(
                **self._clip_arguments, device=self.device, dtype=self.precision.clip, progress=self.progress,
            )
            self.load_seconds["clip"] = time.perf_counter() - started
        return self._sclip

    def describe(self, stages: Sequence[str] = ("clip",)) -> dict:
        """Model identity for result.json; ``stages`` are those that ran, for the precision record."""
        record = {}
        if "clip" in stages:
            record.update(clip=self.sclip.clip.name, clip_weights=self.sclip.clip.weights_id,
                          feature_layers=self.sclip.feature_layers)
        record.update(device=str(self.device), precision=self.precision.names(stages))
        if "sam2" in stages:
            options = self.sam2_options
            record["sam2"] = options.checkpoint or options.model
            # the generator's settings decide SAM2's masks as much as the weights do (--sam-fast, --skip-existing)
            record["sam2_generator"] = dataclasses.asdict(options.generator)
        if "sam3" in stages:
            record["sam3"] = self.sam3_options.model
        return record

    # ---- Stage 2 -----------------------------------------------------------------------------
    @property
    def mask_source(self) -> refine.SAM2MaskSource:
        """SAM2's automatic mask generator, loaded on first use."""
        return self._load_sam2()

    def _load_sam2(self) -> refine.SAM2MaskSource:
        if self._mask_source is None:
            started = time.perf_counter()
            options = self.sam2_options
            model = refine.load_sam2(options.model, options.checkpoint, options.config, device=self.device)
            self._mask_source = refine.SAM2MaskSource(model, options.generator, dtype=self.precision.sam2,
                                                     progress=self.progress)
            self.load_seconds["sam2"] = time.perf_counter() - started
        return self._mask_source

    def _sam2_masks(self, rgb: np.ndarray, key, timings: dict) -> refine.SAM2Masks:
        started = time.perf_counter()
        masks = self.mask_source.generate(rgb, key=key)
        timings["sam2"] = timings.get("sam2", 0.0) + time.perf_counter() - started
        return masks

    @property
    def sam3_segmenter(self) -> "sam3seg.SAM3Segmenter":
        """SAM 3 with the options' settings as its defaults, loaded on first use."""
        return self._load_sam3()

    def _load_sam3(self) -> "sam3seg.SAM3Segmenter":
        if self._sam3 is None:
            started = time.perf_counter()
            options = self.sam3_options
            with _transformers_progress(self.progress):
                loaded = sam3seg.load_sam3(options.model, device=self.device, dtype=self.precision.sam3)
            self._sam3 = sam3seg.SAM3Segmenter(loaded, options.settings)
            self.load_seconds["sam3"] = time.perf_counter() - started
        return self._sam3

    # ---- Dense approach: Stage 1 (+2) --------------------------------------------------------
    def segment(
        self,
        image,
        prompts: str | Sequence[str],
        vocabulary=None,
        preset: str | None = None,
        settings: SCLIPSettings | None = None,
        refine_masks: bool = _REFINE.enabled,
        min_coverage: float = _REFINE.min_coverage,
        refine_all_classes: bool = _REFINE.all_classes,
        return_probs: bool = False,
        image_key=None,
        max_side: int | None = None,
        scores: bool = False,
    ) -> SegmentationResult:
        """Segment ``image`` (path, PIL image or RGB uint8 array) for one or more prompts.

        ``return_probs`` keeps every class's probability map; ``scores`` gives each target its mean
        probability over its mask (the COCO score) from the targets' maps alone. SAM2 runs only for
        what needs it: not for a target SCLIP found no pixel of.
        """
        rgb = as_rgb_array(image)
        size = rgb.shape[:2]
        work = downscale(rgb, max_side)
        plan = sclip.build_vocabulary(prompts, vocabulary, preset)
        vocab, indices = plan.vocabulary, plan.targets
        if settings is None:
            settings = sclip.preset_settings(preset) if preset else SCLIPSettings()
        wanted = list(dict.fromkeys(indices.values())) if scores else None
        prediction = self.sclip.predict(work, vocab, settings, return_probs=return_probs, probs_for=wanted)
        timings = {f"sclip_{name}": seconds for name, seconds in prediction.timings.items()}
        labels = resize_labels(prediction.labels, size)
        probs = _resized(prediction.probs, size)
        target_probs = _resized(prediction.target_probs, size)

        found_any = any((labels == index).any() for index in indices.values())
        sam_masks = None
        if refine_all_classes or (refine_masks and found_any):
            sam_masks = self._sam2_masks(rgb, image_key, timings)

        targets = {}
        for prompt, index in indices.items():
            sclip_mask = labels == index
            mask, info = sclip_mask, None
            if refine_masks:
                mask, info = self._refine(prompt, sclip_mask, sam_masks, min_coverage)
            score = None
            if target_probs is not None and mask.any():
                score = float(target_probs[wanted.index(index)][mask].astype(np.float32).mean())
            targets[prompt] = TargetResult(prompt, index, vocab.classes[index], mask, sclip_mask, info, score=score)

        if refine_all_classes:
            started = time.perf_counter()
            labels = refine.refine_label_map(labels, sam_masks)
            timings["refine_all_classes"] = time.perf_counter() - started
        return SegmentationResult("sclip", vocab, targets, labels, probs, timings)

    @staticmethod
    def _refine(prompt: str, sclip_mask: np.ndarray, sam_masks, min_coverage: float) -> tuple[np.ndarray, dict]:
        """Stage 2 for one target: the majority vote, or why it did not run."""
        if not sclip_mask.any():
            return sclip_mask, {"skipped": "SCLIP found no pixel of the target", "min_coverage": min_coverage}
        vote = refine.majority_vote(sclip_mask, sam_masks, min_coverage)
        info = {"masks": vote.total, "kept": vote.kept, "fallback": vote.fallback, "min_coverage": min_coverage}
        if vote.fallback_reason == "no_masks":
            logger.warning("SAM2 produced no masks for this image; keeping the SCLIP mask of '%s'", prompt)
        elif vote.fallback:
            logger.warning("no SAM2 mask lies >= %.0f%% on '%s'; keeping the SCLIP mask", 100 * min_coverage, prompt)
        return vote.mask, info

    # ---- Proposal approach (main.py) ---------------------------------------------------------
    def propose(
        self, image, prompts: str | Sequence[str], vocabulary=None, top_k: int = _TOP_K, image_key=None,
        max_side: int | None = None,
    ) -> SegmentationResult:
        """SAM2 masks classified as wholes by plain CLIP; each prompt's top-k instances."""
        rgb = as_rgb_array(image)
        size = rgb.shape[:2]
        work = downscale(rgb, max_side)
        plan = sclip.build_vocabulary(prompts, vocabulary)
        vocab = plan.vocabulary
        timings: dict[str, float] = {}
        sam_masks = self._sam2_masks(work, image_key, timings)

        started = time.perf_counter()
        probs = self._classify_masks(work, sam_masks, vocab)
        timings["clip_crops"] = time.perf_counter() - started

        targets = {}
        for prompt, index in plan.targets.items():
            selection = refine.score_proposals(probs, index, top_k)
            similarity = np.zeros(work.shape[:2], dtype=np.float32)
            for mask_index, score in enumerate(probs[:, index]):
                box, crop = sam_masks.full_region(mask_index)
                np.maximum(similarity[box], np.where(crop, np.float32(score), 0), out=similarity[box])
            instances = [
                Instance(resize_labels(sam_masks.full_mask(i), size), float(score), index)
                for i, score in zip(selection.indices, selection.scores)
            ]
            union = np.zeros(size, dtype=bool)
            for instance in instances:
                union |= instance.mask
            targets[prompt] = TargetResult(
                prompt, index, vocab.classes[index], union, instances=instances,
                similarity=resize_scores(similarity, size), proposals=len(sam_masks),
            )
        return SegmentationResult("proposals", vocab, targets, timings=timings)

    # ---- SAM 3 approach (main_sam3.py) -------------------------------------------------------
    def concept(
        self, image, prompts: str | Sequence[str], vocabulary=None, image_key=None, max_side: int | None = None,
        settings: "sam3seg.SAM3Settings | None" = None,
    ) -> SegmentationResult:
        """Every instance SAM 3 finds of each prompt's class, and a label map over the vocabulary.

        A class's names are SAM 3 phrases; a target keeps the instances of its best-scoring name, so
        two names of one class do not report the same object twice. ``settings`` overrides the
        thresholds of the segmenter's ``SAM3Options`` for this call.
        """
        rgb = as_rgb_array(image)
        size = rgb.shape[:2]
        work = downscale(rgb, max_side)
        plan = sclip.build_vocabulary(prompts, vocabulary)
        vocab = plan.vocabulary
        result, owners, labels = self._sam3_classes(work, vocab, plan.targets.values(), image_key, settings)
        targets = {}
        for prompt, index in plan.targets.items():
            names = [number for number, owner in enumerate(owners) if owner == index]
            best = max(names, key=lambda number: _top_score(result.phrases[number]))
            found = result.phrases[best]
            instances = [
                Instance(resize_labels(result.instance_mask(best, rank), size), instance.score, index)
                for rank, instance in enumerate(found.instances)
            ]
            targets[prompt] = TargetResult(
                prompt, index, vocab.classes[index], resize_labels(found.mask, size), instances=instances,
                phrase=found.phrase,
            )
        timings = {f"sam3_{name}": seconds for name, seconds in result.timings.items()}
        return SegmentationResult("sam3", vocab, targets, resize_labels(labels, size), timings=timings)

    def _sam3_classes(self, rgb: np.ndarray, vocabulary: Vocabulary, targets=(), key=None, settings=None):
        """SAM 3 on the names of every class that can win a pixel: (result, class of each phrase, label map).

        Class 0 is where no instance lies, so its names are looked for only when a prompt selects it.
        Each pixel takes the class of the best-scoring instance covering it.
        """
        targets = set(targets)
        pairs = [(index, name) for index, names in enumerate(vocabulary.classes) if index or index in targets
                 for name in names]
        owners = [index for index, _ in pairs]
        phrases = [name for _, name in pairs]
        if not phrases:
            raise ValueError("the vocabulary has no class besides class 0 for SAM 3 to look for")
        result = self.sam3_segmenter.segment(rgb, phrases, key=key, settings=settings)
        covered = np.zeros(rgb.shape[:2], dtype=bool)
        for phrase in result.phrases:
            covered |= phrase.mask
        labels = np.where(covered, np.asarray(owners, dtype=np.int32)[result.labels], 0).astype(np.int32)
        return result, owners, labels

    # ---- Whole label maps (evaluation) ------------------------------------------------------
    def predict_labels(
        self, image, vocabulary: Vocabulary, settings: SCLIPSettings, method: str = "sclip", image_key=None
    ) -> np.ndarray:
        """(H, W) class indices over the whole vocabulary by one of the three methods.

        ``sclip``: Stage 1 alone (the official SCLIP protocol). ``sclip+sam2``: each SAM2 mask then
        takes the majority class of its pixels. ``proposals``: each SAM2 mask gets the class CLIP
        gives its crop, larger masks painted first so smaller ones stay on top; pixels outside
        every mask are class 0. ``sam3``: each class name is a SAM 3 phrase, each pixel takes the
        class of its best-scoring instance, class 0 where none lies (``settings`` is SCLIP's and
        unused; SAM 3's come from the segmenter's ``SAM3Options``).
        """
        rgb = as_rgb_array(image)
        timings: dict[str, float] = {}
        if method == "sam3":
            return self._sam3_classes(rgb, vocabulary, key=image_key)[2]
        if method == "proposals":
            masks = self._sam2_masks(rgb, image_key, timings)
            classes = self._classify_masks(rgb, masks, vocabulary).argmax(axis=1)
            labels = np.zeros(rgb.shape[:2], dtype=np.int32)
            for index in np.argsort(-masks.areas, kind="stable"):
                box, crop = masks.full_region(index)
                labels[box][crop] = classes[index]
            return labels
        if method not in ("sclip", "sclip+sam2"):
            raise ValueError(f"unknown method '{method}'; choose sclip, sclip+sam2, proposals or sam3")
        labels = self.sclip.predict(rgb, vocabulary, settings).labels
        if method == "sclip+sam2":
            labels = refine.refine_label_map(labels, self._sam2_masks(rgb, image_key, timings))
        return labels

    def _classify_masks(self, rgb: np.ndarray, masks: refine.SAM2Masks, vocabulary: Vocabulary) -> np.ndarray:
        """(M, C) class probabilities of each SAM2 mask's crop under plain CLIP."""
        crops = refine.square_crops(rgb, masks, self.sclip.input_size, _mean_rgb())
        return self.sclip.classify_crops(crops, vocabulary)

    # ---- Stage 3 -----------------------------------------------------------------------------
    def inpainter(self, kind: str = "diffusion", model: str | None = None,
                  low_vram: bool = False) -> "inpaint.Inpainter":
        """The editing method, loaded once per model; schedulers swap per edit on the loaded pipeline."""
        key = (kind, model)
        if key not in self._inpainters:
            if kind == "opencv":
                self._inpainters[key] = inpaint.OpenCVRemover()
            elif kind == "diffusion":
                started = time.perf_counter()
                self._inpainters[key] = inpaint.DiffusionInpainter(
                    model=model or inpaint.DEFAULT_INPAINT_MODEL,
                    device=self.device,
                    dtype=self.precision.inpaint,
                    low_vram=low_vram,
                    progress=self.progress,
                )
                self.load_seconds["inpaint"] = time.perf_counter() - started
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
    ) -> "inpaint.EditResult":
        """Remove, replace or restyle the masked region."""
        rgb = as_rgb_array(image)
        settings = settings or inpaint.InpaintSettings()
        worker = self.inpainter(inpainter, inpaint_model, settings.low_vram)
        return worker.edit(rgb, mask, mode, target, edit, settings)


def _resized(maps: np.ndarray | None, size: tuple[int, int]) -> np.ndarray | None:
    """(N, h, w) probability maps at (N, H, W)."""
    if maps is None or maps.shape[1:] == tuple(size):
        return maps
    return np.stack([resize_scores(channel, size) for channel in maps])


@contextlib.contextmanager
def _transformers_progress(enabled: bool) -> Iterator[None]:
    """transformers draws a weight-loading bar by default; it shows only where this segmenter shows progress."""
    from transformers.utils import logging as transformers_logging

    was_enabled = transformers_logging.is_progress_bar_enabled()
    if not enabled:
        transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled and not enabled:
            transformers_logging.enable_progress_bar()


def _top_score(phrase) -> float:
    return phrase.instances[0].score if phrase.instances else -1.0


def _mean_rgb() -> tuple[int, int, int]:
    return tuple(int(round(value)) for value in sclip.PIXEL_MEAN)
