"""Stage 1: SCLIP's per-image overhead over the bare encoder, and reduced precision against fp32."""
from __future__ import annotations

import logging

import numpy as np
import torch

import sclip
from sclip import SCLIPSegmenter
from sclip.windows import preprocess, window_boxes
from sclip import preset_settings
from segedit.devices import precision_name

from .context import BenchContext, StageResult, Target, reduced_precision
from .models import alternating, photo

logger = logging.getLogger(__name__)

PRESET = "voc21"
PHOTO_SIZE = (500, 375)  # a typical VOC image: 448x336 at SCLIP's short side 336, 2x3 windows of 224
AGREEMENT_PHOTOS = ("astronaut", "chelsea")
TARGETS = (Target("sclip_over_batched_forward", 1.15, at_least=False),)


def run(ctx: BenchContext) -> StageResult:
    stage = StageResult("sclip")
    vocabulary = sclip.load_preset(PRESET).vocabulary
    settings = preset_settings(PRESET)
    image = photo("astronaut", *PHOTO_SIZE)
    reduced = reduced_precision(ctx.device)
    dtypes = list(dict.fromkeys([ctx.dtype, torch.float32, reduced]))
    segmenters = {
        dtype: SCLIPSegmenter(ctx.clip(dtype), cache_dir=ctx.text_cache_dir, progress=False) for dtype in dtypes
    }
    for segmenter in segmenters.values():
        segmenter.classifier(vocabulary)  # warm text cache: only image work is timed

    main = segmenters[ctx.dtype]
    resized = preprocess(image, settings.short_side).to(ctx.device)
    boxes = window_boxes(*resized.shape[-2:], settings.slide_crop, settings.slide_stride)
    crops = torch.cat([resized[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in boxes])

    def predict(segmenter: SCLIPSegmenter):
        images = alternating(image)
        return lambda: segmenter.predict(next(images), vocabulary, settings)

    tasks = {f"predict_{precision_name(dtype)}": predict(segmenter) for dtype, segmenter in segmenters.items()}
    tasks[f"batched_forward_{ctx.precision}"] = lambda: main.encoder(crops)
    precisions = ", ".join(map(precision_name, dtypes))
    logger.info("sclip: predict (%s) vs one batched forward of its %d crops", precisions, len(boxes))
    timings = ctx.time(tasks)
    stage.add(timings, {name: name.rsplit("_", 1)[1] for name in tasks})

    predict_main = timings[f"predict_{ctx.precision}"].median
    stage.metrics.update(
        {
            "preset": PRESET,
            "photo": f"astronaut resized to {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}",
            "windows": len(boxes),
            "crop_batch_shape": list(crops.shape),
            "sclip_over_batched_forward": predict_main / timings[f"batched_forward_{ctx.precision}"].median,
        }
    )
    stage.metrics.update(_precision_comparison(segmenters[torch.float32], segmenters[reduced], vocabulary, settings))
    reduced_name = precision_name(reduced)
    speedup = timings["predict_fp32"].median / timings[f"predict_{reduced_name}"].median
    stage.metrics[f"{reduced_name}_speedup"] = speedup
    stage.targets.extend(TARGETS)
    return stage


def _precision_comparison(fp32: SCLIPSegmenter, reduced: SCLIPSegmenter, vocabulary, settings) -> dict:
    """Fraction of pixels labelled differently than fp32, per photo (each at its own size)."""
    name = precision_name(reduced.encoder.dtype)
    disagreement, classes = {}, {}
    for photo_name in AGREEMENT_PHOTOS:
        image = photo(photo_name)
        reference = fp32.predict(image, vocabulary, settings).labels
        labels = reduced.predict(image, vocabulary, settings).labels
        disagreement[photo_name] = float((labels != reference).mean())
        classes[photo_name] = len(np.unique(reference))
    return {
        f"{name}_label_disagreement": disagreement,
        f"{name}_max_label_disagreement": max(disagreement.values()),
        "fp32_classes_present": classes,  # a map of one class would agree trivially
    }
