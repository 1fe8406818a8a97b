import warnings
from dataclasses import replace

import numpy as np
import pytest
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.utils.amg import remove_small_regions

from refine import MaskGeneratorSettings, SAM2Masks, SAM2MaskSource

# A random model predicts low IoU and stability, so thresholds of 0 let its masks through.
PERMISSIVE = MaskGeneratorSettings(points_per_side=3, pred_iou_thresh=0.0, stability_score_thresh=0.0)


@pytest.fixture
def generator_calls(monkeypatch):
    """Counts calls into sam2's mask generator while still running it."""
    calls = []
    original = SAM2AutomaticMaskGenerator.generate

    def counting_generate(self, image):
        calls.append(image.shape)
        return original(self, image)

    monkeypatch.setattr(SAM2AutomaticMaskGenerator, "generate", counting_generate)
    return calls


@pytest.fixture
def stub_generator(monkeypatch):
    """Replaces sam2's mask generator by one that finds nothing, for tests of the cache alone."""
    calls = []

    def no_masks(self, image):
        calls.append(image.shape)
        return []

    monkeypatch.setattr(SAM2AutomaticMaskGenerator, "generate", no_masks)
    return calls


def test_masks_on_a_photo_and_cache_hit(tiny_sam2, photo, generator_calls):
    source = SAM2MaskSource(tiny_sam2, PERMISSIVE)
    result = source.generate(photo)

    height, width = photo.shape[:2]
    assert isinstance(result, SAM2Masks)
    assert len(result) >= 1
    assert result.masks.dtype == bool and result.masks.shape == (len(result), height, width)
    assert result.scores.shape == result.stability.shape == result.areas.shape == (len(result),)
    assert np.array_equal(result.areas, result.masks.sum(axis=(1, 2)))
    assert np.all(result.areas > 0)

    again = source.generate(photo.copy())  # same pixels, different array: hashed to the same key
    assert again is result
    assert len(generator_calls) == 1


def test_cached_arrays_are_read_only(tiny_sam2, photo, stub_generator):
    result = SAM2MaskSource(tiny_sam2, PERMISSIVE).generate(photo)
    with pytest.raises(ValueError):
        result.masks[...] = True


def test_nothing_found_gives_an_empty_stack(tiny_sam2, photo):
    # The IoU head ends in a sigmoid, so no mask can beat a threshold of 1.
    settings = MaskGeneratorSettings(points_per_side=2, pred_iou_thresh=1.0, stability_score_thresh=0.0)
    result = SAM2MaskSource(tiny_sam2, settings).generate(photo)
    assert result.masks.shape == (0, *photo.shape[:2]) and result.masks.dtype == bool
    assert len(result.scores) == len(result.areas) == 0


def test_cache_is_keyed_and_least_recently_used(tiny_sam2, photo, stub_generator):
    source = SAM2MaskSource(tiny_sam2, PERMISSIVE, cache_size=2)
    other = photo[::-1].copy()
    source.generate(photo, key="a.jpg")
    source.generate(other, key="b.jpg")
    source.generate(photo, key="a.jpg")  # hit; "a" becomes the most recent
    assert len(stub_generator) == 2
    source.generate(photo)  # pixel key: a third entry evicts "b", the least recently used
    source.generate(photo, key="a.jpg")
    assert len(stub_generator) == 3
    source.generate(other, key="b.jpg")
    assert len(stub_generator) == 4


def test_small_regions_are_cleaned_with_opencv_and_quietly(tiny_sam2, photo):
    area = 400
    raw = SAM2MaskSource(tiny_sam2, PERMISSIVE).generate(photo)
    expected = [
        remove_small_regions(remove_small_regions(mask, area, "holes")[0], area, "islands")[0] for mask in raw.masks
    ]
    # The random model's masks have small holes, so skipping the clean-up could not pass unnoticed.
    assert any(not np.array_equal(before, after) for before, after in zip(raw.masks, expected, strict=True))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cleaned = SAM2MaskSource(tiny_sam2, replace(PERMISSIVE, min_mask_region_area=area)).generate(photo)
    assert not [warning for warning in caught if "_C" in str(warning.message)]
    assert len(cleaned) >= 1
    for mask in cleaned.masks:
        assert any(np.array_equal(mask, candidate) for candidate in expected)
    assert np.array_equal(cleaned.areas, cleaned.masks.sum(axis=(1, 2)))


def test_points_per_batch_follows_the_device(tiny_sam2):
    assert SAM2MaskSource(tiny_sam2, PERMISSIVE).settings.points_per_batch == 64
    assert SAM2MaskSource(tiny_sam2, MaskGeneratorSettings(points_per_batch=8)).settings.points_per_batch == 8


def test_settings_defaults_and_fast_preset():
    defaults = MaskGeneratorSettings()
    assert (defaults.points_per_side, defaults.pred_iou_thresh, defaults.stability_score_thresh) == (32, 0.88, 0.95)
    fast = MaskGeneratorSettings.fast()
    # The decoder runs once per grid point, so the point count is what the preset saves.
    assert fast.points_per_side**2 * 4 <= defaults.points_per_side**2
    assert fast.pred_iou_thresh == defaults.pred_iou_thresh


@pytest.mark.parametrize(
    "bad", [{"points_per_side": 0}, {"pred_iou_thresh": 1.5}, {"points_per_batch": 0}, {"min_mask_region_area": -1}]
)
def test_invalid_settings(bad):
    with pytest.raises(ValueError):
        MaskGeneratorSettings(**bad)


def test_rejects_non_rgb_uint8(tiny_sam2, photo, stub_generator):
    source = SAM2MaskSource(tiny_sam2, PERMISSIVE)
    with pytest.raises(ValueError, match="uint8"):
        source.generate(photo.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        source.generate(photo[..., 0])
    assert stub_generator == []
