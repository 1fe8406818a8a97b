import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from refine import mask_bbox, mask_to_coco_rle


# pycocotools' decode trips numpy 2's copy-keyword deprecation; not ours to fix.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_rle_round_trips_through_pycocotools_and_json():
    rng = np.random.default_rng(0)
    mask = rng.random((37, 53)) > 0.6
    rle = json.loads(json.dumps(mask_to_coco_rle(mask)))

    assert rle["size"] == [37, 53] and isinstance(rle["counts"], str)
    decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
    assert np.array_equal(decoded.astype(bool), mask)
    assert mask_utils.area({"size": rle["size"], "counts": rle["counts"].encode("ascii")}) == mask.sum()


def test_bbox_is_coco_xywh():
    mask = np.zeros((20, 30), dtype=bool)
    mask[5:9, 10:22] = True
    mask[12, 3] = True
    assert mask_bbox(mask) == [3, 5, 19, 8]
    assert mask_bbox(np.zeros((4, 4), dtype=bool)) == [0, 0, 0, 0]
    rle = mask_to_coco_rle(mask)
    coco_box = mask_utils.toBbox({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
    assert mask_bbox(mask) == coco_box.tolist()
