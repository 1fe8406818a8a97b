"""CorrCLIP against SCLIP, Stage 1 only: a 4000x3000 photo and COCO-Stuff's 171 classes, side by side.

Run as ``python -m benchmarks.stage_corrclip`` it builds one random CLIP of the run's architecture (shared by
both methods, as the issue asks: same photo, same CLIP) and a random DINO ViT-B/8 (``--model tiny``: a 6-block
toy CLIP and a 2-block toy DINO), and prints one JSON line:

* the peak resident memory of one ``predict`` of each method (the counter is restarted before each, so a peak
  belongs to that call, models included);
* the time per image of each, timed round-robin so the ratio sees the same machine load, and their ratio.

Each method runs with its own ``coco_stuff`` preset, as a user's ``--preset coco_stuff`` would: SCLIP at short
side 448 with 224-px windows, CorrCLIP at 336 with 336-px windows. CorrCLIP's region map is excluded from
the timing, as the issue asks: 64 synthetic regions (CorrCLIP's 8x8-point SAM2 setting keeps at most one mask
per point) are painted once, before anything is measured. Text embeddings use one template per class (the
text stage measures the 80-template classifier; both methods share it) and are encoded before the timing.
"""
from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import time

import numpy as np
import torch

import sclip
from sclip import SCLIPSegmenter
from sclip.corrclip import CorrCLIPSegmenter, load_corrclip_preset
from sclip.corrclip.dino import LoadedDINO, dino_from_state_dict
from sclip.text import TEMPLATES, TextClassifier
from segedit.devices import Precision, resolve_device

from .child import child_arguments, child_parser, proc_status_mb, reset_peak_rss, run_child, total_memory_mb
from .context import BenchContext, StageResult, Target
from .models import REPO_ROOT, TINY_MODEL, _tiny_clip_builder, alternating, build_clip, photo
from .timing import Timing, time_interleaved

logger = logging.getLogger(__name__)

PRESET = "coco_stuff"  # 171 classes
PHOTO_SIZE = (4000, 3000)
REGIONS = 64
TARGETS = (Target("corrclip_over_sclip_time", 4.0, at_least=False),)


def run(ctx: BenchContext) -> StageResult:
    stage = StageResult("corrclip")
    logger.info("corrclip: CorrCLIP vs SCLIP, %s on a %dx%d photo, in a separate process", PRESET, *PHOTO_SIZE)
    metrics = run_child(__name__, child_arguments(ctx))
    for name, record in metrics.pop("timings").items():
        stage.timings[name] = (Timing(record["seconds"], record["flops"], record["flops_in_timed_run"]), ctx.precision)
    stage.metrics.update(metrics)
    stage.targets.extend(TARGETS)
    stage.notes.append(
        "corrclip: each method with its own coco_stuff preset (SCLIP 448 px / 224 windows, CorrCLIP 336 px / 336 "
        "windows); the region map (64 synthetic regions) is made before timing; peaks are per predict call, "
        "models included; one text template per class"
    )
    return stage


