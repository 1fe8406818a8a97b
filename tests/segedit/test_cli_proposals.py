"""main.py (SAM2 proposals labelled by CLIP) end to end with a tiny CLIP and a random SAM2."""
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

import main


@pytest.fixture
def run_args(tmp_path, photo, tiny_clip_checkpoint, tiny_sam2_checkpoint):
    image = tmp_path / "astronaut.png"
    Image.fromarray(photo).save(image)
    checkpoint, config = tiny_sam2_checkpoint
    return ["--image", str(image), "--clip-weights", str(tiny_clip_checkpoint), "--cache-dir", str(tmp_path / "c"),
            "--sam2-checkpoint", str(checkpoint), "--sam2-config", config, "--sam-points-per-side", "4",
            "--sam-pred-iou-thresh", "0", "--sam-stability-thresh", "0", "--device", "cpu", "-q"]


def test_proposals_write_every_file(run_args, tmp_path, photo):
    out = tmp_path / "out"
    # every class but the prompt is excluded, so each proposal's best class is the target
    code = main.main(run_args + ["--prompt", "person", "--vocabulary", "person", "--top-k", "3", "--visualize",
                                 "--output", str(out)])
    assert code == 0
    for name in ("original.png", "mask.png", "instances.json", "result.json", "segmentation.png",
                 "similarity_map.png"):
        assert (out / name).is_file(), name
    instances = json.loads((out / "instances.json").read_text())["instances"]
    assert 1 <= len(instances) <= 3
    scores = [instance["score"] for instance in instances]
    assert scores == sorted(scores, reverse=True)
    union = np.zeros(photo.shape[:2], dtype=bool)
    for instance in instances:
        decoded = mask_utils.decode({"size": instance["segmentation"]["size"],
                                     "counts": instance["segmentation"]["counts"].encode()}).astype(bool)
        assert decoded.sum() == instance["area"]
        x, y, w, h = instance["bbox"]
        ys, xs = np.nonzero(decoded)
        assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        union |= decoded
    mask = np.asarray(Image.open(out / "mask.png")) == 255
    assert np.array_equal(mask, union)
    result = json.loads((out / "result.json").read_text())
    assert result["approach"] == "proposals" and result["targets"][0]["instances"] == len(instances)
    assert result["targets"][0]["proposals"] >= len(instances)


def test_proposals_opencv_remove(run_args, tmp_path, photo):
    out = tmp_path / "out"
    code = main.main(run_args + ["--prompt", "person", "--vocabulary", "person", "--mode", "remove",
                                 "--inpainter", "opencv", "--visualize", "--output", str(out)])
    assert code == 0
    edited = np.asarray(Image.open(out / "edited.png"))
    assert edited.shape == photo.shape
    assert (out / "comparison.png").is_file()
    result = json.loads((out / "result.json").read_text())
    assert result["targets"][0]["edit"]["mode"] == "remove"
