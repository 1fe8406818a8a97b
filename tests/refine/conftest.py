"""Shared fixtures for the SAM2 stage: one random tiny SAM2 per test session and a small real photo."""

import cv2
import numpy as np
import pytest
from skimage import data

from refine import load_sam2


@pytest.fixture(scope="session")
def tiny_sam2(tiny_sam2_checkpoint):
    checkpoint, config = tiny_sam2_checkpoint
    return load_sam2(checkpoint=checkpoint, config=config, device="cpu")


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real, non-square RGB photo (a cat) with a 256 px long side: (170, 256, 3) uint8."""
    image = data.chelsea()
    height, width = image.shape[:2]
    scale = 256 / max(height, width)
    size = (round(width * scale), round(height * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
