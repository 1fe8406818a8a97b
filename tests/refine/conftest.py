"""Shared fixtures for the SAM2 stage: one random tiny SAM2, small real photos and one cached SAM2 run.

Running SAM2 dominates these tests, so the generator runs for real once per session on a 512 px photo
(``photo_run``); tests of what happens to its output replay the recorded output instead.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from skimage import data
from tiny_sam2 import PERMISSIVE, keep_all_masks

from refine import SAM2Masks, SAM2MaskSource


def _cat(long_side: int) -> np.ndarray:
    image = data.chelsea()
    height, width = image.shape[:2]
    scale = long_side / max(height, width)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=interpolation)


@pytest.fixture(scope="session")
def tiny_sam2(tiny_sam2_model):
    return tiny_sam2_model


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real, non-square RGB photo (a cat) with a 256 px long side: (170, 256, 3) uint8."""
    return _cat(256)


@pytest.fixture(scope="session")
def photo_512() -> np.ndarray:
    """The cat with a 512 px long side: (340, 512, 3) uint8, no larger than SAM2's working size."""
    return _cat(512)


@pytest.fixture(scope="session")
def large_photo() -> np.ndarray:
    """The cat upscaled to a 2048 px long side: (1362, 2048, 3) uint8."""
    return _cat(2048)


@dataclass
class Run:
    source: SAM2MaskSource
    image: np.ndarray
    result: SAM2Masks
    inputs: list  # the images sam2's generator was given
    records: list  # what it returned


@pytest.fixture(scope="session")
def photo_run(tiny_sam2, photo_512) -> Run:
    """One real SAM2 run on ``photo_512`` with permissive settings, recording the generator's input and output."""
    inputs, records = [], []
    original = SAM2AutomaticMaskGenerator.generate

    def recording_generate(self, image):
        inputs.append(image)
        records.extend(original(self, image))
        return records

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SAM2AutomaticMaskGenerator, "generate", recording_generate)
        keep_all_masks(patch)
        source = SAM2MaskSource(tiny_sam2, PERMISSIVE)
        result = source.generate(photo_512)
    return Run(source, photo_512, result, inputs, records)


@pytest.fixture
def replay_generator(monkeypatch, photo_run):
    """sam2's generator replaced by one that returns ``photo_run``'s records; yields the images it was given."""
    calls = []

    def replay(self, image):
        calls.append(image)
        return list(photo_run.records)

    monkeypatch.setattr(SAM2AutomaticMaskGenerator, "generate", replay)
    return calls


@pytest.fixture
def stub_generator(monkeypatch):
    """sam2's generator replaced by one that finds nothing, for tests of the cache alone; yields its inputs."""
    calls = []

    def no_masks(self, image):
        calls.append(image.shape)
        return []

    monkeypatch.setattr(SAM2AutomaticMaskGenerator, "generate", no_masks)
    return calls
