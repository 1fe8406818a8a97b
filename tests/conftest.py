"""Test-wide settings: no network, deterministic, small thread count."""
import os

# Hub look-ups take ~46 s to fail here without these; with them, failure is immediate.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import sys
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # tiny model builders (tiny_clip.py, tiny_sam2.py, tiny_sam3.py, tiny_inpaint.py)


@pytest.fixture(scope="session")
def tiny_clip_checkpoint(tmp_path_factory) -> Path:
    from tiny_clip import save_tiny_clip_checkpoint

    return save_tiny_clip_checkpoint(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real CC0 photo (scikit-image's astronaut, 512x512) downscaled to 256x192 to keep tests quick."""
    import cv2
    from skimage import data

    return cv2.resize(data.astronaut(), (256, 192), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="session")
def tiny_sam2_model():
    """A randomly initialised SAM 2.1 Hiera-tiny for 256 px inputs, built once per session."""
    from tiny_sam2 import build_tiny_sam2

    return build_tiny_sam2()


@pytest.fixture(scope="session")
def tiny_sam2_checkpoint(tmp_path_factory, tiny_sam2_model):
    """(checkpoint path, config name) of ``tiny_sam2_model``'s weights, written once per session."""
    from tiny_sam2 import save_tiny_sam2_checkpoint

    return save_tiny_sam2_checkpoint(tiny_sam2_model, tmp_path_factory.mktemp("sam2"))


@pytest.fixture(scope="session")
def tiny_inpaint_model(tmp_path_factory) -> str:
    """Directory of a tiny random diffusers inpainting pipeline (model resolution 64 px)."""
    from tiny_inpaint import build_tiny_inpaint_pipeline

    return build_tiny_inpaint_pipeline(tmp_path_factory.mktemp("tiny_inpaint"))


@pytest.fixture(scope="session")
def tiny_sam3_dir(tmp_path_factory) -> str:
    """A tiny random SAM 3 save_pretrained folder (model and processor), built once per session."""
    from tiny_sam3 import build_tiny_sam3

    return build_tiny_sam3(tmp_path_factory.mktemp("tiny_sam3"))


@pytest.fixture(scope="session")
def clip_flags(tiny_clip_checkpoint, tmp_path_factory) -> list[str]:
    """The tiny CLIP on the CPU, its text embeddings cached once for the session."""
    return ["--clip-weights", str(tiny_clip_checkpoint), "--cache-dir", str(tmp_path_factory.mktemp("text-cache")),
            "--device", "cpu"]


@pytest.fixture
def image_file(tmp_path, photo) -> Path:
    """A 64x80 piece of the real photo as a PNG."""
    from PIL import Image

    path = tmp_path / "piece.png"
    Image.fromarray(np.ascontiguousarray(photo[20:84, 60:140])).save(path)
    return path
