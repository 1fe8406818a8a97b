import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils

from refine import SAM2Masks, majority_vote


def _blocks(shape, *boxes):
    masks = np.zeros((len(boxes), *shape), dtype=bool)
    for mask, (top, left, bottom, right) in zip(masks, boxes):
        mask[top:bottom, left:right] = True
    return masks


def test_unscaled_masks_come_back_exactly():
    stack = _blocks((12, 16), (0, 0, 5, 5), (3, 4, 12, 16), (0, 0, 0, 0))
    masks = SAM2Masks.from_arrays(stack, scores=[0.9, 0.8, 0.1], stability=[1.0, 0.9, 0.5])
    assert len(masks) == 3 and not masks.scaled
    assert all(np.array_equal(masks.full_mask(index), stack[index]) for index in range(3))
    assert np.array_equal(masks.areas, [25, 108, 0])
    assert np.array_equal(masks.union([0, 1]), stack[0] | stack[1])


def test_more_than_255_masks_are_counted_and_voted():
    """pycocotools' area() of a list fails under numpy 2 beyond 255 entries; a busy photo gives more."""
    stack = np.zeros((300, 20, 30), dtype=bool)
    for index, mask in enumerate(stack):
        mask[: 1 + index % 20, : 1 + index % 30] = True
    masks = SAM2Masks.from_arrays(stack)
    assert np.array_equal(masks.areas, stack.sum(axis=(1, 2)))
    target = np.zeros((20, 30), dtype=bool)
    target[:10, :15] = True
    vote = majority_vote(target, masks)
    inside = (stack & target).sum(axis=(1, 2))
    assert vote.kept == int(np.sum(5 * inside >= 3 * stack.sum(axis=(1, 2))))


def test_upsampling_doubles_a_block_exactly():
    """Bilinear on pixel centres, then >= 0.5: at 2x a block's edges land exactly between the new pixels."""
    masks = SAM2Masks.from_arrays(_blocks((10, 12), (2, 3, 6, 8)), image_size=(20, 24))
    expected = _blocks((20, 24), (4, 6, 12, 16))[0]
    assert np.array_equal(masks.full_mask(0), expected)
    assert masks.areas.tolist() == [expected.sum()]
    (rows, cols), crop = masks.full_region(0)
    assert np.array_equal(expected[rows, cols], crop) and crop.sum() == expected.sum()


def test_full_masks_are_smooth_and_match_opencv():
    rng = np.random.default_rng(0)
    coarse = cv2.resize((rng.random((6, 8)) > 0.5).astype(np.uint8), (32, 24), interpolation=cv2.INTER_NEAREST)
    masks = SAM2Masks.from_arrays(coarse.astype(bool)[None], image_size=(101, 133))
    full = masks.full_mask(0)
    reference = cv2.resize(coarse.astype(np.float32), (133, 101), interpolation=cv2.INTER_LINEAR) >= 0.5
    # OpenCV rounds its weights to fixed point, so pixels that sit exactly on 0.5 may fall either way.
    assert (full != reference).mean() < 0.01
    nearest = cv2.resize(coarse, (133, 101), interpolation=cv2.INTER_NEAREST).astype(bool)
    assert not np.array_equal(full, nearest)  # blocks would give staircase edges
    (rows, cols), crop = masks.full_region(0)
    assert np.array_equal(full[rows, cols], crop) and full.sum() == crop.sum()


def test_union_is_formed_before_upsampling_and_holds_every_mask():
    # Blocks touching only at a corner: each upsampled alone leaves a notch that the united mask fills.
    stack = _blocks((8, 9), (1, 1, 4, 4), (4, 4, 7, 8))
    masks = SAM2Masks.from_arrays(stack, image_size=(19, 23))
    union = masks.union([0, 1])
    united_first = SAM2Masks.from_arrays((stack[0] | stack[1])[None], image_size=(19, 23)).full_mask(0)
    assert np.array_equal(union, united_first)
    separately = masks.full_mask(0) | masks.full_mask(1)
    assert not (separately & ~union).any() and (union & ~separately).any()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' decode vs numpy 2
def test_coco_rle_is_the_full_size_mask():
    masks = SAM2Masks.from_arrays(_blocks((10, 12), (2, 3, 6, 8)), image_size=(20, 24))
    rle = json.loads(json.dumps(masks.coco_rle(0)))
    assert rle["size"] == [20, 24]
    decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
    assert np.array_equal(decoded.astype(bool), masks.full_mask(0))


def test_from_arrays_rejects_bad_input():
    with pytest.raises(ValueError, match="bool"):
        SAM2Masks.from_arrays(np.zeros((1, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="smaller"):
        SAM2Masks.from_arrays(np.zeros((1, 4, 4), dtype=bool), image_size=(3, 8))
    with pytest.raises(ValueError, match="scores"):
        SAM2Masks.from_arrays(np.zeros((2, 4, 4), dtype=bool), scores=[0.5])


@pytest.mark.parametrize("full_size", [(1365, 2048), (2667, 4000)])
def test_working_size_masks_match_masks_made_at_full_size_from_the_same_logits(full_size):
    """SAM2 upsamples 256x256 logits to the image; from 1024 px working masks a photo loses almost nothing."""
    generator = torch.Generator().manual_seed(0)
    # Object-like logits: smooth blobs on SAM2's 256x256 low-resolution grid.
    blobs = torch.randn(3, 1, 6, 6, generator=generator)
    logits = F.interpolate(blobs, (256, 256), mode="bicubic", align_corners=False)
    working_size = (round(1024 * full_size[0] / full_size[1]), 1024)
    at_full = F.interpolate(logits, full_size, mode="bilinear", align_corners=False)[:, 0] > 0
    at_working = F.interpolate(logits, working_size, mode="bilinear", align_corners=False)[:, 0] > 0
    masks = SAM2Masks.from_arrays(at_working.numpy(), image_size=full_size)
    for index, truth in enumerate(at_full.numpy()):
        assert 0.1 < truth.mean() < 0.9
        full = masks.full_mask(index)
        assert (full & truth).sum() / (full | truth).sum() >= 0.99
    union, truth = masks.union(range(3)), at_full.numpy().any(axis=0)
    assert (union & truth).sum() / (union | truth).sum() >= 0.99
