"""The per-image loop shared by ``main_sclip.py`` and ``main.py``: load, segment, edit, write, summarise.

Each image is independent: one that fails is reported and the batch goes on. Every file is written
atomically and ``result.json`` last, with ``"complete": true``, so an interrupted run can be resumed
with ``--skip-existing`` and never leaves a half-written file that looks finished.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

import refine
import viz

from . import files
from .api import ProposalResult, SegmentationResult, Segmenter
from .errors import EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, ImageError
from .images import InputImage, LoadedImage, load_image, upscale_labels

logger = logging.getLogger(__name__)

OUT_OF_MEMORY_ADVICE = "CUDA out of memory; try --model ViT-B-16, --low-vram, --max-side 1024 or --device cpu"
NOT_FOUND_ADVICE = (
    "add related classes so CLIP can tell them apart (e.g. --vocabulary car road building sky), "
    "try other words for the prompt, and check that the object is really in the image"
)


@dataclass
class ImageOutcome:
    image: str
    output: str
    status: str  # ok | not_found | failed | skipped
    seconds: float = 0.0
    message: str = ""
    found: bool | None = None  # every target found; for skipped images, as their earlier run recorded it


@dataclass
class RunSummary:
    outcomes: list[ImageOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def exit_code(self) -> int:
        if self.count("failed"):
            return EXIT_FAILED
        # a resumed run answers like an uninterrupted one: skipped images count with their recorded result
        return EXIT_NOT_FOUND if any(outcome.found is False for outcome in self.outcomes) else EXIT_OK

    def line(self) -> str:
        timed = [o.seconds for o in self.outcomes if o.status in ("ok", "not_found")]
        per_image = f", {sum(timed) / len(timed):.2f} s per image" if timed else ""
        return (
            f"{len(self.outcomes)} image(s): {self.count('ok')} ok, {self.count('not_found')} target not found, "
            f"{self.count('failed')} failed, {self.count('skipped')} skipped{per_image}"
        )

    def write(self, output: Path) -> None:
        rows = [outcome.__dict__ for outcome in self.outcomes]
        files.save_json({"summary": self.line(), "exit_code": self.exit_code, "images": rows}, output / "summary.json")
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(ImageOutcome.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(rows)
        files.save_text(text.getvalue(), output / "summary.csv")


@dataclass
class RunOptions:
    """Everything the loop needs besides the models; built by the CLI from its flags."""

    approach: str  # "sclip" | "proposals"
    prompts: list[str]
    mode: str = "segment"
    edit: str | None = None
    vocabulary: list[str] | None = None
    preset: str | None = None
    sclip_settings: object = None
    refine: bool = True
    min_coverage: float = 0.6
    refine_all_classes: bool = False
    top_k: int = 5
    inpainter: str = "diffusion"
    inpaint_model: str | None = None
    inpaint_settings: object = None
    visualize: bool = False
    save_probs: bool = False
    export_coco: Path | None = None
    skip_existing: bool = False
    max_side: int | None = None
    settings_record: dict = field(default_factory=dict)  # every result-changing flag, for result.json


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.strip()).strip("_") or "prompt"


def failure_message(exc: Exception, path: Path) -> str:
    """One line for the status line and summary of an image that failed."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return OUT_OF_MEMORY_ADVICE
    text = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, ImageError):
        return text.removeprefix(f"{path}: ")  # it names the file, which the status line already does
    return f"{type(exc).__name__}: {text}"


def is_complete(result_path: Path) -> bool:
    try:
        return json.loads(result_path.read_text()).get("complete") is True
    except (OSError, ValueError, AttributeError):
        return False


def report_outcome(item: InputImage, outcome: ImageOutcome, verbose: bool) -> None:
    """The status line of one image: failures always, every image with --verbose."""
    if verbose or outcome.status == "failed":
        log = logger.error if outcome.status == "failed" else logger.info
        log("%s: %s%s", item.path, outcome.status, f" ({outcome.message})" if outcome.message else "")


