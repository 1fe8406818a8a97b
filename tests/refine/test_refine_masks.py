import logging
import warnings
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.utils.amg import remove_small_regions, rle_to_mask
from tiny_sam2 import PERMISSIVE, keep_all_masks

from refine import MaskGeneratorSettings, SAM2Masks, SAM2MaskSource, SAM2SettingsError, majority_vote, refine_label_map


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


def test_masks_on_a_photo_and_cache_hit(photo_run):
    result, image = photo_run.result, photo_run.image
    assert isinstance(result, SAM2Masks)
    assert len(result) >= 1
    assert result.image_size == result.working_size == image.shape[:2] and not result.scaled
    assert result.scores.shape == result.stability.shape == result.areas.shape == (len(result),)
    assert np.array_equal(result.areas, [result.full_mask(index).sum() for index in range(len(result))])
    assert np.all(result.areas > 0)

    again = photo_run.source.generate(image.copy())  # same pixels, different array: hashed to the same key
    assert again is result
    assert len(photo_run.inputs) == 1


def test_photo_within_the_working_size_gives_exactly_sam2s_masks_and_todays_results(photo_run):
    """At or below ``sam_max_side`` nothing is resampled: masks, vote and label map are those of full-size stacks."""
    image, result = photo_run.image, photo_run.result
    assert photo_run.inputs[0] is image  # SAM2 saw the photo itself, not a resized copy
    stack = np.stack([rle_to_mask(record["segmentation"]) for record in photo_run.records])  # (M, H, W)
    assert len(result) == len(stack)
    assert all(np.array_equal(result.full_mask(index), stack[index]) for index in range(len(stack)))
    assert np.array_equal(result.areas, stack.sum(axis=(1, 2)))

    height, width = image.shape[:2]
    target = np.zeros((height, width), dtype=bool)
    target[:, : width * 7 // 10] = True
    vote = majority_vote(target, result, 0.7)
    # The vote on the (M, H, W) stack: |m ∧ target| / |m| >= 7/10, in integers.
    areas, inside = stack.sum(axis=(1, 2)), stack[:, target].sum(axis=1)
    selected = (areas > 0) & (inside * 10 >= areas * 7)
    assert selected.any() and not selected.all()  # the comparison below decides something
    assert np.array_equal(vote.selected, selected)
    np.testing.assert_array_equal(vote.coverage, inside / areas)
    assert np.array_equal(vote.mask, stack[selected].any(axis=0))

    labels = (np.arange(width)[None, :] * 3 // width).repeat(height, axis=0).astype(np.int32)
    expected = labels.copy()
    for index in np.argsort(-areas, kind="stable"):  # largest first, majorities from the original labels
        expected[stack[index]] = np.bincount(labels[stack[index]]).argmax()
    assert not np.array_equal(expected, labels)
    assert np.array_equal(refine_label_map(labels, result), expected)


@pytest.fixture(scope="module")
def large_runs(tiny_sam2, large_photo):
    """The 2048 px photo through SAM2 at full resolution and at a 256 px working size (4x the 64 px logits)."""
    settings = replace(PERMISSIVE, points_per_side=1)
    with pytest.MonkeyPatch.context() as patch:
        keep_all_masks(patch)
        full = SAM2MaskSource(tiny_sam2, replace(settings, sam_max_side=2048)).generate(large_photo)
        working = SAM2MaskSource(tiny_sam2, replace(settings, sam_max_side=256)).generate(large_photo)
    return full, working


def test_large_photo_union_at_working_size_matches_full_resolution(large_runs, large_photo):
    full, working = large_runs
    assert not full.scaled and working.scaled
    assert working.working_size == (170, 256) and working.image_size == large_photo.shape[:2]
    everything = np.ones(large_photo.shape[:2], dtype=bool)
    full_union = majority_vote(everything, full, 0.0).mask
    working_union = majority_vote(everything, working, 0.0).mask
    assert working_union.shape == full_union.shape
    assert 0 < full_union.mean() < 1
    assert _iou(working_union, full_union) >= 0.99


def test_large_photo_masks_hold_no_full_size_array(large_runs, large_photo):
    _, working = large_runs
    height, width = large_photo.shape[:2]
    stored = sum(len(rle["counts"]) for rle in working.rles) + working.scores.nbytes + working.stability.nbytes
    assert len(working) >= 1
    # Even a random model's noisy masks take well under 1 % of a full-size bool stack.
    assert stored * 100 < len(working) * height * width
    assert working.areas.shape == (len(working),)  # full-size areas are counted, not kept as masks
    assert all(array.size < height * width for array in vars(working).values() if isinstance(array, np.ndarray))


def test_cached_arrays_are_read_only(photo_run):
    for array in (photo_run.result.scores, photo_run.result.stability, photo_run.result.areas):
        with pytest.raises(ValueError):
            array[...] = 0


def test_nothing_found_gives_an_empty_set(tiny_sam2, photo, stub_generator):
    result = SAM2MaskSource(tiny_sam2, PERMISSIVE).generate(photo)
    assert len(result) == 0 and result.image_size == photo.shape[:2]
    assert result.areas.shape == result.scores.shape == (0,)
    assert not result.union([]).any() and result.union([]).shape == photo.shape[:2]


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


def _cleaned(masks, area):
    return [remove_small_regions(remove_small_regions(mask, area, "holes")[0], area, "islands")[0] for mask in masks]


def test_small_regions_are_cleaned_with_opencv_and_quietly(tiny_sam2, photo_run, replay_generator):
    area = 400
    raw = photo_run.result
    expected = _cleaned((raw.working_mask(index) for index in range(len(raw))), area)
    # The random model's masks have small holes, so skipping the clean-up could not pass unnoticed.
    assert any(not np.array_equal(raw.working_mask(index), mask) for index, mask in enumerate(expected))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cleaned = SAM2MaskSource(tiny_sam2, replace(PERMISSIVE, min_mask_region_area=area)).generate(photo_run.image)
    assert not [warning for warning in caught if "_C" in str(warning.message)]
    assert len(cleaned) >= 1
    for index in range(len(cleaned)):
        assert any(np.array_equal(cleaned.full_mask(index), candidate) for candidate in expected)


def test_large_photo_is_shrunk_for_sam2_and_the_clean_up_area_with_it(tiny_sam2, photo_run, replay_generator):
    height, width = photo_run.image.shape[:2]
    large = cv2.resize(photo_run.image, (2 * width, 2 * height), interpolation=cv2.INTER_CUBIC)
    settings = replace(PERMISSIVE, sam_max_side=width, min_mask_region_area=4 * 400)
    cleaned = SAM2MaskSource(tiny_sam2, settings).generate(large)

    assert replay_generator[0].shape == (height, width, 3)
    assert cleaned.working_size == (height, width) and cleaned.image_size == (2 * height, 2 * width)
    raw = photo_run.result
    expected = _cleaned((raw.working_mask(index) for index in range(len(raw))), 400)  # 1600 / 2**2
    for index in range(len(cleaned)):
        assert any(np.array_equal(cleaned.working_mask(index), candidate) for candidate in expected)
        assert cleaned.full_mask(index).shape == (2 * height, 2 * width)


def test_points_per_batch_follows_the_device(tiny_sam2):
    assert SAM2MaskSource(tiny_sam2, PERMISSIVE).settings.points_per_batch == 16
    assert SAM2MaskSource(tiny_sam2, MaskGeneratorSettings(points_per_batch=8)).settings.points_per_batch == 8


def test_settings_defaults_and_fast_preset():
    defaults = MaskGeneratorSettings()
    assert (defaults.points_per_side, defaults.pred_iou_thresh, defaults.stability_score_thresh) == (32, 0.88, 0.95)
    assert defaults.sam_max_side == 1024  # SAM2's own input size
    fast = MaskGeneratorSettings.fast()
    # The decoder runs once per grid point, so the point count is what the preset saves.
    assert fast.points_per_side**2 * 4 <= defaults.points_per_side**2
    assert fast.pred_iou_thresh == defaults.pred_iou_thresh


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("points_per_side", 0),
        ("pred_iou_thresh", 1.5),
        ("stability_score_thresh", -0.1),
        ("points_per_batch", 0),
        ("min_mask_region_area", -1),
        ("crop_n_layers", -1),
        ("sam_max_side", 63),
    ],
)
def test_invalid_settings_name_their_field(field, value):
    with pytest.raises(SAM2SettingsError) as caught:
        MaskGeneratorSettings(**{field: value})
    assert caught.value.setting == field and caught.value.exit_code == 2
    assert field in str(caught.value) and "--" not in str(caught.value)


