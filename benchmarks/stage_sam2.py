"""Stage 2: SAM2's automatic mask generator, the documented fast CPU setting against the 32x32 default.

Stage ``sam2_points`` (CUDA): the SAM2 stage of a 1024 px photo under the precision policy (bf16 autocast where the card has
it): the full 32x32 grid, guided prompts for a target of a fifth of the photo, and the sparse 8x8 grid,
each with the whole batch of points per decoder call that free memory allows. Stage ``sam2_compile``: the
same with ``compile=True`` (torch.compile of the image encoder and mask decoder), for information.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict

import numpy as np
import torch

import refine
from refine import MaskGeneratorSettings, SAM2MaskSource
from sclip import SCLIPSegmenter, SCLIPSettings, build_vocabulary

from segedit.devices import Precision, precision_name

from .context import BenchContext, StageResult, Target
from .models import SAM2_CONFIG, alternating, build_sam2, photo
from .stage_points import ellipse

logger = logging.getLogger(__name__)

PHOTO_SIDE = 512
TARGETS = (Target("sam_fast_speedup", 4.0, at_least=True),)
# Seconds per image of the segment pipeline after warm-up on an H100-class GPU, per CLIP model.
PIPELINE_TARGET_SECONDS = {"ViT-B-16": 0.5, "ViT-L-14": 0.8}
# Seconds of the SAM2 stage of a 1024 px photo on an H100-class GPU (required by benchmarks/gpu_check.sh).
POINTS_TARGETS = (Target("sam2_grid_seconds", 0.35, at_least=False), Target("sam2_guided_seconds", 0.15, at_least=False))
GPU_PHOTO_SIZE = (1024, 768)
GUIDED_TARGET_SHARE = 0.2
POINT_VARIANTS = {"grid": ("default", "grid"), "guided": ("default", "guided"), "sparse": ("sparse", "grid")}


def _generate(source: SAM2MaskSource, image: np.ndarray):
    def task():
        source.clear_cache()  # the source caches per image; every run must decode
        return source.generate(image)

    return task


def run(ctx: BenchContext) -> StageResult:
    stage = StageResult("sam2")
    image = photo("astronaut", PHOTO_SIDE, PHOTO_SIDE)
    model = build_sam2(ctx.device, ctx.seed)
    # A one-point grid runs the image encoder and one decoder batch: first-call costs, for a few seconds.
    SAM2MaskSource(model, MaskGeneratorSettings(points_per_side=1)).generate(image)

    sources = {"fast": SAM2MaskSource(model, MaskGeneratorSettings.fast()), "default": SAM2MaskSource(model)}
    sides = {name: source.settings.points_per_side for name, source in sources.items()}
    logger.info("sam2: %s", " vs ".join(f"{name} {side}x{side}" for name, side in sides.items()))
    # The default takes minutes on a CPU: no warm-up beyond the one above, FLOPs counted in the first run.
    timings = ctx.time({f"generate_{name}": _generate(source, image) for name, source in sources.items()}, warmup=False)
    # SAM2MaskSource runs in fp32 except under CUDA autocast (bf16 where supported, else fp16).
    precision = "fp32"
    if ctx.device.type == "cuda":
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    stage.add(timings, precision)
    stage.metrics.update(
        {
            "model": f"{SAM2_CONFIG} (random weights)",
            "photo": f"astronaut resized to {PHOTO_SIDE}x{PHOTO_SIDE}",
            "settings": {name: asdict(source.settings) for name, source in sources.items()},
            "masks": {name: len(timings[f"generate_{name}"].result) for name in sources},
            "sam_default_seconds": timings["generate_default"].median,
            "sam_fast_seconds": timings["generate_fast"].median,
            "sam_fast_speedup": timings["generate_default"].median / timings["generate_fast"].median,
        }
    )
    stage.notes.append(
        "sam2: random weights give few or no masks, but the decoder runs every point batch all the same; "
        "only mask post-processing, which is cheap, depends on the weights"
    )
    if ctx.device.type == "cuda":
        pipeline = ctx.time({"segment_pipeline": _pipeline(ctx, sources["default"], image)})
        stage.add(pipeline, ctx.precision)
        stage.metrics["segment_pipeline_seconds"] = pipeline["segment_pipeline"].median
        if ctx.model in PIPELINE_TARGET_SECONDS:
            stage.targets.append(Target("segment_pipeline_seconds", PIPELINE_TARGET_SECONDS[ctx.model], at_least=False))
    else:
        stage.notes.append("sam2: the full segment pipeline per image is timed on CUDA only")
    stage.targets.extend(TARGETS)
    return stage


def run_points(ctx: BenchContext) -> StageResult:
    """Stage ``sam2_points`` (CUDA): the SAM2 stage of a 1024 px photo, full grid, guided, sparse; compiled too.

    On a CPU the full grid alone takes minutes (``points`` measures the CPU side end to end), so the stage
    only notes that it ran nothing there.
    """
    stage = StageResult("sam2_points")
    if ctx.device.type != "cuda":
        stage.notes.append("sam2_points: measured on CUDA only; on a CPU see the points stage")
        return stage
    tasks, dtype = _point_tasks(ctx)
    timings = ctx.time(tasks)
    stage.add(timings, precision_name(dtype))
    for name in POINT_VARIANTS:
        stage.metrics[f"sam2_{name}_seconds"] = timings[f"sam2_{name}"].median
        stage.metrics[f"sam2_{name}_points"] = timings[f"sam2_{name}"].result.prompts.to_json()
    stage.metrics["sam2_photo"] = f"astronaut resized to {GPU_PHOTO_SIZE[0]}x{GPU_PHOTO_SIZE[1]}, target an ellipse " \
        f"of {GUIDED_TARGET_SHARE:.0%}, SAM2 in {precision_name(dtype)}"
    stage.targets.extend(POINTS_TARGETS)

    return stage


def run_compile(ctx: BenchContext) -> StageResult:
    """Stage ``sam2_compile`` (CUDA, informational): ``sam2_points`` with ``compile=True``.

    Compiling takes a minute or so on the first calls (not timed: ``sam2_compile_warmup_seconds``); it is a
    stage of its own so that a slow compile cannot cost the required ``sam2_points`` measurements.
    """
    stage = StageResult("sam2_compile")
    if ctx.device.type != "cuda":
        _decoder_compile_on_cpu(ctx, stage)
        return stage
    started = time.perf_counter()
    tasks, dtype = _point_tasks(ctx, compile=True)
    for task in tasks.values():
        task()
    stage.metrics["sam2_compile_warmup_seconds"] = time.perf_counter() - started
    timings = ctx.time(tasks, warmup=False)
    stage.add(timings, precision_name(dtype))
    for name, timing in timings.items():
        stage.metrics[f"{name}_seconds"] = timing.median
    return stage


def _decoder_compile_on_cpu(ctx: BenchContext, stage: StageResult) -> None:
    """Why ``compile=True`` is ignored on a CPU: one 16-point decoder batch, eager against compiled.

    The decoder is SAM2's cost per point on a CPU; the encoder runs once per image. Compiling the model in
    place would change it for the rest of the run, so this runs last in its own model.
    """
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    model = build_sam2(ctx.device, ctx.seed)
    predictor = SAM2ImagePredictor(model)
    generator = torch.Generator().manual_seed(ctx.seed)
    points = torch.rand(16, 1, 2, generator=generator) * model.image_size
    labels = torch.ones(16, 1, dtype=torch.int)
    with torch.inference_mode():
        predictor.set_image(photo("astronaut", *GPU_PHOTO_SIZE))

        def batch():
            return predictor._predict(points, labels, multimask_output=True, return_logits=True)

        eager = ctx.time({"decoder_batch_eager": batch})
        model.sam_mask_decoder.compile(dynamic=True)
        started = time.perf_counter()
        batch()
        stage.metrics["decoder_compile_warmup_seconds"] = time.perf_counter() - started
        compiled = ctx.time({"decoder_batch_compiled": batch}, warmup=False)
    stage.add({**eager, **compiled}, "fp32")
    stage.metrics["cpu_decoder_compile_speedup"] = (
        eager["decoder_batch_eager"].median / compiled["decoder_batch_compiled"].median)
    stage.notes.append("sam2_compile: on a CPU only the mask decoder (SAM2's per-point cost) is compared, one "
                       "16-point batch eager vs torch.compile; SAM2MaskSource ignores compile=True there")


def _point_tasks(ctx: BenchContext, compile: bool = False) -> tuple[dict, torch.dtype]:
    """One task per variant (full grid, guided, sparse) on the 1024 px photo, and SAM2's precision."""
    image = photo("astronaut", *GPU_PHOTO_SIZE)
    target = ellipse(image.shape[:2], GUIDED_TARGET_SHARE)
    dtype = Precision.resolve("auto", ctx.device).sam2
    model = build_sam2(ctx.device, ctx.seed)
    tasks = {}
    for name, (grid, mode) in POINT_VARIANTS.items():
        source = SAM2MaskSource(model, MaskGeneratorSettings.named(grid), dtype=dtype,
                                prompts=refine.PointPrompts(mode=mode), compile=compile)
        tasks[f"sam2_{name}{'_compiled' if compile else ''}"] = _generate_for(source, image, target)
    return tasks, dtype


def _generate_for(source: SAM2MaskSource, image: np.ndarray, target: np.ndarray):
    def task():
        source.clear_cache()  # the source caches per image; every run must decode
        return source.generate(image, targets=[target])

    return task


def _pipeline(ctx: BenchContext, source: SAM2MaskSource, image: np.ndarray):
    """One image through Stage 1 and Stage 2 as ``segment`` runs it: SCLIP, SAM2 masks, majority vote."""
    segmenter = SCLIPSegmenter(ctx.clip(), cache_dir=ctx.text_cache_dir, progress=False)
    vocabulary = build_vocabulary("person").vocabulary
    segmenter.classifier(vocabulary)
    target = vocabulary.find("person")

    images = alternating(image)

    def task():
        current = next(images)
        labels = segmenter.predict(current, vocabulary, SCLIPSettings()).labels
        source.clear_cache()
        return refine.majority_vote(labels == target, source.generate(current))

    return task
