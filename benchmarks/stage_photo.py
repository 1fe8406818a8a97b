"""A full-size photo through the user-facing API: ``Segmenter(...).segment(photo, "person")`` with refinement.

Run as ``python -m benchmarks.stage_photo`` it builds a ``segedit.Segmenter`` from checkpoint files of
random weights of the real architectures (the CLIP ViT asked for, SAM 2.1 Hiera-tiny, SAM2's default
32x32 grid), written the way a user's ``--clip-weights`` / ``--sam2-checkpoint`` files are laid out, and
segments a 4000x3000 photo and the same photo downscaled to 1024 px long side, round-robin. It prints one
JSON line: the wall times, their ratio (SAM2 works at ``sam_max_side`` and SCLIP at its short side, so a
large photo should cost little more than its 1024 px version) and the process's peak resident memory.

A random SCLIP may label no pixel as the target, and ``segment`` then skips SAM2 (there is nothing to
refine). The stage passes ``refine_all_classes=True``, which always runs SAM2 and then refines the whole
label map at full size as well: the generator's cost does not depend on the weights, and the measurement
covers the heaviest refinement ``segment`` does.
"""
from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

import refine
from segedit import Segmenter
from segedit.options import SAM2Options

from .child import (
    child_arguments, child_parser, process_peak_rss_mb, proc_status_mb, reset_peak_rss, run_child, total_memory_mb,
)
from .context import BenchContext, StageResult, Target
from .models import SAM2_CONFIG, alternating, build_clip, build_sam2, photo
from .timing import Timing, time_interleaved

logger = logging.getLogger(__name__)

PROMPT = "person"
PHOTO_SIZE = (4000, 3000)
SMALL_SIDE = 1024
SYNTHETIC_MASKS = 300  # about what SAM2's 32x32 grid keeps on a busy street photo
TARGETS = (
    Target("photo_peak_rss_mb", 4096, at_least=False),
    Target("photo_time_ratio", 1.3, at_least=False),  # 4000x3000 over the 1024 px photo
)


def run(ctx: BenchContext) -> StageResult:
    stage = StageResult("photo")
    logger.info("photo: segment('%s') on a %dx%d photo vs %d px, in a separate process", PROMPT, *PHOTO_SIZE, SMALL_SIDE)
    metrics = run_child(__name__, child_arguments(ctx))
    for name, record in metrics.pop("timings").items():
        timing = Timing(record["seconds"], record["flops"], record["flops_in_timed_run"])
        stage.timings[name] = (timing, metrics["precision"]["clip"])
    stage.metrics.update(metrics)
    stage.targets.extend(TARGETS)
    stage.notes.append(
        "photo: refine_all_classes=True makes SAM2 run even when the random SCLIP labels no target pixel; "
        "peak RSS is the whole child process (models loaded from checkpoint files, both photos); random SAM2 "
        "weights keep no mask, so 300 synthetic masks at SAM2's working size run the vote and the label-map "
        "refinement on the 12 MP result inside the measured peak (photo_synthetic_masks)"
    )
    return stage


def _write_checkpoints(model: str, seed: int, directory: Path) -> tuple[Path, Path]:
    """Random CLIP (OpenAI state-dict layout) and SAM2 (Meta's ``{"model": ...}``) files, as users pass them."""
    clip_path = directory / f"{model}-random.pt"
    torch.save(build_clip(model, torch.device("cpu"), torch.float32, seed).model.state_dict(), clip_path)
    sam2_path = directory / "sam2.1_hiera_tiny_random.pt"
    torch.save({"model": build_sam2(torch.device("cpu"), seed).state_dict()}, sam2_path)
    return clip_path, sam2_path


