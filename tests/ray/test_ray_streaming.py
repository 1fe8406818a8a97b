"""The Ray pipeline streams: a 10,000-image run never holds all its decoded images at once.

The engine's own dataset (its decode tasks reading real files, its actor pool) runs with a stand-in for
the model job that is slower than decoding, under a small object-store budget. Each row carries when it
was decoded and when the job took it, so the number of images decoded but not yet taken, at any moment,
is counted from the rows alone.
"""
import sys
import time

import numpy as np
import pytest
from PIL import Image

from segedit import ray_engine

IMAGES = 10_000
SIDE = 64  # 12 KiB decoded; the whole batch is 120 MiB, the budget below 1/20 of that


class SlowJob:
    """Takes each decoded image a little slower than the decode tasks hand them over."""

    def __init__(self):
        pass

    def __call__(self, row: dict) -> dict:
        taken = time.time()
        time.sleep(0.0005)
        return {"index": row["index"], "decoded_at": row["decoded_at"], "taken_at": taken,
                "pixels": int(row["image"].rgb.size)}


def timed_decode(row: dict, **kwargs) -> dict:
    decoded = ray_engine.decode(row, **kwargs)
    return {**decoded, "decoded_at": time.time()}


@pytest.fixture(scope="module")
def many_images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("many")
    pixels = np.random.default_rng(0).integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "image.png")
    data = (folder / "image.png").read_bytes()
    for index in range(IMAGES):
        (folder / f"{index:05d}.png").write_bytes(data)
    (folder / "image.png").unlink()
    return folder


def test_ten_thousand_images_stream_through_a_small_object_store(many_images):
    import ray.cloudpickle
    import ray.data
    from ray.data import ExecutionResources

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/

    context = ray.data.DataContext.get_current()
    saved = context.execution_options.resource_limits
    context.execution_options.resource_limits = ExecutionResources(object_store_memory=4 * 2**20)
    try:
        rows = [{"index": index, "path": str(many_images / f"{index:05d}.png"), "name": f"{index:05d}",
                 "error": None} for index in range(IMAGES)]
        dataset = ray_engine.pipeline(rows, {"skip_existing": False, "output": str(many_images)},
                                      [(SlowJob, {})], workers=2, gpus_per_worker=0.0, decode=timed_decode)
        finished = list(dataset.iter_rows())
    finally:
        context.execution_options.resource_limits = saved
    assert sorted(row["index"] for row in finished) == list(range(IMAGES))
    assert all(row["pixels"] == SIDE * SIDE * 3 for row in finished)
    decoded = np.sort([row["decoded_at"] for row in finished])
    taken = np.sort([row["taken_at"] for row in finished])
    # at each moment a row is taken: images decoded by then minus those taken before it
    waiting = np.searchsorted(decoded, taken, side="right") - np.arange(IMAGES)
    assert waiting.max() < IMAGES // 10, f"{waiting.max()} decoded images waited at once"
