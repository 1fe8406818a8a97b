"""One local Ray for the whole session (starting one costs seconds), and a batch with two unreadable files."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("ray.data")


@pytest.fixture(scope="session", autouse=True)
def ray_cluster():
    import ray

    from segedit.ray_engine import start_ray

    # two model workers at most in these tests, plus the spare CPUs the engine gives a cluster it starts
    start_ray(None, local_cpus=4, verbose=False)
    yield ray.cluster_resources()
    ray.shutdown()


@pytest.fixture(scope="session")
def batch(tmp_path_factory, photo) -> Path:
    """Six inputs: four pieces of the real photo, a text file named like a JPEG and a truncated PNG."""
    folder = tmp_path_factory.mktemp("batch")
    for index, (y, x) in enumerate(((0, 0), (0, 128), (96, 40), (140, 180))):
        Image.fromarray(np.ascontiguousarray(photo[y:y + 48, x:x + 64])).save(folder / f"piece{index}.png")
    (folder / "broken.jpg").write_text("a text file with an image's name")
    whole = (folder / "piece0.png").read_bytes()
    (folder / "truncated.png").write_bytes(whole[: len(whole) // 2])
    return folder
