"""Fixtures for evaluation tests: the real VOC sample set and tiny synthetic datasets."""
from pathlib import Path

import numpy as np
import pytest
from eval_files import write_image

# 14 real PASCAL VOC 2012 val images with official ground truth, shipped with the tests (see its README)
VOC_SAMPLES = Path(__file__).resolve().parents[1] / "data" / "voc_samples"


@pytest.fixture
def voc_samples() -> Path:
    return VOC_SAMPLES


@pytest.fixture
def generic_dataset(tmp_path):
    """A generic-layout dataset of three 12x16 images; returns (root, {stem: label array}).

    Every image is a distinct flat colour, so a predictor can look its ground truth up by the image.
    """
    rng = np.random.default_rng(7)
    root = tmp_path / "generic"
    (root / "classes.txt").parent.mkdir(parents=True)
    (root / "classes.txt").write_text("background\ncat, kitten\ndog\n")
    labels = {}
    for number, suffix in enumerate([".jpg", ".png", ".jpeg"]):
        stem = f"sample_{number}"
        label = rng.integers(0, 3, size=(12, 16)).astype(np.uint8)
        label[0, :4] = 255
        write_image(root / "images" / f"{stem}{suffix}", np.full((12, 16, 3), 40 * (number + 1), dtype=np.uint8))
        write_image(root / "labels" / f"{stem}.png", label)
        labels[stem] = label
    return root, labels