def build_dino(model: str, device: torch.device, dtype: torch.dtype, seed: int) -> LoadedDINO:
    """Random DINO ViT-B/8 (the toy DINO of the tests for ``--model tiny``), loaded from a DINO-format state dict."""
    if model == TINY_MODEL:
        # the toy DINO lives with the tests, like the toy ViT (see models._tiny_clip_builder)
        spec = importlib.util.spec_from_file_location("benchmark_tiny_dino", REPO_ROOT / "tests" / "tiny_dino.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        state = module.tiny_dino_state_dict(seed)
    else:
        from timm.models.vision_transformer import VisionTransformer

        torch.manual_seed(seed)
        state = VisionTransformer(patch_size=8, embed_dim=768, depth=12, num_heads=12, num_classes=0).state_dict()
    vit = dino_from_state_dict(state).to(device=device, dtype=dtype).eval().requires_grad_(False)
    return LoadedDINO(model=vit, name="random DINO ViT", weights_id=f"random:dino:{seed}")


def synthetic_region_map(height: int, width: int, count: int = REGIONS, seed: int = 0) -> np.ndarray:
    """``count`` random ellipses painted in ascending area (larger ones overwrite), 0 where none lies.

    What ``region_map_from_masks`` gives for these masks, painted directly: a 12-MP stack of masks would
    itself take most of a gigabyte.
    """
    generator = np.random.default_rng(seed)
    centres = generator.uniform((0, 0), (height, width), size=(count, 2))
    radii = generator.uniform((height / 30, width / 30), (height / 4, width / 4), size=(count, 2))
    region_map = np.zeros((height, width), dtype=np.int32)
    rows, cols = np.ogrid[:height, :width]
    for region_id, index in enumerate(np.argsort(radii.prod(axis=1), kind="stable"), start=1):
        (cy, cx), (ry, rx) = centres[index], radii[index]
        y0, y1 = max(0, int(cy - ry)), min(height, int(cy + ry) + 1)
        x0, x1 = max(0, int(cx - rx)), min(width, int(cx + rx) + 1)
        inside = ((rows[y0:y1] - cy) / ry) ** 2 + ((cols[:, x0:x1] - cx) / rx) ** 2 <= 1
        region_map[y0:y1, x0:x1][inside] = region_id
    return region_map


def measure(model: str, device: torch.device, dtype: torch.dtype, seed: int, repeat: int, max_seconds: float) -> dict:
    if model == TINY_MODEL:  # CorrCLIP needs >= 5 CLIP blocks; the default toy ViT has 3
        clip = build_clip(model, device, dtype, seed)
        clip = type(clip)(model=_tiny_clip_builder()(seed, layers=6).to(device=device, dtype=dtype), name=model,
                          weights_id=f"random:{model}-6:{seed}")
    else:
        clip = build_clip(model, device, dtype, seed)
    text = TextClassifier(clip.model, clip.weights_id, templates=TEMPLATES[:1], progress=False)
    sclip_segmenter = SCLIPSegmenter(clip, progress=False)
    corrclip_segmenter = CorrCLIPSegmenter(clip, build_dino(model, device, dtype, seed), progress=False)
    sclip_segmenter.text = corrclip_segmenter.text = text
    sclip_vocabulary, sclip_settings = sclip.load_preset(PRESET).vocabulary, sclip.preset_settings(PRESET)
    corrclip_preset = load_corrclip_preset(PRESET)

    image = photo("astronaut", *PHOTO_SIZE)
    region_map = synthetic_region_map(*image.shape[:2], seed=seed)
    # text embeddings outside every measurement
    text(sclip_vocabulary.names)
    text(corrclip_preset.vocabulary.names)

    def sclip_predict(picture):
        return sclip_segmenter.predict(picture, sclip_vocabulary, sclip_settings)

    def corrclip_predict(picture, regions):
        return corrclip_segmenter.predict(picture, corrclip_preset.vocabulary, corrclip_preset.settings,
                                          region_map=regions)

    peaks, first_timings = {}, {}
    for name, call in [("sclip", lambda: sclip_predict(image)), ("corrclip", lambda: corrclip_predict(image, region_map))]:
        scoped = reset_peak_rss()
        started = time.perf_counter()
        first_timings[name] = {key: round(value, 3) for key, value in call().timings.items()}
        first_timings[name]["total"] = round(time.perf_counter() - started, 3)
        peaks[name] = proc_status_mb("VmHWM") if scoped else None

    if repeat < 1:  # first calls only (a loaded machine): each method's single predict is its time
        timings = {}
        sclip_seconds, corrclip_seconds = first_timings["sclip"]["total"], first_timings["corrclip"]["total"]
    else:
        mirrored = (np.ascontiguousarray(image[:, ::-1]), np.ascontiguousarray(region_map[:, ::-1]))
        sclip_images = alternating(image)  # both segmenters reuse the last image's logits: alternate to recompute
        corrclip_inputs = itertools.cycle([(image, region_map), mirrored])
        timings = time_interleaved(
            {
                "sclip_predict": lambda: sclip_predict(next(sclip_images)),
                "corrclip_predict": lambda: corrclip_predict(*next(corrclip_inputs)),
            },
            device, repeat, max_seconds, warmup=False,
        )
        sclip_seconds, corrclip_seconds = timings["sclip_predict"].median, timings["corrclip_predict"].median
    return {
        "preset": PRESET,
        "classes": len(sclip_vocabulary),
        "photo": f"astronaut resized to {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}",
        "regions": int(region_map.max()),
        "sclip_settings": sclip_settings.to_json(),
        "corrclip_settings": corrclip_preset.settings.to_json(),
        "timings": {name: timing.to_json(None) for name, timing in timings.items()},
        "sclip_seconds": sclip_seconds,
        "corrclip_seconds": corrclip_seconds,
        "corrclip_over_sclip_time": corrclip_seconds / sclip_seconds,
        "first_call_timings": first_timings,
        "sclip_peak_rss_mb": peaks["sclip"],
        "corrclip_peak_rss_mb": peaks["corrclip"],
        "memory_total_mb": total_memory_mb(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = child_parser(__doc__)
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    dtype = Precision.resolve(args.precision, device).clip
    print(json.dumps(measure(args.model, device, dtype, args.seed, args.repeat, args.max_seconds)))


if __name__ == "__main__":
    main()