def measure(model: str, device: str, precision: str, seed: int, repeat: int, max_seconds: float) -> dict:
    large = photo("astronaut", *PHOTO_SIZE)
    small_size = (SMALL_SIDE, round(SMALL_SIDE * PHOTO_SIZE[1] / PHOTO_SIZE[0]))
    small = np.ascontiguousarray(cv2.resize(large, small_size, interpolation=cv2.INTER_AREA))
    with tempfile.TemporaryDirectory(prefix="segedit-bench-photo-") as scratch:
        clip_path, sam2_path = _write_checkpoints(model, seed, Path(scratch))
        segmenter = Segmenter(
            model=model, clip_weights=clip_path, device=device, precision=precision, cache_dir=Path(scratch) / "text",
            sam2=SAM2Options(checkpoint=str(sam2_path), config=SAM2_CONFIG),
        )
        source = segmenter.mask_source  # loads SAM2
        # First-call costs outside the timed runs: the text classifier, and SAM2 with a one-point grid.
        segmenter.segment(small, PROMPT, refine_masks=False)
        one_point = refine.MaskGeneratorSettings(points_per_side=1)
        refine.SAM2MaskSource(source.model, one_point, dtype=source.dtype).generate(small)

        def task(image: np.ndarray):
            images = alternating(image)  # SCLIP reuses the logits of the image it saw last

            def segment():
                source.clear_cache()  # every run must generate its masks
                return segmenter.segment(next(images), PROMPT, refine_all_classes=True)

            return segment

        scoped = reset_peak_rss()
        names = {"segment_1024": small, f"segment_{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}": large}
        timings = time_interleaved(
            {name: task(image) for name, image in names.items()}, segmenter.device, repeat, max_seconds, warmup=False
        )
        masks_record = _refine_many_masks(timings[f"segment_{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}"].result)
    large_name = f"segment_{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}"
    result = timings[large_name].result
    target = result.targets[PROMPT]
    record = {
        "photo": f"astronaut resized to {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}, and that downscaled to {small_size[0]}x{small_size[1]}",
        "api": f"Segmenter(model={model!r}, clip_weights=FILE, sam2=SAM2Options(checkpoint=FILE)).segment(image, "
        f"{PROMPT!r}, refine_all_classes=True)",
        "sam2": f"{SAM2_CONFIG} (random weights), {source.settings.points_per_side}x{source.settings.points_per_side} "
        f"points, sam_max_side {source.settings.sam_max_side}",
        "precision": segmenter.precision.names(["clip", "sam2"]),
        "timings": {name: timing.to_json(None) for name, timing in timings.items()},
        "photo_large_seconds": timings[large_name].median,
        "photo_small_seconds": timings["segment_1024"].median,
        "photo_time_ratio": timings[large_name].median / timings["segment_1024"].median,
        "photo_stage_seconds": {key: round(value, 3) for key, value in result.timings.items()},
        "photo_labels_shape": list(result.labels.shape),
        "photo_target_sclip_pixels": int(target.sclip_mask.sum()),
        "photo_refinement": target.refinement,
        **masks_record,
        "photo_peak_rss_mb": process_peak_rss_mb(),
        "photo_segment_peak_rss_mb": proc_status_mb("VmHWM") if scoped else None,
        "memory_total_mb": total_memory_mb(),
    }
    if segmenter.device.type == "cuda":
        record["cuda_peak_allocated_mb"] = torch.cuda.max_memory_allocated(segmenter.device) / 2**20
    return record


def _refine_many_masks(result) -> dict:
    """Stage 2 with as many masks as SAM2 keeps on a busy photo, on the 12 MP result.

    Random SAM2 weights pass none of the generator's quality filters, so the timed runs hold no masks;
    this runs the vote and the full-size label-map refinement with synthetic masks at SAM2's working
    size instead, so the peak memory covers holding and upsampling them.
    """
    height, width = result.labels.shape
    scale = refine.MaskGeneratorSettings().sam_max_side / max(height, width)
    work_h, work_w = round(height * scale), round(width * scale)
    generator = np.random.default_rng(0)
    stack = np.zeros((SYNTHETIC_MASKS, work_h, work_w), dtype=bool)
    rows, cols = np.ogrid[:work_h, :work_w]
    for mask in stack:
        cy, cx = generator.uniform(0, work_h), generator.uniform(0, work_w)
        ry, rx = generator.uniform(10, work_h / 3), generator.uniform(10, work_w / 3)
        mask[((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1] = True
    masks = refine.SAM2Masks.from_arrays(stack, image_size=(height, width))
    del stack
    started = time.perf_counter()
    target = np.zeros((height, width), dtype=bool)
    target[:, : width // 2] = True  # a large target: many masks kept, a large union to bring to full size
    vote = refine.majority_vote(target, masks)
    refine.refine_label_map(result.labels, masks)
    return {"photo_synthetic_masks": {"masks": len(masks), "working_size": [work_h, work_w], "kept": vote.kept,
                                      "vote_and_label_map_seconds": round(time.perf_counter() - started, 3)}}


def main(argv: list[str] | None = None) -> None:
    parser = child_parser(__doc__)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.model, args.device, args.precision, args.seed, args.repeat, args.max_seconds)))


if __name__ == "__main__":
    main()