class Runner:
    def __init__(self, segmenter: Segmenter, options: RunOptions, output: Path, progress: bool, verbose: bool):
        self.segmenter = segmenter
        self.options = options
        self.output = output
        self.progress = progress
        self.verbose = verbose
        self.coco = CocoExport() if options.export_coco else None

    def run(self, inputs: list[InputImage]) -> RunSummary:
        from tqdm.auto import tqdm

        summary = RunSummary()
        bar = tqdm(inputs, desc="images", unit="image", disable=not self.progress or len(inputs) < 2)
        try:
            for item in bar:
                outcome = self.process(item)
                summary.outcomes.append(outcome)
                report_outcome(item, outcome, self.verbose)
        finally:
            # also after Ctrl-C: the summary and export then cover the images finished so far
            if len(inputs) > 1:
                summary.write(self.output)
            if self.coco is not None:
                files.save_json(self.coco.to_json(), self.options.export_coco)
        return summary

    def process(self, item: InputImage, load: Callable[[], LoadedImage] | None = None) -> ImageOutcome:
        """Segment, edit and write one image; ``load`` replaces reading ``item.path`` (the Ray engine decodes
        in separate tasks, so the image arrives already read)."""
        out_dir = self.output / item.name if item.name else self.output
        outcome = ImageOutcome(str(item.path), str(out_dir), "ok")
        if self.options.skip_existing and is_complete(out_dir / "result.json"):
            outcome.status = "skipped"
            targets = json.loads((out_dir / "result.json").read_text()).get("targets", [])
            outcome.found = all(target.get("found") for target in targets)
            return outcome
        started = time.perf_counter()
        try:
            loaded = load() if load is not None else load_image(item.path, self.options.max_side)
            files.prepare_output_dir(out_dir)
            # a complete result.json left by an earlier run must not vouch for files this run replaces
            (out_dir / "result.json").unlink(missing_ok=True)
            found = self._segment_and_write(item, loaded, out_dir)
            outcome.found = found
            outcome.status = "ok" if found else "not_found"
            if not found:
                outcome.message = "target not found"
        except Exception as exc:  # whatever breaks on one image must not stop the batch; --debug shows where
            logger.debug("image %s failed", item.path, exc_info=True)
            outcome.status, outcome.message = "failed", failure_message(exc, item.path)
        outcome.seconds = round(time.perf_counter() - started, 3)
        return outcome

    # ---------------------------------------------------------------------------------------
    def _segment_and_write(self, item: InputImage, loaded: LoadedImage, out_dir: Path) -> bool:
        options = self.options
        original = loaded.original
        size = loaded.original_size
        record = {
            "complete": False,
            "image": str(item.path),
            "image_size": {"width": size[1], "height": size[0]},
            "input_notes": loaded.notes,
            "approach": options.approach,
            "mode": options.mode,
            "model": self.segmenter.describe(),
            "model_load_seconds": {name: round(value, 3) for name, value in self.segmenter.load_seconds.items()},
            "settings": options.settings_record,
        }
        files.save_image(original, out_dir / "original.png")
        if options.approach == "sclip":
            targets = self._sclip(item, loaded, out_dir, record)
        else:
            targets = self._proposals(item, loaded, out_dir, record)

        multiple = len(targets) > 1
        all_found = True
        for prompt, (mask, info) in targets.items():
            target_dir = out_dir / slug(prompt) if multiple else out_dir
            if multiple:
                files.prepare_output_dir(target_dir)
            files.save_mask(mask, target_dir / "mask.png")
            if not mask.any():
                all_found = False
                logger.warning("No pixels found for class '%s' in %s: %s", prompt, item.path, NOT_FOUND_ADVICE)
                info["found"] = False
                continue
            info["found"] = True
            if options.mode != "segment":
                info["edit"] = self._edit(original, mask, prompt, target_dir)
        record["timings"] = {name: round(value, 4) for name, value in record.get("timings", {}).items()}
        record["complete"] = True
        files.save_json(record, out_dir / "result.json")
        return all_found

    def _sclip(self, item, loaded: LoadedImage, out_dir: Path, record: dict) -> dict:
        options = self.options
        result: SegmentationResult = self.segmenter.segment(
            loaded.rgb,
            options.prompts,
            vocabulary=options.vocabulary,
            preset=options.preset,
            settings=options.sclip_settings,
            refine_masks=options.refine,
            min_coverage=options.min_coverage,
            refine_all_classes=options.refine_all_classes,
            return_probs=options.save_probs or self.coco is not None,
            image_key=str(item.path),
        )
        size = loaded.original_size
        labels = upscale_labels(result.labels, size)
        files.save_image(viz.labels_to_palette_image(labels), out_dir / "labels.png")
        vocab = result.vocabulary
        class_pixels = np.bincount(labels.ravel(), minlength=len(vocab)).tolist()
        probs = _resize_probs(result.probs, size) if result.probs is not None else None
        if options.save_probs:
            files.save_npy(probs, out_dir / "probs.npy")
        if options.visualize:
            files.save_image(viz.label_map_with_legend(loaded.original, labels, vocab.labels), out_dir / "label_map.png")
        record["vocabulary"] = vocab.to_json()
        record["class_pixels"] = {label: count for label, count in zip(vocab.labels, class_pixels)}
        record["timings"] = dict(result.timings)
        targets, record["targets"], annotations = {}, [], []
        for prompt, target in result.targets.items():
            sclip_mask = upscale_labels(target.sclip_mask, size)
            mask = upscale_labels(target.mask, size)
            multiple = len(result.targets) > 1
            target_dir = out_dir / slug(prompt) if multiple else out_dir
            if options.visualize:
                files.prepare_output_dir(target_dir)
                files.save_image(viz.overlay_mask(loaded.original, sclip_mask, (255, 0, 0)), target_dir / "sclip_prediction.png")
                if target.refinement is not None:
                    files.save_image(viz.overlay_mask(loaded.original, mask, (0, 200, 0)), target_dir / "sam2_refined_mask.png")
            info = {
                "prompt": prompt,
                "class_index": target.class_index,
                "names": list(vocab.classes[target.class_index]),
                "sclip_pixels": int(sclip_mask.sum()),
                "pixels": int(mask.sum()),
                "refinement": target.refinement,
            }
            record["targets"].append(info)
            targets[prompt] = (mask, info)
            if self.coco is not None and mask.any():
                score = float(probs[target.class_index][mask].astype(np.float32).mean())
                annotations.append((mask, target.class_index, score))
        if self.coco is not None:
            self.coco.add(item, size, vocab, annotations)
        if len(record["targets"]) == 1:
            record["target"] = record["targets"][0]
        return targets

    def _proposals(self, item, loaded: LoadedImage, out_dir: Path, record: dict) -> dict:
        options = self.options
        targets, record["targets"], record["timings"] = {}, [], {}
        for prompt in dict.fromkeys(options.prompts):
            result: ProposalResult = self.segmenter.propose(
                loaded.rgb, prompt, options.vocabulary, options.top_k, image_key=str(item.path)
            )
            size = loaded.original_size
            mask = upscale_labels(result.mask, size)
            instance_masks = [upscale_labels(instance.mask, size) for instance in result.instances]
            instances = [
                {
                    "rank": rank,
                    "score": round(instance.score, 6),
                    "class_index": instance.class_index,
                    "class": result.vocabulary.labels[instance.class_index],
                    "bbox": refine.mask_bbox(instance_mask),
                    "area": int(instance_mask.sum()),
                    "segmentation": refine.mask_to_coco_rle(instance_mask),
                }
                for rank, (instance, instance_mask) in enumerate(zip(result.instances, instance_masks))
            ]
            multiple = len(options.prompts) > 1
            target_dir = out_dir / slug(prompt) if multiple else out_dir
            files.prepare_output_dir(target_dir)
            files.save_json({"prompt": prompt, "instances": instances}, target_dir / "instances.json")
            if options.visualize:
                stack = np.stack(instance_masks) if instance_masks else np.zeros((0, *size), dtype=bool)
                files.save_image(
                    viz.instance_overlay(loaded.original, stack, [i.score for i in result.instances]),
                    target_dir / "segmentation.png",
                )
                similarity = cv2.resize(result.similarity, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
                files.save_image(viz.heatmap(similarity, loaded.original), target_dir / "similarity_map.png")
            info = {
                "prompt": prompt,
                "class_index": result.class_index,
                "proposals": result.proposals,
                "instances": len(instances),
                "pixels": int(mask.sum()),
            }
            record["vocabulary"] = result.vocabulary.to_json()
            for name, seconds in result.timings.items():
                record["timings"][name] = record["timings"].get(name, 0.0) + seconds
            record["targets"].append(info)
            targets[prompt] = (mask, info)
            if self.coco is not None:
                self.coco.add(item, size, result.vocabulary, [
                    (instance_mask, instance.class_index, instance.score)
                    for instance, instance_mask in zip(result.instances, instance_masks)
                ])
        if len(record["targets"]) == 1:
            record["target"] = record["targets"][0]
        return targets

    def _edit(self, original: np.ndarray, mask: np.ndarray, prompt: str, target_dir: Path) -> dict:
        options = self.options
        result = self.segmenter.edit(
            original, mask, options.mode, prompt, options.edit, options.inpainter, options.inpaint_model,
            options.inpaint_settings,
        )
        files.save_image(result.image, target_dir / "edited.png")
        if options.visualize:
            strip = viz.comparison_strip(
                [original, np.repeat(mask[..., None].astype(np.uint8) * 255, 3, axis=2), result.image],
                ["Original", "Mask", "Edited"],
            )
            files.save_image(strip, target_dir / "comparison.png")
        return result.metadata()


def _resize_probs(probs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if probs.shape[1:] == tuple(size):
        return probs
    return np.stack([
        cv2.resize(channel.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR) for channel in probs
    ]).astype(np.float16)


class CocoExport:
    """One COCO-style JSON for the whole run: images, categories from the vocabulary, annotations."""

    def __init__(self):
        self.images: list[dict] = []
        self.annotations: list[dict] = []
        self.categories: list[dict] = []
        self._image_ids: dict[str, int] = {}
        self._category_ids: dict[tuple[str, ...], int] = {}

    def add(self, item: InputImage, size: tuple[int, int], vocabulary, masks: list[tuple[np.ndarray, int, float]]):
        """List the image (also when nothing was found in it) and one annotation per mask."""
        # main.py builds one vocabulary per prompt, so the same index can mean different classes:
        # categories are matched by their names
        category_ids = [self._category_id(label, names) for label, names in zip(vocabulary.labels, vocabulary.classes)]
        file_name = str(item.path)
        if file_name not in self._image_ids:
            self._image_ids[file_name] = len(self.images) + 1
            self.images.append({"id": self._image_ids[file_name], "file_name": file_name, "height": size[0],
                                "width": size[1]})
        image_id = self._image_ids[file_name]
        for mask, class_index, score in masks:
            self.annotations.append({
                "id": len(self.annotations) + 1,
                "image_id": image_id,
                "category_id": category_ids[class_index],
                "segmentation": refine.mask_to_coco_rle(mask),
                "area": int(mask.sum()),
                "bbox": refine.mask_bbox(mask),
                "iscrowd": 0,
                "score": round(float(score), 6),
            })

    def _category_id(self, label: str, names: tuple[str, ...]) -> int:
        key = tuple(names)
        if key not in self._category_ids:
            self._category_ids[key] = len(self.categories) + 1
            self.categories.append({"id": self._category_ids[key], "name": label, "names": list(names)})
        return self._category_ids[key]

    def to_json(self) -> dict:
        return {"images": self.images, "annotations": self.annotations, "categories": self.categories}
