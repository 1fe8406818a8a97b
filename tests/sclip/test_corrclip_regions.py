"""CorrCLIP's region maps, one idea per test on hand-computable cases: building from SAM2 masks, DBSCAN merging,
the correlation scope, nearest resizing and Map Correction."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sclip.corrclip.regions import (
    MERGED_ID_BASE, TAU, map_correction, merge_regions, nearest_indices, region_map_from_masks, resize_regions,
    scoped_correlation,
)


def test_region_map_ids_follow_ascending_area_and_larger_masks_overwrite():
    big = np.zeros((4, 6), bool)
    big[:, :4] = True  # 16 px
    small = np.zeros((4, 6), bool)
    small[1:3, 2:5] = True  # 6 px, overlaps big on two columns
    region_map = region_map_from_masks([big, small])
    assert region_map.dtype == np.int32
    expected = np.array([
        [2, 2, 2, 2, 0, 0],
        [2, 2, 2, 2, 1, 0],
        [2, 2, 2, 2, 1, 0],
        [2, 2, 2, 2, 0, 0],
    ])
    np.testing.assert_array_equal(region_map, expected)  # small gets id 1, big id 2 and wins the overlap


def test_region_map_ties_keep_the_given_order_and_explicit_areas_decide():
    first, second = np.zeros((2, 2), bool), np.zeros((2, 2), bool)
    first[0] = True
    second[:, 0] = True  # same area as first, overlapping at (0, 0)
    assert region_map_from_masks([first, second])[0, 0] == 2  # stable sort: the later mask paints later
    assert region_map_from_masks([first, second], areas=[5, 1])[0, 0] == 2  # "first" is larger by its SAM2 area
    with pytest.raises(ValueError):
        region_map_from_masks([first, np.zeros((3, 3), bool)])


def _features(*vectors):
    return F.normalize(torch.tensor(vectors, dtype=torch.float32), dim=-1)


def test_merging_joins_chains_of_close_regions_and_keeps_the_unsegmented_value():
    # unit vectors at angles 0°, 30°, 60°, 180° around a circle: cos 30° = 0.866 -> distance 0.134 <= 0.2,
    # cos 60° = 0.5 -> 0.5. DBSCAN with min_samples=1 links 1-2 and 2-3, so 1, 2 and 3 share a cluster
    # (single linkage) although 1 and 3 are far apart; 4 stays alone.
    angles = np.deg2rad([90.0, 0.0, 30.0, 60.0, 180.0])
    features = _features(*[[np.cos(a), np.sin(a)] for a in angles])
    regions = torch.tensor([0, 1, 2, 3, 4])
    merged = merge_regions(regions, features)
    assert merged[0] == 0  # unsegmented keeps its value
    assert merged[1] == merged[2] == merged[3] != merged[4]
    assert set(merged[1:].tolist()) == {MERGED_ID_BASE, MERGED_ID_BASE + 1}


def test_merging_averages_each_regions_tokens_and_ignores_the_unsegmented_features():
    # region 5 has tokens at 0° and 80°: their mean points at 40°, 10° from region 7 at 50° -> merged. Its first
    # token alone would be 50° away (distance 0.36) and stay apart, so the mean decides. The unsegmented token
    # (id 1, the smallest) takes no part and keeps its id.
    angles = np.deg2rad([0.0, 80.0, 50.0, 0.0, 175.0])
    features = _features(*[[np.cos(a), np.sin(a)] for a in angles])
    regions = torch.tensor([5, 5, 7, 1, 9])
    merged = merge_regions(regions, features)
    assert merged[3] == 1
    assert merged[0] == merged[1] == merged[2] != merged[4]


def test_merging_needs_more_than_two_values():
    regions = torch.tensor([0, 3, 3, 0])
    features = _features([1, 0], [0, 1], [0, 1], [1, 0])
    assert merge_regions(regions, features) is regions


def test_merging_relabels_all_at_once_so_old_ids_in_the_new_range_are_not_confused():
    # 10000 is the window padding's id and takes part like any region. Region 5 becomes 10000 (cluster 0) and
    # the padding 10001 (cluster 1); relabelling one value after another would then catch region 5 again.
    features = _features([-1, 0], [1, 0], [0, 1])
    merged = merge_regions(torch.tensor([0, 5, 10000]), features)
    assert merged.tolist() == [0, 10000, 10001]


def test_scope_allows_own_region_and_similar_unsegmented_pairs():
    # tokens 0, 1 unsegmented (id 0); 2, 3 in region 4; 4 in region 9
    similarity = torch.tensor([
        [1.0, 0.9, 0.1, 0.8, 0.0],
        [0.9, 1.0, 0.7, 0.2, 0.6],
        [0.1, 0.7, 1.0, 0.3, 0.9],
        [0.8, 0.2, 0.3, 1.0, 0.1],
        [0.0, 0.6, 0.9, 0.1, 1.0],
    ])
    regions = torch.tensor([0, 0, 4, 4, 9])
    mean = similarity.mean()  # 0.576, over all 25 entries, diagonal included
    allowed = torch.tensor([
        # row 0 (unsegmented): any token above the mean
        [1, 1, 0, 1, 0],
        # row 1 (unsegmented): 0.9, 1.0, 0.7, 0.6 > mean
        [1, 1, 1, 0, 1],
        # row 2 (region 4): its region (2, 3) and unsegmented token 1 (0.7 > mean), not token 0 (0.1)
        [0, 1, 1, 1, 0],
        # row 3 (region 4): its region and token 0 (0.8); not region 9 even where similar
        [1, 0, 1, 1, 0],
        # row 4 (region 9): itself and token 1 (0.6 > mean); token 2 of region 4 is similar but out of scope
        [0, 1, 0, 0, 1],
    ], dtype=torch.bool)
    assert 0.56 < float(mean) < 0.57  # 14.2 / 25
    expected = (TAU * similarity).masked_fill(~allowed, float("-inf")).softmax(dim=-1)
    result = scoped_correlation(similarity, regions)
    torch.testing.assert_close(result, expected, rtol=0, atol=0)
    assert TAU == 4.0
    torch.testing.assert_close(result[4, [1, 4]], torch.tensor([0.6, 1.0]).mul(4).softmax(0))


def test_scope_takes_the_smallest_id_as_unsegmented_whatever_it_is():
    similarity = torch.eye(3) * 0.5 + 0.5  # off-diagonal 0.5 < mean 0.667
    regions = torch.tensor([7, 7, 12])  # no 0: id 7 plays "unsegmented"
    result = scoped_correlation(similarity, regions)
    # unsegmented tokens 0, 1 need S > mean with each other: 0.5 is not, so each attends only to itself
    torch.testing.assert_close(result, torch.eye(3))


def test_nearest_resize_is_torch_legacy_nearest_through_float():
    regions = torch.arange(7 * 9).view(7, 9) * 1000 + 3
    for size in [(3, 4), (14, 18), (5, 20)]:
        expected = F.interpolate(regions[None, None].float(), size=size, mode="nearest")[0, 0].long()
        torch.testing.assert_close(resize_regions(regions, size), expected)
    assert nearest_indices(42, 21).tolist() == list(range(0, 42, 2))  # the top-left sample of each 2x2 block


def test_map_correction_takes_each_regions_mode_with_ties_to_the_smaller_label():
    labels = np.array([
        [3, 3, 1, 2],
        [3, 0, 2, 2],
        [5, 5, 1, 1],
    ], dtype=np.int32)
    regions = np.array([
        [1, 1, 2, 2],
        [1, 1, 2, 2],
        [0, 0, 3, 3],
    ])
    corrected = map_correction(labels, regions, num_classes=6)
    expected = np.array([
        [3, 3, 2, 2],  # region 1: three 3s and a 0 -> 3; region 2: 1, 2, 2, 2 -> 2
        [3, 3, 2, 2],
        [5, 5, 1, 1],  # row 2 left: unsegmented keeps per-pixel labels; region 3: both 1
    ])
    np.testing.assert_array_equal(corrected, expected)
    alone = map_correction(np.array([[4, 2, 2, 4]], np.int32), np.array([[1, 1, 1, 1]]), num_classes=5)
    np.testing.assert_array_equal(alone, [[4, 2, 2, 4]])  # a single id is the unsegmented region: unchanged
    tie = map_correction(np.array([[4, 2, 2, 4]], np.int32), np.array([[0, 1, 1, 1]]), num_classes=5)
    np.testing.assert_array_equal(tie, [[4, 2, 2, 2]])  # region 1 = {2, 2, 4}
    tie = map_correction(np.array([[0, 4, 2, 2, 4]], np.int32), np.array([[0, 1, 1, 1, 1]]), num_classes=5)
    np.testing.assert_array_equal(tie, [[0, 2, 2, 2, 2]])  # 2 and 4 tie -> the smaller label


def test_map_correction_with_huge_ids_and_in_bands_equals_the_plain_computation(monkeypatch):
    rng = np.random.default_rng(0)
    regions = rng.integers(0, 6, size=(40, 30)) * 2**30  # ids far apart: the sorting path
    labels = rng.integers(0, 4, size=(40, 30)).astype(np.int32)
    expected = labels.copy()
    for region in np.unique(regions)[1:]:
        inside = regions == region
        expected[inside] = np.bincount(labels[inside], minlength=4).argmax()
    np.testing.assert_array_equal(map_correction(labels, regions, 4), expected)
    monkeypatch.setattr("sclip.corrclip.regions.CORRECTION_BAND_PIXELS", 7 * 30)  # several bands
    np.testing.assert_array_equal(map_correction(labels, regions // 2**30, 4), expected)
