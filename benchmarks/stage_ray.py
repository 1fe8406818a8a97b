"""``--engine ray`` against ``--engine local``: one batch through ``main_sclip.py``, images per second.

Both engines run the same 32 images (500x375 photos, no SAM2 refinement) with the run's random CLIP saved
as a checkpoint and a text cache filled by a one-image warm-up, once each (round-robin is not possible:
a run is the unit), each as ``python main_sclip.py ...`` in a fresh process, as users run them. The Ray run starts its own local cluster with the engine's default workers (one per
core, at most four, each with its share of the threads), so its time includes Ray's start-up and the
workers' model loading; "steady" rates count from the first finished image to the last.

The projection for N workers (one per GPU) is a model, not a measurement: per-worker start-up (model
loading + the text classifier, once per worker) plus images x per-image cost / N, with the per-image cost
the sum of the stage costs measured here (Stage 1 from the run's result.json files; SAM2 and editing from
the ``sam2`` and ``inpaint`` stages when they ran before this one in the same invocation). It holds while
one decoding task per worker keeps up and the driver is not the bottleneck; run the stages with
``--device cuda`` to put GPU costs into it.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .context import BenchContext, StageResult, Target
from .models import REPO_ROOT, photo

logger = logging.getLogger(__name__)

IMAGES = 32
PHOTO = ("astronaut", 500, 375)
WORKERS_PROJECTED = (1, 2, 4, 8)
TARGETS = (Target("ray_over_local", 0.8, at_least=True),)


def _batch(folder: Path) -> Path:
    folder.mkdir(parents=True)
    pixels = photo(*PHOTO)
    for index in range(IMAGES):
        # shifted copies: every image has other pixels, so no cache of a previous image's work applies
        shifted = np.ascontiguousarray(np.roll(pixels, 11 * index, axis=1))
        Image.fromarray(shifted).save(folder / f"photo{index:02d}.png")
    return folder


def _timed_run(argv: list[str]) -> float:
    """Wall time of ``python main_sclip.py ARGV`` in a fresh process, as a user runs it: both engines
    pay their imports and model loading, none of it warm from this process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(REPO_ROOT / "main_sclip.py"), *argv], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 3):  # 3: random weights may well not find the prompt, which costs the same
        tail = (done.stderr.strip().splitlines() or [""])[-1]
        raise RuntimeError(f"main_sclip.py {' '.join(argv)} exited with {done.returncode}: {tail}")
    return seconds


def _records(output: Path) -> list[tuple[float, dict]]:
    paths = sorted(output.glob("*/result.json"))
    return sorted((path.stat().st_mtime, json.loads(path.read_text())) for path in paths)


def _steady_rate(records: list[tuple[float, dict]]) -> float:
    span = records[-1][0] - records[0][0]
    return (len(records) - 1) / span if span > 0 else float("nan")


def run(ctx: BenchContext) -> StageResult:
    from segedit import ray_engine

    stage = StageResult("ray")
    root = ctx.work_dir / "ray"
    batch = _batch(root / "batch")
    weights = root / "clip-random.pt"
    torch.save({key: value.float().cpu() for key, value in ctx.clip().model.state_dict().items()}, weights)
    flags = ["--prompt", "person", "--clip-weights", str(weights), "--cache-dir", str(ctx.text_cache_dir),
             "--device", ctx.device.type, "--precision", ctx.precision, "--no-sam-refinement", "-q"]

    _timed_run(["--image", str(batch / "photo00.png"), "--output", str(root / "warm")] + flags)
    warm_record = json.loads((root / "warm" / "result.json").read_text())
    load_seconds = sum(warm_record["model_load_seconds"].values())
    text_seconds = warm_record["timings"]["sclip_text"]  # the warm-up encodes the classifier, as each worker does once
    logger.info("ray: %d images, local engine", IMAGES)
    local = _timed_run(["--image", str(batch), "--output", str(root / "local")] + flags)
    logger.info("ray: %d images, ray engine (default workers on a local cluster)", IMAGES)
    ray_seconds = _timed_run(["--image", str(batch), "--output", str(root / "ray"), "--engine", "ray"] + flags)

    local_records, ray_records = _records(root / "local"), _records(root / "ray")
    stage1 = sum(
        sum(seconds for name, seconds in record["timings"].items() if name != "sclip_text") for _, record in ray_records
    ) / len(ray_records)
    finished = ctx.finished
    sam2 = finished["sam2"].metrics["sam_default_seconds"] if "sam2" in finished else None
    edit = finished["inpaint"].metrics["inpaint_extrapolated_edit_seconds"] if "inpaint" in finished else None
    per_image = {"segment": stage1}
    if sam2 is not None:
        per_image["segment_sam2"] = stage1 + sam2
        if edit is not None:
            # editing has its own pool of N workers, fed as masks are ready: the slower pool sets the pace
            per_image["segment_sam2_edit"] = max(stage1 + sam2, edit)
    start = load_seconds + text_seconds
    projection = {
        pipeline: {
            str(workers): {"images_per_s": workers / cost, f"seconds_for_{IMAGES}": start + IMAGES * cost / workers}
            for workers in WORKERS_PROJECTED
        }
        for pipeline, cost in per_image.items()
    }
    ray_workers = ray_engine.local_cpu_workers()  # the run passes no --ray-workers / --ray-gpus-per-worker
    stage.metrics.update({
        "images": IMAGES,
        "ray_workers": ray_workers,
        "photo": f"{PHOTO[0]} resized to {PHOTO[1]}x{PHOTO[2]}",
        "local_seconds": local,
        "ray_seconds": ray_seconds,
        "local_images_per_s": IMAGES / local,
        "ray_images_per_s": IMAGES / ray_seconds,
        "ray_over_local": local / ray_seconds,
        "local_steady_images_per_s": _steady_rate(local_records),
        "ray_steady_images_per_s": _steady_rate(ray_records),
        "ray_steady_over_local": _steady_rate(ray_records) / _steady_rate(local_records),
        "worker_start_seconds": {"models": load_seconds, "text_classifier": text_seconds},
        "per_image_seconds": {"stage1": stage1, "sam2_default_grid": sam2, "edit_50_steps": edit},
        "projection": projection,
    })
    stage.targets.extend(TARGETS)
    stage.notes.append(
        f"ray: one run each on {IMAGES} images; the Ray time includes starting a local cluster and its "
        f"{ray_workers} default worker(s). "
        "The projection (N workers: start-up + images x per-image cost / N) is a model from the measured stage "
        "costs, not a measurement; SAM2 and edit costs enter it only when the sam2 and inpaint stages ran first."
    )
    return stage
