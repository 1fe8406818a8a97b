"""The per-image job shared by every front end: load, segment, edit, write; and the batch summary.

Each image is independent: one that fails is reported and the batch goes on. Every file is written
atomically and ``result.json`` last, with ``"complete": true`` and a fingerprint of everything that
decides the image's results, so ``--skip-existing`` skips exactly the images an identical earlier
run finished, and never leaves a half-written file that looks finished.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

import sclip

from . import files
from .errors import EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, ImageError, first_line
from .images import InputImage, LoadedImage, load_image
from .options import ModelOptions, RunOptions
from .outputs import remove_partial_files, remove_stale_outputs
from .record import RESULT, ResultRecord
from .resize import scaled_size
from .writer import ResultWriter

if TYPE_CHECKING:
    from .api import SegmentationResult

logger = logging.getLogger(__name__)

OUT_OF_MEMORY_ADVICE = "CUDA out of memory; try --model ViT-B-16, --low-vram, --max-side 1024 or --device cpu"


@dataclass
class ImageRun:
    """One image as processed: its pixels, the approach's result and the result.json written."""

    rgb: np.ndarray
    result: "SegmentationResult"
    record: ResultRecord


@dataclass
class Analysis:
    """One image read and segmented, waiting to be edited and written (``Runner.begin`` -> ``complete``)."""

    item: InputImage
    fingerprint: str
    redone: bool  # an earlier complete result with other settings is being replaced
    loaded: LoadedImage
    result: "SegmentationResult"
    seconds: float  # spent so far on this image
    models: dict  # identity of the models that segmented it, for result.json
    load_seconds: dict  # and how long they took to load


@dataclass
class TargetSummary:
    prompt: str
    found: bool
    pixels: int
    share: float


@dataclass
class ImageOutcome:
    image: str
    output: str
    status: str  # ok | not_found | failed | skipped
    seconds: float = 0.0
    message: str = ""
    found: bool | None = None  # every target found; for skipped images, as their earlier run recorded it
    redone: bool = False  # a complete earlier result existed but was made with other settings
    targets: list[TargetSummary] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict) -> "ImageOutcome":
        return cls(**{**data, "targets": [TargetSummary(**target) for target in data["targets"]]})


@dataclass
class RunSummary:
    outcomes: list[ImageOutcome] = field(default_factory=list)
    interrupted_code: int | None = None  # 130/143 when the run was stopped before its end

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def exit_code(self) -> int:
        if self.interrupted_code is not None:
            return self.interrupted_code
        if self.count("failed"):
            return EXIT_FAILED
        # a resumed run answers like an uninterrupted one: skipped images count with their recorded result
        return EXIT_NOT_FOUND if any(outcome.found is False for outcome in self.outcomes) else EXIT_OK

    def line(self) -> str:
        timed = [o.seconds for o in self.outcomes if o.status in ("ok", "not_found")]
        per_image = f", {sum(timed) / len(timed):.2f} s per image" if timed else ""
        redone = sum(outcome.redone for outcome in self.outcomes)
        redone_text = f" ({redone} redone because settings changed)" if redone else ""
        return (
            f"{len(self.outcomes)} image(s): {self.count('ok')} ok, {self.count('not_found')} target not found, "
            f"{self.count('failed')} failed, {self.count('skipped')} skipped{redone_text}{per_image}"
        )

    def write(self, output: Path) -> None:
        rows = [asdict(outcome) for outcome in self.outcomes]
        files.save_json({"summary": self.line(), "exit_code": self.exit_code, "images": rows}, output / "summary.json")
        text = io.StringIO()
        columns = [name for name in ImageOutcome.__dataclass_fields__ if name != "targets"]
        writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        files.save_text(text.getvalue(), output / "summary.csv")


def failure_message(exc: Exception, path: Path) -> str:
    """One line for the status line and summary of an image that failed."""
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return OUT_OF_MEMORY_ADVICE
    if isinstance(exc, ImageError):
        return first_line(exc).removeprefix(f"{path}: ")  # it names the file, which the status line already does
    return f"{type(exc).__name__}: {first_line(exc)}"


def report_outcome(outcome: ImageOutcome, verbose: bool) -> None:
    """The status line of one image: failures always, every image with --verbose."""
    if verbose or outcome.status == "failed":
        log = logger.error if outcome.status == "failed" else logger.info
        log("%s: %s%s", outcome.image, outcome.status, f" ({outcome.message})" if outcome.message else "")


