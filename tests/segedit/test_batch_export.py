"""--export-coco for both CLIs, checked with pycocotools, and SAM2 masks computed once per image."""
import json

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.utils.amg import mask_to_rle_pytorch

import main
import main_sclip
import refine
from segedit.coco import build_export
from segedit.record import ResultRecord, TargetRecord


@pytest.fixture
def sam2_flags(tiny_clip_checkpoint, tiny_sam2_checkpoint, text_cache) -> list[str]:
    checkpoint, config = tiny_sam2_checkpoint
    return ["--clip-weights", str(tiny_clip_checkpoint), "--cache-dir", str(text_cache), "--device", "cpu",
            "--sam2-checkpoint", str(checkpoint), "--sam2-config", config, "-q"]


@pytest.fixture
def sam2_calls(monkeypatch) -> list:
    """SAM2's mask generator replaced by fixed masks (three vertical bands and the whole image); calls recorded.

    Running the random SAM2 would cost seconds per image and give arbitrary masks; the loading,
    caching and everything after the generator stay real.
    """
    calls = []

    def bands(self, image):
        calls.append(image.shape)
        height, width = image.shape[:2]
        masks = torch.zeros((4, height, width), dtype=torch.bool)
        for index, (start, stop) in enumerate(((0, width // 3), (width // 3, 2 * width // 3), (2 * width // 3, width))):
            masks[index, :, start:stop] = True
        masks[3] = True
        boxes = [[0, 0, width // 3, height], [width // 3, 0, width // 3, height],
                 [2 * width // 3, 0, width - 2 * width // 3, height], [0, 0, width, height]]
        return [
            {"segmentation": rle, "bbox": box, "predicted_iou": 0.9, "stability_score": 0.95, "area": int(mask.sum())}
            for rle, box, mask in zip(mask_to_rle_pytorch(masks), boxes, masks)
        ]

    monkeypatch.setattr(SAM2AutomaticMaskGenerator, "generate", bands)
    return calls


@pytest.fixture
def inputs(tmp_path, photo) -> list[str]:
    paths = []
    for name, (y, x) in zip(("left.png", "right.jpg"), ((0, 0), (100, 150))):
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(np.ascontiguousarray(photo[y:y + 60, x:x + 90])).save(path)
        paths.append(str(path))
    return paths


def decode(annotation: dict) -> np.ndarray:
    return mask_utils.decode(annotation["segmentation"]).astype(bool)


def check_annotation_geometry(annotation: dict, image: dict) -> np.ndarray:
    """The RLE decodes at the image's size; area and bbox are those of the decoded mask."""
    mask = decode(annotation)
    assert mask.shape == (image["height"], image["width"])
    assert annotation["area"] == int(mask.sum()) == int(mask_utils.area(annotation["segmentation"]))
    ys, xs = np.nonzero(mask)
    assert annotation["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    assert np.allclose(mask_utils.toBbox(annotation["segmentation"]), annotation["bbox"])
    assert 0.0 <= annotation["score"] <= 1.0 and annotation["iscrowd"] == 0
    return mask


def test_sclip_export_has_one_annotation_per_refined_target_mask(tmp_path, inputs, sam2_flags, sam2_calls):
    out, export = tmp_path / "out", tmp_path / "exports" / "run.json"  # the export's folder is created
    code = main_sclip.main(["--image", *inputs, "--prompt", "person", "car", "--vocabulary", "person", "car", "tree",
                            "--min-coverage", "0.5", "--output", str(out), "--export-coco", str(export)] + sam2_flags)
    assert code in (0, 3)
    assert len(sam2_calls) == 2  # one SAM2 run per image although two prompts are refined

    coco = COCO(str(export))  # pycocotools indexes it: ids and references are consistent
    data = json.loads(export.read_text())
    assert [(c["id"], c["name"]) for c in data["categories"]] == [(1, "person"), (2, "car"), (3, "tree")]
    assert [image["file_name"] for image in data["images"]] == inputs
    found = 0
    for image, folder in zip(data["images"], ("left", "right")):
        record = json.loads((out / folder / "result.json").read_text())
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        by_category = {annotation["category_id"]: annotation for annotation in annotations}
        assert len(by_category) == len(annotations)
        for target in record["targets"]:
            saved = np.asarray(Image.open(out / folder / target["prompt"] / "mask.png")) == 255
            assert target["refinement"]["masks"] == 4
            category = target["class_index"] + 1
            if not target["found"]:
                assert category not in by_category
                continue
            found += 1
            assert np.array_equal(check_annotation_geometry(by_category[category], image), saved)
            assert np.array_equal(coco.annToMask(by_category[category]).astype(bool), saved)
        assert len(annotations) == sum(target["found"] for target in record["targets"])
    assert len(data["annotations"]) == found > 0


def test_export_lists_images_without_targets_and_every_category(tmp_path, inputs, tiny_clip_checkpoint, text_cache):
    export = tmp_path / "run.json"
    code = main_sclip.main(["--image", *inputs, "--prompt", "person", "--prob-thd", "1.0", "--no-sam-refinement",
                            "--clip-weights", str(tiny_clip_checkpoint), "--cache-dir", str(text_cache),
                            "--short-side", "224", "--output", str(tmp_path / "out"), "--export-coco", str(export),
                            "-q"])
    assert code == 3
    data = json.loads(export.read_text())
    assert data["annotations"] == [] and [image["file_name"] for image in data["images"]] == inputs
    assert [category["name"] for category in data["categories"]] == ["background", "person"]


def test_proposals_export_and_shared_sam2_masks(tmp_path, inputs, sam2_flags, sam2_calls):
    out, export = tmp_path / "out", tmp_path / "run.json"
    # 'person' is the only class of its vocabulary, so its two best masks are instances; 'car' gets the
    # vocabulary person + car, in which index 1 is a class the first vocabulary does not have
    code = main.main(["--image", *inputs, "--prompt", "person", "--prompt", "car", "--vocabulary", "person",
                      "--top-k", "2", "--output", str(out), "--export-coco", str(export)] + sam2_flags)
    assert code in (0, 3)
    assert len(sam2_calls) == 2  # one SAM2 run per image for both prompts

    coco = COCO(str(export))
    data = json.loads(export.read_text())
    names = {category["id"]: category["name"] for category in data["categories"]}
    assert names == {1: "person", 2: "car"}
    for image, folder in zip(data["images"], ("left", "right")):
        exported = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        written = []
        for prompt in ("person", "car"):
            instances = json.loads((out / folder / prompt / "instances.json").read_text())["instances"]
            written += [(prompt, instance) for instance in instances]
        assert [prompt for prompt, _ in written][:2] == ["person", "person"] and len(written) <= 4
        assert len(exported) == len(written)
        for annotation, (prompt, instance) in zip(exported, written):
            assert names[annotation["category_id"]] == prompt == instance["class"]
            assert np.array_equal(check_annotation_geometry(annotation, image), decode(instance))
            assert annotation["score"] == instance["score"]


def test_categories_are_matched_by_name_across_records():
    """The same class index means different classes in two records: categories are matched by names."""
    mask = np.zeros((4, 6), dtype=bool)
    mask[1:3, 2:5] = True
    annotation = {"segmentation": refine.mask_to_coco_rle(mask), "area": 6, "bbox": [2, 1, 3, 2]}

    def record(image, label, score):
        vocabulary = [{"index": 0, "label": "background", "names": ["sky", "wall"]},
                      {"index": 1, "label": label, "names": [label]}]
        annotations = [dict(annotation, class_index=1, score=score)] if score is not None else []
        target = TargetRecord(label, 1, [label], bool(annotations), 6 if annotations else 0, 0.25,
                              annotations=annotations)
        return ResultRecord("f", image, {"width": 6, "height": 4}, "sclip", "segment", {}, {},
                            vocabulary=vocabulary, targets=[target], complete=True)

    data = build_export([record("street.jpg", "person", 0.8), record("street2.jpg", "car", 0.6),
                         record("empty.jpg", "car", None)])
    assert [(c["id"], c["name"]) for c in data["categories"]] == [(1, "background"), (2, "person"), (3, "car")]
    assert [a["category_id"] for a in data["annotations"]] == [2, 3]
    assert [(i["id"], i["file_name"]) for i in data["images"]] == [(1, "street.jpg"), (2, "street2.jpg"),
                                                                   (3, "empty.jpg")]
    assert [a["image_id"] for a in data["annotations"]] == [1, 2]
    assert data["annotations"][0]["bbox"] == [2, 1, 3, 2] and data["annotations"][0]["area"] == 6
