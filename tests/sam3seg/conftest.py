"""The tiny random SAM 3 loaded once from its folder (tests/conftest.py builds it), and a real photo."""

import pytest
from skimage import data

from sam3seg import SAM3Segmenter, SAM3Settings


@pytest.fixture(scope="session")
def tiny_sam3(tiny_sam3_dir):
    from sam3seg import load_sam3

    return load_sam3(tiny_sam3_dir, device="cpu")


@pytest.fixture(scope="session")
def chelsea():
    """scikit-image's cat photo, (300, 451, 3) uint8."""
    return data.chelsea()


@pytest.fixture
def segmenter(tiny_sam3) -> SAM3Segmenter:
    # The random tiny model scores every query near 0.25, so threshold 0 keeps them all.
    return SAM3Segmenter(tiny_sam3, settings=SAM3Settings(threshold=0.0))