def test_rejects_non_rgb_uint8(tiny_sam2, photo, stub_generator):
    source = SAM2MaskSource(tiny_sam2, PERMISSIVE)
    with pytest.raises(ValueError, match="uint8"):
        source.generate(photo.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        source.generate(photo[..., 0])
    assert stub_generator == []


@pytest.fixture
def precision_seen(monkeypatch):
    """sam2's generator replaced by one that records whether CPU autocast was on, and at which dtype."""
    seen = []

    def spy(self, image):
        seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else torch.float32)
        return []

    monkeypatch.setattr(SAM2AutomaticMaskGenerator, "generate", spy)
    return seen


def test_precision_is_the_callers(tiny_sam2, photo, precision_seen):
    SAM2MaskSource(tiny_sam2, PERMISSIVE).generate(photo)
    SAM2MaskSource(tiny_sam2, PERMISSIVE, dtype=torch.bfloat16).generate(photo)
    assert precision_seen == [torch.float32, torch.bfloat16]
    assert {parameter.dtype for parameter in tiny_sam2.parameters()} == {torch.float32}
    with pytest.raises(SAM2SettingsError) as caught:
        SAM2MaskSource(tiny_sam2, PERMISSIVE, dtype=torch.float64)
    assert caught.value.setting == "dtype"


def test_reduced_precision_without_device_support_runs_float32(tiny_sam2, photo, precision_seen, monkeypatch, caplog):
    monkeypatch.setattr(torch.amp, "is_autocast_available", lambda device_type: False)
    with caplog.at_level(logging.WARNING, logger="refine"):
        source = SAM2MaskSource(tiny_sam2, PERMISSIVE, dtype=torch.bfloat16)
    source.generate(photo)
    assert source.dtype == torch.float32 and precision_seen == [torch.float32]
    assert "float32" in caplog.text


def test_progress_bar_counts_the_point_batches_and_is_off_by_default(tiny_sam2, photo, capsys):
    settings = MaskGeneratorSettings(points_per_side=4, points_per_batch=4)  # 16 points: 4 batches
    SAM2MaskSource(tiny_sam2, settings, progress=True).generate(photo)
    shown = capsys.readouterr().err
    assert "SAM2 point batches" in shown and "0/4" in shown  # the bar knows the number of batches
    SAM2MaskSource(tiny_sam2, settings).generate(photo)
    assert "SAM2 point batches" not in capsys.readouterr().err
    import sam2.automatic_mask_generator as amg
    assert amg.batch_iterator.__module__ == "sam2.utils.amg"  # put back after the call
