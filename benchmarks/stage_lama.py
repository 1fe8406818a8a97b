"""LaMa removal: one edit at 512x512 and one on a 12-MP photo (4000x3000) whose region is 10 % of it.

No architecture code for big-lama exists outside its TorchScript export, and nothing is downloaded, so the
network timed is the test suite's tiny TorchScript stand-in (same calling convention) unless the real weights
are already on disk: ``DEFAULT_LAMA_WEIGHTS`` in the Hugging Face cache, or a file named by the environment
variable LAMA_WEIGHTS. With the stand-in the figures measure everything around the network (window choice,
feathering, resizing, padding, paste-back) and the network's input size, not big-lama's own cost; the report
says which ran.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from inpaint import DEFAULT_LAMA_WEIGHTS, LamaRemover
from inpaint.settings import LAMA_FILE_NAMES

from .context import BenchContext, StageResult
from .models import photo, test_helper

logger = logging.getLogger(__name__)

PHOTO_12MP = (3000, 4000)  # height, width
REGION_FRACTION = 0.10


def _real_weights() -> str | None:
    named = os.environ.get("LAMA_WEIGHTS")
    if named:
        return named
    from huggingface_hub import try_to_load_from_cache

    for name in LAMA_FILE_NAMES:
        cached = try_to_load_from_cache(DEFAULT_LAMA_WEIGHTS, name)
        if isinstance(cached, str):
            return cached
    return None


def _region(height: int, width: int, fraction: float) -> np.ndarray:
    """A centred ellipse covering ``fraction`` of the image, as a bool mask."""
    rows, cols = np.ogrid[:height, :width]
    # An ellipse with semi-axes a, b covers pi*a*b; keep the image's aspect.
    scale = np.sqrt(fraction / np.pi)
    a, b = scale * width, scale * height
    return ((cols - width / 2) / a) ** 2 + ((rows - height / 2) / b) ** 2 <= 1


def run(ctx: BenchContext) -> StageResult:
    stage = StageResult("lama")
    weights = _real_weights()
    if weights is None:
        import tempfile
        from pathlib import Path

        save_tiny_lama = test_helper("tiny_lama.py", "save_tiny_lama", "the lama stage without real weights")
        weights = str(save_tiny_lama(Path(tempfile.mkdtemp(dir=ctx.work_dir)) / "big-lama.pt"))
        network = "tiny TorchScript stand-in (big-lama weights not on disk)"
    else:
        network = f"big-lama from {weights}"
    remover = LamaRemover(weights, device=ctx.device, progress=False)
    inputs = []
    traced = remover.network

    def spy(image, mask):
        inputs.append(tuple(image.shape[-2:]))
        return traced(image, mask)

    remover.network = spy
    small = photo("astronaut", 512, 512)
    small_mask = _region(512, 512, REGION_FRACTION)
    height, width = PHOTO_12MP
    large = photo("astronaut", width, height)
    large_mask = _region(height, width, REGION_FRACTION)
    tasks = {
        "lama_512": lambda: remover.edit(small, small_mask, "remove", "object"),
        "lama_12mp_10pct": lambda: remover.edit(large, large_mask, "remove", "object"),
    }
    logger.info("lama: %s; 512x512 and %dx%d with a %d %% region", network, width, height, REGION_FRACTION * 100)
    timings = ctx.time(tasks)
    stage.add(timings, "fp32")
    network_sizes = {}
    for name, size in zip(tasks, inputs[: len(tasks)]):
        network_sizes[name] = list(size)
    stage.metrics.update(
        {
            "lama_network": network,
            "lama_512_seconds": timings["lama_512"].median,
            "lama_12mp_10pct_seconds": timings["lama_12mp_10pct"].median,
            "lama_network_input_hw": network_sizes,
        }
    )
    stage.notes.append(
        f"lama: {network}; 12-MP photo with a {REGION_FRACTION:.0%} region runs the network at "
        f"{network_sizes.get('lama_12mp_10pct')} (window around the region, longer side <= {remover.max_side})"
        + ("" if "big-lama from" in network else "; big-lama's own cost needs its weights (set LAMA_WEIGHTS)")
    )
    return stage
