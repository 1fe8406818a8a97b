"""Stage 2: SAM2's automatic mask generator, the documented fast CPU setting against the 32x32 default."""
from __future__ import annotations

import logging
from dataclasses import asdict

import numpy as np
import torch

import refine
from refine import MaskGeneratorSettings, SAM2MaskSource
from sclip import SCLIPSegmenter, SCLIPSettings, build_vocabulary

from .context import BenchContext, StageResult, Target
from .models import SAM2_CONFIG, alternating, build_sam2, photo

logger = logging.getLogger(__name__)

PHOTO_SIDE = 512
TARGETS = (Target("sam_fast_speedup", 4.0, at_least=True),)
# Seconds per image of the segment pipeline after warm-up on an H100-class GPU, per CLIP model.
PIPELINE_TARGET_SECONDS = {"ViT-B-16": 0.5, "ViT-L-14": 0.8}


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
