"""Which points SAM2 decodes, side by side on one photo with the same weights: full grid, guided, sparse.

Run as ``python -m benchmarks.stage_points`` it builds a ``segedit.Segmenter`` from checkpoint files of
random weights (the CLIP ViT asked for, SAM 2.1 Hiera-tiny), as ``stage_photo`` does, and runs the dense
pipeline on a 4000x3000 photo (``--photo-side`` for a smaller one while iterating) once per variant:
Stage 1 (``segment(..., refine_masks=False)``: SCLIP's windows and full-size post-processing), SAM2's
masks for the target, and the majority vote. Random SCLIP weights label arbitrary pixels, so the target
is a fixed ellipse of a known share of the photo, the same for every variant. Variants:

* ``grid``: the default 32x32 grid, three masks per point, every point decoded (today's pipeline);
* ``guided``: the same grid, only the points near the target (default margin), for a target of 20 % and 5 %;
* ``sparse``: CorrCLIP's 8x8 grid with one mask per point, whole grid and guided.

Each variant gets a fresh mask source (nothing cached) and its own peak resident memory (Linux's VmHWM is
reset before it). Prints one JSON line.
"""
from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import refine
from segedit import Segmenter
from segedit.options import SAM2Options

from .child import child_arguments, child_parser, proc_status_mb, process_peak_rss_mb, reset_peak_rss, run_child
from .context import BenchContext, StageResult, Target
from .models import SAM2_CONFIG, photo
from .stage_photo import _write_checkpoints
from .timing import Timing

logger = logging.getLogger(__name__)

PROMPT = "person"
PHOTO_SIZE = (4000, 3000)
# name -> (grid setting, points mode, share of the photo the target covers); the full grid, which the
# others are compared with, runs last so that a failure in a quick variant shows before minutes are spent.
VARIANTS = {
    "guided": ("default", "guided", 0.2),
    "guided_small": ("default", "guided", 0.05),
    "sparse": ("sparse", "grid", 0.2),
    "sparse_guided": ("sparse", "guided", 0.2),
    "grid": ("default", "grid", 0.2),
}
TARGETS = (
    Target("points_guided_speedup", 5.0, at_least=True),  # end to end, full 32x32 grid over guided, 20 % target
    Target("points_sparse_speedup", 10.0, at_least=True),  # end to end, full 32x32 grid over the sparse 8x8 grid
    Target("points_guided_peak_ratio", 1.02, at_least=False),  # guided peak RSS over the full grid's
)


def ellipse(size: tuple[int, int], share: float) -> np.ndarray:
    """(H, W) bool: an ellipse centred in the photo (where the astronaut is), of ``share`` of its area."""
    height, width = size
    rows, cols = np.ogrid[:height, :width]
    ry = np.sqrt(share * height * width / np.pi * height / width)
    rx = ry * width / height
    return ((rows - height / 2) / ry) ** 2 + ((cols - width / 2) / rx) ** 2 <= 1


def run(ctx: BenchContext) -> StageResult:
    stage = StageResult("points")
    logger.info("points: full grid vs guided vs sparse on a %dx%d photo, in a separate process", *PHOTO_SIZE)
    metrics = run_child(__name__, child_arguments(ctx))
    for name, record in metrics.pop("timings").items():
        stage.timings[name] = (Timing(record["seconds"]), metrics["precision"]["clip"])
    stage.metrics.update(metrics)
    stage.targets.extend(TARGETS)
    stage.notes.append(
        "points: one run per variant (the full grid takes minutes on a CPU), round one after the other with "
        "the same photo and weights; the target is a fixed ellipse because random SCLIP weights label arbitrary "
        "pixels; peak RSS is reset (VmHWM) before each variant"
    )
    return stage


