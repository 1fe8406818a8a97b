import numpy as np
import pytest

from refine import SAM2Masks, SAM2SettingsError, majority_vote, refine_label_map


def _box(shape, top, left, bottom, right):
    mask = np.zeros(shape, dtype=bool)
    mask[top:bottom, left:right] = True
    return mask


def _masks(*masks):
    return SAM2Masks.from_arrays(np.stack(masks))


def _mask_with_coverage(inside: int, outside: int, shape=(10, 10)):
    """A target covering the left half and a mask with ``inside`` pixels in it and ``outside`` pixels not."""
    target = np.zeros(shape, dtype=bool)
    target[:, : shape[1] // 2] = True
    mask = np.zeros(shape, dtype=bool)
    mask.flat[np.flatnonzero(target)[:inside]] = True
    mask.flat[np.flatnonzero(~target)[:outside]] = True
    return target, mask


def test_union_of_masks_mostly_inside_the_target():
    shape = (12, 12)
    target = _box(shape, 0, 0, 6, 12)  # top half
    inside = _box(shape, 0, 0, 3, 4)  # fully inside
    straddling = _box(shape, 4, 0, 8, 4)  # 50 % inside
    mostly = _box(shape, 2, 6, 7, 10)  # 16 of 20 pixels inside

    result = majority_vote(target, _masks(inside, straddling, mostly))

    assert np.array_equal(result.mask, inside | mostly)
    assert (result.total, result.kept, result.fallback, result.fallback_reason) == (3, 2, False, None)
    assert np.array_equal(result.selected, [True, False, True])
    np.testing.assert_allclose(result.coverage, [1.0, 0.5, 0.8])


@pytest.mark.parametrize(
    ("inside", "outside", "min_coverage", "kept"),
    [
        (3, 2, 0.6, True),  # 3/5: exactly 60 %
        (6, 4, 0.6, True),
        (270, 180, 0.6, True),
        (59, 41, 0.6, False),  # 59 %
        (299, 201, 0.6, False),  # 59.8 %
        (55, 45, 0.55, True),  # 0.55 * 100 is 55.00000000000001 in floats
        (549, 451, 0.55, False),
    ],
)
def test_coverage_boundary_is_kept_exactly(inside, outside, min_coverage, kept):
    target, mask = _mask_with_coverage(inside, outside, shape=(40, 50))
    assert mask.sum() == inside + outside
    result = majority_vote(target, _masks(mask), min_coverage=min_coverage)
    assert result.kept == int(kept)
    assert result.fallback is (not kept)
    assert result.fallback_reason == (None if kept else "low_coverage")
    assert np.array_equal(result.mask, mask if kept else target)


def test_empty_masks_are_never_kept_even_at_zero_threshold():
    target = _box((6, 6), 0, 0, 3, 3)
    result = majority_vote(target, _masks(np.zeros((6, 6), dtype=bool), _box((6, 6), 3, 3, 6, 6)), min_coverage=0.0)
    assert np.array_equal(result.selected, [False, True])
    assert result.coverage[0] == 0.0


def test_fallback_returns_the_target_and_says_why():
    target = _box((8, 8), 0, 0, 4, 4)
    far_away = _masks(_box((8, 8), 5, 5, 8, 8))
    nothing = SAM2Masks.from_arrays(np.zeros((0, 8, 8), dtype=bool))
    for masks, reason in ((far_away, "low_coverage"), (nothing, "no_masks")):
        result = majority_vote(target, masks)
        assert result.fallback and result.kept == 0 and result.fallback_reason == reason
        assert np.array_equal(result.mask, target) and result.mask is not target
        assert result.total == len(masks) and result.coverage.shape == (len(masks),)
    assert majority_vote(np.zeros((8, 8), dtype=bool), far_away).fallback_reason == "empty_target"
    assert majority_vote(np.zeros((8, 8), dtype=bool), nothing).fallback_reason == "no_masks"


def test_vote_on_a_shrunk_photo_counts_at_the_working_size_and_unites_at_full_size():
    # Working masks of 8x10 for a 16x20 photo: each working pixel stands for a 2x2 block.
    left = _box((8, 10), 0, 0, 8, 3)
    right = _box((8, 10), 0, 6, 8, 10)
    masks = SAM2Masks.from_arrays(np.stack([left, right]), image_size=(16, 20))
    # Photo columns 0:5 are working columns 0, 1 and half of 2; a half-covered working pixel counts as inside.
    target = _box((16, 20), 0, 0, 16, 5)
    result = majority_vote(target, masks, min_coverage=1.0)
    assert result.selected.tolist() == [True, False]
    np.testing.assert_array_equal(result.coverage, [1.0, 0.0])
    assert result.mask.shape == (16, 20) and np.array_equal(result.mask, _box((16, 20), 0, 0, 16, 6))


def test_vote_rejects_mismatched_inputs():
    target = np.zeros((4, 4), dtype=bool)
    with pytest.raises(ValueError, match="do not match"):
        majority_vote(target, _masks(np.zeros((4, 5), dtype=bool)))
    with pytest.raises(ValueError, match="bool"):
        majority_vote(target.astype(np.uint8), _masks(target))
    with pytest.raises(SAM2SettingsError, match="min_coverage") as caught:
        majority_vote(target, _masks(target), min_coverage=1.5)
    assert caught.value.setting == "min_coverage" and caught.value.exit_code == 2


def test_each_mask_takes_its_majority_class():
    labels = np.zeros((6, 6), dtype=np.int64)
    labels[:, 3:] = 2
    labels[0, 0] = 1  # a stray pixel that the mask over it outvotes
    mask = _box((6, 6), 0, 0, 3, 4)  # 9 pixels of class 0 (8 after the stray), 3 of class 2
    refined = refine_label_map(labels, _masks(mask))

    expected = labels.copy()
    expected[mask] = 0
    assert np.array_equal(refined, expected)
    assert refined.dtype == labels.dtype
    assert labels[0, 0] == 1  # input untouched


def test_smaller_masks_overwrite_larger_ones_by_default():
    labels = np.zeros((8, 8), dtype=np.int32)
    labels[2:4, 2:4] = 5  # a small object of class 5 inside a large class-0 region
    large = np.ones((8, 8), dtype=bool)
    small = _box((8, 8), 2, 2, 4, 4)

    # SAM2 order must not matter, only size.
    assert np.array_equal(refine_label_map(labels, _masks(small, large)), labels)
    assert np.array_equal(refine_label_map(labels, _masks(large, small)), labels)
    # Painting small first lets the large mask's majority (class 0) swallow the object.
    assert np.array_equal(refine_label_map(labels, _masks(small, large), order="smallest-first"), np.zeros_like(labels))


def test_majority_uses_original_labels_and_uncovered_pixels_stay():
    labels = np.array([[0, 0, 1, 1, 3]], dtype=np.uint8)
    first = np.array([[True, True, True, False, False]])  # majority 0
    second = np.array([[False, False, True, True, False]])  # originally a 1-1 tie → lower class, 1
    refined = refine_label_map(labels, _masks(first, second))
    # ``second`` is smaller, so it is painted last; its vote counts the original labels, not ``first``'s 0.
    assert refined.tolist() == [[0, 0, 1, 1, 3]]


def test_label_map_of_a_shrunk_photo_follows_the_upsampled_masks():
    labels = np.zeros((16, 20), dtype=np.int32)
    labels[:, 9:] = 1
    labels[4:8, 12:14] = 2  # outvoted inside the mask
    masks = SAM2Masks.from_arrays(_box((8, 10), 0, 5, 8, 10)[None], image_size=(16, 20))
    expected = labels.copy()
    expected[:, 10:] = 1  # the mask's full-size pixels, the class-1 column 9 outside it kept
    assert np.array_equal(refine_label_map(labels, masks), expected)


def test_label_map_edge_cases():
    labels = np.arange(12, dtype=np.int16).reshape(3, 4)
    ones = SAM2Masks.from_arrays(np.ones((1, 3, 4), dtype=bool))
    assert np.array_equal(refine_label_map(labels, SAM2Masks.from_arrays(np.zeros((0, 3, 4), dtype=bool))), labels)
    assert np.array_equal(refine_label_map(labels, SAM2Masks.from_arrays(np.zeros((2, 3, 4), dtype=bool))), labels)
    with pytest.raises(ValueError, match="non-negative"):
        refine_label_map(labels - 1, ones)
    with pytest.raises(ValueError, match="integer"):
        refine_label_map(labels.astype(float), ones)
    with pytest.raises(ValueError, match="order"):
        refine_label_map(labels, ones, order="random")
    with pytest.raises(ValueError, match="do not match"):
        refine_label_map(labels[:, :3], ones)
