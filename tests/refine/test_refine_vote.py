import numpy as np
import pytest

from refine import majority_vote, refine_label_map


def _box(shape, top, left, bottom, right):
    mask = np.zeros(shape, dtype=bool)
    mask[top:bottom, left:right] = True
    return mask


def _mask_with_coverage(inside: int, outside: int, shape=(10, 10)):
    """A target covering the left half and a mask with ``inside`` pixels in it and ``outside`` pixels not."""
    target = np.zeros(shape, dtype=bool)
    target[:, : shape[1] // 2] = True
    mask = np.zeros(shape, dtype=bool)
    mask.flat[np.flatnonzero(target)[:inside]] = True
    mask.flat[np.flatnonzero(~target)[:outside]] = True
    return target, mask[None]


def test_union_of_masks_mostly_inside_the_target():
    shape = (12, 12)
    target = _box(shape, 0, 0, 6, 12)  # top half
    inside = _box(shape, 0, 0, 3, 4)  # fully inside
    straddling = _box(shape, 4, 0, 8, 4)  # 50 % inside
    mostly = _box(shape, 2, 6, 7, 10)  # 16 of 20 pixels inside
    masks = np.stack([inside, straddling, mostly])

    result = majority_vote(target, masks)

    assert np.array_equal(result.mask, inside | mostly)
    assert (result.total, result.kept, result.fallback) == (3, 2, False)
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
    target, masks = _mask_with_coverage(inside, outside, shape=(40, 50))
    assert masks.sum() == inside + outside
    result = majority_vote(target, masks, min_coverage=min_coverage)
    assert result.kept == int(kept)
    assert result.fallback is (not kept)
    assert np.array_equal(result.mask, masks[0] if kept else target)


def test_empty_masks_are_never_kept_even_at_zero_threshold():
    target = _box((6, 6), 0, 0, 3, 3)
    masks = np.stack([np.zeros((6, 6), dtype=bool), _box((6, 6), 3, 3, 6, 6)])
    result = majority_vote(target, masks, min_coverage=0.0)
    assert np.array_equal(result.selected, [False, True])
    assert result.coverage[0] == 0.0


def test_fallback_returns_the_target_when_nothing_is_kept():
    target = _box((8, 8), 0, 0, 4, 4)
    far_away = _box((8, 8), 5, 5, 8, 8)[None]
    for masks in (far_away, np.zeros((0, 8, 8), dtype=bool)):
        result = majority_vote(target, masks)
        assert result.fallback and result.kept == 0
        assert np.array_equal(result.mask, target) and result.mask is not target
        assert result.total == len(masks) and result.coverage.shape == (len(masks),)


def test_vote_rejects_mismatched_inputs():
    target = np.zeros((4, 4), dtype=bool)
    with pytest.raises(ValueError, match="do not match"):
        majority_vote(target, np.zeros((1, 4, 5), dtype=bool))
    with pytest.raises(ValueError, match="bool"):
        majority_vote(target, np.zeros((1, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="min_coverage"):
        majority_vote(target, np.zeros((1, 4, 4), dtype=bool), min_coverage=1.5)


def test_each_mask_takes_its_majority_class():
    labels = np.zeros((6, 6), dtype=np.int64)
    labels[:, 3:] = 2
    labels[0, 0] = 1  # a stray pixel that the mask over it outvotes
    mask = _box((6, 6), 0, 0, 3, 4)  # 9 pixels of class 0 (8 after the stray), 3 of class 2
    refined = refine_label_map(labels, mask[None])

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
    masks = np.stack([small, large])  # SAM2 order must not matter, only size

    assert np.array_equal(refine_label_map(labels, masks), labels)
    assert np.array_equal(refine_label_map(labels, masks[::-1]), labels)
    # Painting small first lets the large mask's majority (class 0) swallow the object.
    assert np.array_equal(refine_label_map(labels, masks, order="smallest-first"), np.zeros_like(labels))


def test_majority_uses_original_labels_and_uncovered_pixels_stay():
    labels = np.array([[0, 0, 1, 1, 3]], dtype=np.uint8)
    first = np.array([[True, True, True, False, False]])  # majority 0
    second = np.array([[False, False, True, True, False]])  # originally a 1-1 tie → lower class, 1
    refined = refine_label_map(labels, np.stack([first, second]))
    # ``second`` is smaller, so it is painted last; its vote counts the original labels, not ``first``'s 0.
    assert refined.tolist() == [[0, 0, 1, 1, 3]]


def test_label_map_edge_cases():
    labels = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert np.array_equal(refine_label_map(labels, np.zeros((0, 3, 4), dtype=bool)), labels)
    assert np.array_equal(refine_label_map(labels, np.zeros((2, 3, 4), dtype=bool)), labels)
    with pytest.raises(ValueError, match="non-negative"):
        refine_label_map(labels - 1, np.ones((1, 3, 4), dtype=bool))
    with pytest.raises(ValueError, match="integer"):
        refine_label_map(labels.astype(float), np.ones((1, 3, 4), dtype=bool))
    with pytest.raises(ValueError, match="order"):
        refine_label_map(labels, np.ones((1, 3, 4), dtype=bool), order="random")