class Runner:
    """Runs the job on images one by one and writes each image's folder under ``output``.

    ``models`` names the inpainter to edit with; with the options and the segmenter's model identity
    it makes up each image's fingerprint.
    """

    def __init__(self, segmenter, options: RunOptions, output: Path, progress: bool = False,
                 verbose: bool = False, models: ModelOptions | None = None):
        from . import __version__

        self.segmenter = segmenter
        self.options = options
        self.output = output
        self.progress = progress
        self.verbose = verbose
        self.writer = ResultWriter(options)
        self.version = __version__
        self.settings = options.to_json()
        models = models or ModelOptions()
        self.inpainter = (models.inpainter, models.inpaint_model)
        self._identity: dict | None = None
        # built once, so its warnings (merged repeats, shared names) come once per run, not once per image
        self.vocabulary = sclip.build_vocabulary(options.prompts, options.vocabulary, options.preset).vocabulary

    # ---- the batch ----------------------------------------------------------------------------
    def run(self, inputs: list[InputImage], summary: RunSummary) -> RunSummary:
        """Every image in turn, each outcome added to ``summary`` as it is known (so it is complete up to
        the image a Ctrl-C stops)."""
        from tqdm.auto import tqdm

        bar = tqdm(inputs, desc="images", unit="image", disable=not self.progress or len(inputs) < 2)
        for item in bar:
            outcome = self.process(item)
            summary.outcomes.append(outcome)
            self.report(outcome)
        return summary

    def report(self, outcome: ImageOutcome) -> None:
        report_outcome(outcome, self.verbose)

    def folder_of(self, item: InputImage) -> Path:
        return self.output / item.name if item.name else self.output

    # ---- one image ----------------------------------------------------------------------------
    @property
    def identity(self) -> dict:
        # asked for on first use: an edit-only Ray worker never needs (or loads) the segmentation models
        if self._identity is None:
            self._identity = {"models": self.segmenter.describe(self.options.stages), "inpainter": self.inpainter}
        return self._identity

    def fingerprint(self, item: InputImage) -> str:
        """Digest of what decides this image's results: the file, the settings and the models."""
        try:  # a URI (Ray engine) has no local stat: its name stands for it
            stat = os.stat(item.path)
            source = [os.path.realpath(item.path), stat.st_size, stat.st_mtime_ns]
        except OSError:
            source = [str(item.path)]
        settings = {key: value for key, value in self.settings.items() if key != "outputs"}
        outputs = {key: value for key, value in self.settings["outputs"].items()
                   if key not in ("skip_existing", "export_coco")}
        text = json.dumps([source, settings, outputs, self.identity], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def process(self, item: InputImage, load: Callable[[], LoadedImage] | None = None) -> ImageOutcome:
        """Segment, edit and write one image; ``load`` replaces reading ``item.path`` (the Ray engine
        decodes in separate tasks, so the image arrives already read)."""
        begun = self.begin(item, load)
        return begun if isinstance(begun, ImageOutcome) else self.complete(begun)

    def begin(self, item: InputImage, load: Callable[[], LoadedImage] | None = None) -> "ImageOutcome | Analysis":
        """The first half of ``process``: the image read and segmented, ready for ``complete``; or its final
        outcome when there is nothing more to do (it failed, or an identical earlier run finished it)."""
        outcome = ImageOutcome(str(item.path), str(self.folder_of(item)), "ok")
        if item.error is not None:
            outcome.status, outcome.message = "failed", item.error
            return outcome
        fingerprint = self.fingerprint(item)
        earlier = ResultRecord.read(self.folder_of(item)) if self.options.outputs.skip_existing else None
        redone = False
        if earlier is not None:
            if earlier.fingerprint == fingerprint:
                outcome.status = "skipped"
                outcome.found = earlier.found
                return outcome
            redone = True
        started = time.perf_counter()
        try:
            return self._analysis(item, fingerprint, redone, load)
        except Exception as exc:  # whatever breaks on one image must not stop the batch; --debug shows where
            return self._failed(outcome, exc, item, started)

    def complete(self, analysis: "Analysis") -> ImageOutcome:
        """The second half of ``process``: edit the targets found and write the image's folder."""
        item = analysis.item
        outcome = ImageOutcome(str(item.path), str(self.folder_of(item)), "ok", redone=analysis.redone)
        started = time.perf_counter() - analysis.seconds
        try:
            record = self.write(analysis, self.edits(analysis.loaded.rgb, analysis.result))
        except Exception as exc:  # as in begin: one image's failure is its own
            return self._failed(outcome, exc, item, started)
        outcome.targets = [TargetSummary(t.prompt, t.found, t.pixels, t.share) for t in record.targets]
        outcome.found = all(target.found for target in outcome.targets)
        if not outcome.found:
            outcome.status = "not_found"
            missing = [target.prompt for target in outcome.targets if not target.found]
            outcome.message = f"not found: {', '.join(missing)}"
        outcome.seconds = round(time.perf_counter() - started, 3)
        return outcome

    @staticmethod
    def _failed(outcome: ImageOutcome, exc: Exception, item: InputImage, started: float) -> ImageOutcome:
        logger.debug("image %s failed", item.path, exc_info=True)
        outcome.status, outcome.message = "failed", failure_message(exc, item.path)
        outcome.seconds = round(time.perf_counter() - started, 3)
        return outcome

    def run_image(self, item: InputImage, fingerprint: str | None = None,
                  load: Callable[[], LoadedImage] | None = None) -> "ImageRun":
        """Segment (and edit) one image and write its folder; errors are raised, not reported."""
        analysis = self._analysis(item, fingerprint or self.fingerprint(item), False, load)
        record = self.write(analysis, self.edits(analysis.loaded.rgb, analysis.result))
        return ImageRun(analysis.loaded.rgb, analysis.result, record)

    def _analysis(self, item: InputImage, fingerprint: str, redone: bool,
                  load: Callable[[], LoadedImage] | None) -> "Analysis":
        """Read and segment one image; errors are raised."""
        started = time.perf_counter()
        loaded = load() if load is not None else load_image(item.path)
        result = self.analyse(loaded.rgb, key=str(item.path))
        if self.options.approach == "sam3":
            stages = ["sam3"]
        else:
            stages = ["clip"] + (["sam2"] if "sam2" in result.timings else [])
        return Analysis(item, fingerprint, redone, loaded, result, time.perf_counter() - started,
                        self.segmenter.describe(stages), dict(self.segmenter.load_seconds))

    def edits(self, rgb: np.ndarray, result) -> dict:
        """The edit mode applied to every target found: prompt -> EditResult (none in segment mode)."""
        options = self.options
        if options.mode == "segment":
            return {}
        return {
            prompt: self.segmenter.edit(rgb, target.mask, options.mode, prompt, options.edit, *self.inpainter,
                                        options.inpaint)
            for prompt, target in result.targets.items() if target.found
        }

    def write(self, analysis: "Analysis", edits: dict) -> ResultRecord:
        """Write the image's folder, replacing whatever an earlier run left there; returns result.json."""
        options = self.options
        item, loaded, result = analysis.item, analysis.loaded, analysis.result
        out_dir = self.folder_of(item)
        files.prepare_output_dir(out_dir)
        # a complete result.json left by an earlier run must not vouch for files this run replaces
        (out_dir / RESULT).unlink(missing_ok=True)
        # nor may its other files (another prompt's folder, probs.npy of an earlier --save-probs) stay beside
        remove_partial_files(out_dir)
        remove_stale_outputs(out_dir, keep=set())
        height, width = loaded.rgb.shape[:2]
        notes = list(loaded.notes)
        max_side = options.outputs.max_side
        if scaled_size(height, width, max_side) != (height, width):
            small_height, small_width = scaled_size(height, width, max_side)
            notes.append(f"processed at {small_width}x{small_height} (--max-side {max_side})")
        model = dict(analysis.models)
        if edits:
            model["precision"] = {**model["precision"], **self.segmenter.precision.names(["inpaint"])}
        load_seconds = {**analysis.load_seconds, **self.segmenter.load_seconds}
        record = ResultRecord(
            tool_version=self.version,
            fingerprint=analysis.fingerprint,
            image=str(item.path),
            image_size={"width": width, "height": height},
            input_notes=notes,
            approach=options.approach,
            mode=options.mode,
            model=model,
            model_load_seconds={name: round(value, 3) for name, value in load_seconds.items()},
            settings=self.settings,
            timings=dict(result.timings),
        )
        return self.writer.write(out_dir, loaded.rgb, result, edits, record)

    def analyse(self, rgb, key=None):
        """The approach's SegmentationResult for one image, at the image's size."""
        options = self.options
        max_side = options.outputs.max_side
        if options.approach == "sam3":
            return self.segmenter.concept(rgb, options.prompts, self.vocabulary, image_key=key, max_side=max_side,
                                          settings=options.sam3)
        if options.approach == "proposals":
            return self.segmenter.propose(rgb, options.prompts, self.vocabulary, options.top_k,
                                          image_key=key, max_side=max_side)
        return self.segmenter.segment(
            rgb,
            options.prompts,
            vocabulary=self.vocabulary,
            settings=options.sclip,
            refine_masks=options.refine.enabled,
            min_coverage=options.refine.min_coverage,
            refine_all_classes=options.refine.all_classes,
            return_probs=options.outputs.save_probs,
            image_key=key,
            max_side=max_side,
            scores=True,  # each target's COCO score is part of result.json, --export-coco or not
        )


def not_found_prompts(outcomes: Iterable[ImageOutcome]) -> list[str]:
    return list(dict.fromkeys(t.prompt for o in outcomes for t in o.targets if not t.found))
