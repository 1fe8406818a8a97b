"""main_sam3.py and Segmenter.concept end to end with the tiny random SAM 3 loaded through --sam3-model DIR.

The tiny model scores every query near 0.25, so --sam3-threshold 0 keeps all its instances; CLIP must never load.
"""
import json
import shutil

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

import main_sam3
import sclip.model
import sclip.segmenter
from sam3seg import SAM3Settings
from segedit.api import Segmenter
from segedit.options import SAM3Options

VOCABULARY = ["--vocabulary", "sky", "person, man", "grass"]  # class 0 is sky: the target is class 1


@pytest.fixture(autouse=True)
def no_clip(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the SAM 3 approach loaded CLIP")

    monkeypatch.setattr(sclip.model, "load_clip", refuse)
    monkeypatch.setattr(sclip.segmenter, "load_clip", refuse)


@pytest.fixture
def run_args(tmp_path, photo, tiny_sam3_dir):
    image = tmp_path / "astronaut.png"
    Image.fromarray(photo).save(image)
    return ["--image", str(image), "--sam3-model", tiny_sam3_dir, "--sam3-threshold", "0", "--device", "cpu", "-q"]


def decode(rle: dict) -> np.ndarray:
    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)


def test_sam3_writes_every_file(run_args, tmp_path, photo):
    out = tmp_path / "out"
    code = main_sam3.main(run_args + ["--prompt", "person"] + VOCABULARY + ["--visualize", "--output", str(out)])
    assert code == 0
    for name in ("original.png", "labels.png", "label_map.png", "mask.png", "instances.json", "result.json",
                 "segmentation.png"):
        assert (out / name).is_file(), name
    assert np.array_equal(np.asarray(Image.open(out / "original.png")), photo)

    record = json.loads((out / "result.json").read_text())
    assert record["approach"] == "sam3" and record["complete"] is True
    assert record["model"] == {"device": "cpu", "precision": {"sam3": "fp32"}, "sam3": run_args[3]}
    assert set(record["model_load_seconds"]) == {"sam3"}
    assert record["settings"]["sam3"] == {"threshold": 0.0, "mask_threshold": 0.5, "max_side": 1008}
    target = record["targets"][0]
    assert target["class_index"] == 1 and target["phrase"] in ("person", "man") and target["found"]

    instances = json.loads((out / "instances.json").read_text())["instances"]
    assert len(instances) == target["instances"] > 0
    scores = [instance["score"] for instance in instances]
    assert scores == sorted(scores, reverse=True)
    union = np.zeros(photo.shape[:2], dtype=bool)
    for instance in instances:
        decoded = decode(instance["segmentation"])
        assert decoded.sum() == instance["area"] and instance["class_index"] == 1
        union |= decoded
    assert np.array_equal(np.asarray(Image.open(out / "mask.png")) == 255, union)

    labels = np.asarray(Image.open(out / "labels.png"))
    assert labels.shape == photo.shape[:2] and set(np.unique(labels)) <= {0, 1, 2}
    # the target's instances cover its pixels, so none of them is left to class 0
    assert not ((labels == 0) & union).any()
    assert [entry["pixels"] for entry in record["class_pixels"]] == np.bincount(labels.ravel(), minlength=3).tolist()


def test_batch_with_one_bad_image_and_coco_export(run_args, tmp_path, photo):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(photo[:96, :128]).save(photos / "a.png")
    Image.fromarray(photo[96:, 128:]).save(photos / "b.jpg")
    (photos / "broken.png").write_text("a text file with an image's name")
    out, export = tmp_path / "out", tmp_path / "coco.json"
    argv = run_args[2:] + ["--image", str(photos), "--prompt", "person", "--output", str(out),
                           "--export-coco", str(export)]
    assert main_sam3.main(argv) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exit_code"] == 1
    assert sorted(image["status"] for image in summary["images"]) == ["failed", "ok", "ok"]
    for name in ("a", "b"):
        assert (out / name / "instances.json").is_file() and (out / name / "result.json").is_file()

    coco = COCO(str(export))
    assert len(coco.getImgIds()) == 2 and coco.getAnnIds()
    person = [c["id"] for c in coco.loadCats(coco.getCatIds()) if c["name"] == "person"]
    for annotation in coco.loadAnns(coco.getAnnIds()):
        assert annotation["category_id"] == person[0]
        assert coco.annToMask(annotation).sum() == annotation["area"]


def test_remove_with_opencv(run_args, tmp_path, photo):
    out = tmp_path / "out"
    code = main_sam3.main(run_args + ["--prompt", "person", "--mode", "remove", "--inpainter", "opencv",
                                      "--output", str(out)])
    assert code == 0
    edited = np.asarray(Image.open(out / "edited.png"))
    assert edited.shape == photo.shape and not np.array_equal(edited, photo)
    assert json.loads((out / "result.json").read_text())["targets"][0]["edit"]["mode"] == "remove"


@pytest.mark.parametrize("folder", ["missing", "without weights"])
def test_unusable_model_folder_is_one_line_naming_the_flag(run_args, tmp_path, tiny_sam3_dir, folder, capsys):
    model = tmp_path / "sam3"
    if folder == "without weights":
        model.mkdir()
        shutil.copy(f"{tiny_sam3_dir}/config.json", model)
    argv = run_args + ["--prompt", "person", "--sam3-model", str(model), "--output", str(tmp_path / "out")]
    assert main_sam3.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: SAM 3 model") and "--sam3-model DIR" in err
    assert not (tmp_path / "out").exists()


def test_bad_threshold_is_one_usage_line_and_writes_nothing(run_args, tmp_path, capsys):
    out = tmp_path / "out"
    argv = run_args + ["--prompt", "person", "--sam3-threshold", "2", "--output", str(out),
                       "--export-coco", str(tmp_path / "coco.json")]
    assert main_sam3.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: --sam3-threshold:") and "2.0" in err
    assert not out.exists() and not (tmp_path / "coco.json").exists()


def test_concept_api_at_a_reduced_size(tiny_sam3_dir, photo):
    segmenter = Segmenter(device="cpu", sam3=SAM3Options(tiny_sam3_dir, SAM3Settings(threshold=0.0)))
    result = segmenter.concept(photo, ["person", "grass"], vocabulary=["sky", "person, man"], max_side=96)
    assert result.approach == "sam3" and result.labels.shape == photo.shape[:2]
    assert result.vocabulary.labels == ["sky", "person", "grass"]
    person, grass = result.targets["person"], result.targets["grass"]
    assert (person.class_index, grass.class_index) == (1, 2) and grass.phrase == "grass"
    assert person.instances and all(i.mask.shape == photo.shape[:2] and i.class_index == 1 for i in person.instances)
    assert np.array_equal(person.mask, np.logical_or.reduce([i.mask for i in person.instances]))
    assert segmenter._sclip is None and set(segmenter.load_seconds) == {"sam3"}