def measure(model: str, device: str, precision: str, seed: int, photo_side: int) -> dict:
    size = (photo_side, round(photo_side * PHOTO_SIZE[1] / PHOTO_SIZE[0]))
    image = photo("astronaut", *size)
    with tempfile.TemporaryDirectory(prefix="segedit-bench-points-") as scratch:
        clip_path, sam2_path = _write_checkpoints(model, seed, Path(scratch))
        segmenter = Segmenter(
            model=model, clip_weights=clip_path, device=device, precision=precision, cache_dir=Path(scratch) / "text",
            sam2=SAM2Options(checkpoint=str(sam2_path), config=SAM2_CONFIG),
        )
        sam2 = segmenter.mask_source  # loads SAM2 the user's way
        # First-call costs outside the timed runs: the text classifier, and SAM2 with a one-point grid.
        segmenter.segment(image[:512, :512], PROMPT, refine_masks=False)
        refine.SAM2MaskSource(sam2.model, refine.MaskGeneratorSettings(points_per_side=1), dtype=sam2.dtype).generate(
            image[:512, :512])

        records, flipped = {}, np.ascontiguousarray(image[:, ::-1])
        for index, (name, (grid, mode, share)) in enumerate(VARIANTS.items()):
            # SCLIP reuses the logits of the image it saw last: alternate two images of the same size.
            current = image if index % 2 == 0 else flipped
            target = ellipse(image.shape[:2], share)
            source = refine.SAM2MaskSource(sam2.model, refine.MaskGeneratorSettings.named(grid), dtype=sam2.dtype,
                                           prompts=refine.PointPrompts(mode=mode))
            scoped = reset_peak_rss()
            started = time.perf_counter()
            stage1 = segmenter.segment(current, PROMPT, refine_masks=False)
            after_stage1 = time.perf_counter()
            masks = source.generate(current, targets=[target])
            after_sam2 = time.perf_counter()
            vote = refine.majority_vote(target, masks)
            finished = time.perf_counter()
            records[name] = {
                "seconds": finished - started,
                "stage1_seconds": after_stage1 - started,
                "sam2_seconds": after_sam2 - after_stage1,
                "vote_seconds": finished - after_sam2,
                "target_share": round(float(target.mean()), 4),
                "prompts": masks.prompts.to_json(),
                "masks": len(masks),
                "kept": vote.kept,
                "peak_rss_mb": proc_status_mb("VmHWM") if scoped else None,
                "labels_shape": list(stage1.labels.shape),
            }
            logger.info("points: %s %.1f s (SAM2 %.1f s, %d of %d points)", name, records[name]["seconds"],
                        records[name]["sam2_seconds"], masks.prompts.points_decoded, masks.prompts.points_in_grid)
    grid = records["grid"]
    result = {
        "photo": f"astronaut resized to {size[0]}x{size[1]}",
        "sam2": f"{SAM2_CONFIG} (random weights), sam_max_side {sam2.settings.sam_max_side}",
        "precision": segmenter.precision.names(["clip", "sam2"]),
        "variants": records,
        "timings": {name: {"seconds": [record["seconds"]]} for name, record in records.items()},
        "points_guided_speedup": grid["seconds"] / records["guided"]["seconds"],
        "points_guided_small_speedup": grid["seconds"] / records["guided_small"]["seconds"],
        "points_sparse_speedup": grid["seconds"] / records["sparse"]["seconds"],
        "points_sparse_guided_speedup": grid["seconds"] / records["sparse_guided"]["seconds"],
        "points_sam2_guided_speedup": grid["sam2_seconds"] / records["guided"]["sam2_seconds"],
        "points_sam2_sparse_speedup": grid["sam2_seconds"] / records["sparse"]["sam2_seconds"],
        "points_peak_rss_mb": process_peak_rss_mb(),
    }
    if grid["peak_rss_mb"] and records["guided"]["peak_rss_mb"]:
        result["points_guided_peak_ratio"] = records["guided"]["peak_rss_mb"] / grid["peak_rss_mb"]
    else:  # not Linux: no per-variant peak; the ratio stays at its neutral value and says so
        result["points_guided_peak_ratio"] = 1.0
        result["peak_note"] = "per-variant peak RSS needs Linux's /proc/self/clear_refs; not measured"
    if segmenter.device.type == "cuda":
        result["cuda_peak_allocated_mb"] = torch.cuda.max_memory_allocated(segmenter.device) / 2**20
    return result


def main(argv: list[str] | None = None) -> None:
    parser = child_parser(__doc__)
    parser.add_argument("--photo-side", type=int, default=PHOTO_SIZE[0], help="longer side of the photo (4000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(json.dumps(measure(args.model, args.device, args.precision, args.seed, args.photo_side)))


if __name__ == "__main__":
    main()
