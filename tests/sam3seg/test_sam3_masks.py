import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sam3seg.masks import upsample_mask, upsampled_block


def _reference(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    source = torch.from_numpy(mask).float()[None, None]
    return F.interpolate(source, size=(height, width), mode="bilinear", align_corners=False)[0, 0].numpy()


@pytest.mark.parametrize(("small", "large"), [((30, 45), (300, 451)), ((7, 9), (23, 31)), ((75, 100), (300, 400))])
def test_matches_bilinear_interpolation_thresholded(small, large):
    rng = np.random.default_rng(1)
    mask = np.zeros(small, dtype=bool)
    mask[small[0] // 4 : small[0] // 2 + 1, small[1] // 3 : small[1] // 2 + 1] = True
    mask |= rng.random(small) > 0.95
    reference = _reference(mask, *large)
    got = upsample_mask(mask, *large)
    differ = got != (reference > 0.5)
    # only float rounding at exact ties may differ
    assert np.all(np.abs(reference[differ] - 0.5) < 1e-4)
    assert differ.mean() < 1e-3


def test_block_covers_everything_that_is_set():
    mask = np.zeros((40, 60), dtype=bool)
    mask[10:13, 20:22] = True
    block, y0, x0 = upsampled_block(mask, 400, 600)
    reference = _reference(mask, 400, 600) > 0.5
    outside = reference.copy()
    outside[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1]] = False
    assert not outside.any()
    assert block.shape[0] < 60 and block.shape[1] < 60  # only the neighbourhood of the mask is computed
    assert np.array_equal(upsample_mask(mask, 400, 600), reference)


def test_same_size_is_identity_and_empty_stays_empty():
    mask = np.random.default_rng(2).random((17, 23)) > 0.5
    assert np.array_equal(upsample_mask(mask, 17, 23), mask)
    assert upsampled_block(np.zeros((5, 5), dtype=bool), 50, 50) is None
    assert not upsample_mask(np.zeros((5, 5), dtype=bool), 50, 50).any()
