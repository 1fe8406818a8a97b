"""The Python API the command lines are built on: segedit.Segmenter and its typed results."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.utils.amg import mask_to_rle_pytorch

import inpaint
import sclip.segmenter
import segedit
from sclip import SCLIPSettings, Vocabulary
from segedit import Instance, SAM2Options, SegmentationResult, Segmenter, TargetResult

REPO = Path(__file__).resolve().parents[2]
# one CLIP window per image keeps the calls quick
SMALL = SCLIPSettings(short_side=224)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("text-cache")


@pytest.fixture(scope="module")
def segmenter(tiny_clip_checkpoint, cache_dir) -> Segmenter:
    return Segmenter(clip_weights=tiny_clip_checkpoint, device="cpu", cache_dir=cache_dir)


@pytest.fixture
def picture(photo) -> np.ndarray:
    return np.ascontiguousarray(photo[10:70, 90:170])  # 60x80 piece of the real photo


def test_segment_accepts_path_pil_and_array_alike(segmenter, picture, tmp_path, cache_dir):
    path = tmp_path / "piece.png"
    Image.fromarray(picture).save(path)
    results = [
        segmenter.segment(source, "person", settings=SMALL, refine_masks=False)
        for source in (path, str(path), Image.fromarray(picture), picture)
    ]
    for result in results:
        assert isinstance(result, SegmentationResult)
        target = result.targets["person"]
        assert isinstance(target, TargetResult) and target.refinement is None
        assert target.mask.shape == target.sclip_mask.shape == picture.shape[:2] and target.mask.dtype == bool
        assert np.array_equal(target.mask, target.sclip_mask) and target.found == bool(target.mask.any())
        assert result.labels.shape == picture.shape[:2]
        assert np.array_equal(target.mask, result.labels == target.class_index)
        assert result.class_pixels == np.bincount(result.labels.ravel(), minlength=len(result.vocabulary)).tolist()
        assert np.array_equal(result.labels, results[0].labels)
    assert result.vocabulary.labels[target.class_index] == "person" and result.probs is None
    assert any(cache_dir.iterdir())  # the text embeddings went to the cache folder given


def test_segment_several_prompts_in_one_pass(segmenter, picture, monkeypatch):
    windows = []
    original = sclip.segmenter.slide_inference

    def counting_slide_inference(*args, **kwargs):
        windows.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(sclip.segmenter, "slide_inference", counting_slide_inference)
    result = segmenter.segment(picture[::-1].copy(), ["person", "car"], vocabulary=["person", "car", "tree"],
                               settings=SMALL, refine_masks=False, return_probs=True)
    assert len(windows) == 1
    assert [result.targets[p].class_index for p in ("person", "car")] == [0, 1]
    assert not (result.targets["person"].mask & result.targets["car"].mask).any()
    assert result.probs.shape == (3, *picture.shape[:2])
    assert np.allclose(result.probs.astype(np.float32).sum(axis=0), 1.0, atol=0.01)


def test_rgba_arrays_are_composited_on_white_like_files(segmenter, picture):
    rgba = np.dstack([picture, np.zeros(picture.shape[:2], dtype=np.uint8)])  # fully transparent
    white = np.full_like(picture, 255)
    assert np.array_equal(
        segmenter.segment(rgba, "person", settings=SMALL, refine_masks=False).labels,
        segmenter.segment(white, "person", settings=SMALL, refine_masks=False).labels,
    )


def test_exif_rotated_file_gives_masks_of_the_upright_size(segmenter, picture, tmp_path):
    image = Image.fromarray(picture)
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(tmp_path / "turned.jpg", exif=exif)
    result = segmenter.segment(tmp_path / "turned.jpg", "person", settings=SMALL, refine_masks=False)
    assert result.targets["person"].mask.shape == (80, 60)


@pytest.mark.parametrize("image, prompt, message", [
    (np.zeros((8, 8, 3), dtype=np.float32), "person", "uint8"),
    (np.zeros((8, 8, 2), dtype=np.uint8), "person", "shape"),
    (np.zeros((8, 8, 3), dtype=np.uint8), "  ", "prompt is empty"),
])
def test_bad_arguments_raise_value_error(segmenter, image, prompt, message):
    with pytest.raises(ValueError, match=message):
        segmenter.segment(image, prompt, refine_masks=False)


def test_predict_labels_matches_segment(segmenter, picture):
    vocabulary = Vocabulary.from_lines(["person", "car", "tree"])
    labels = segmenter.predict_labels(picture, vocabulary, SMALL)
    assert labels.shape == picture.shape[:2]
    assert np.array_equal(labels, segmenter.segment(picture, "person", vocabulary=vocabulary, settings=SMALL,
                                                    refine_masks=False).labels)
    with pytest.raises(ValueError, match="unknown method"):
        segmenter.predict_labels(picture, vocabulary, SMALL, method="magic")


def test_edit_removes_with_opencv(segmenter, picture):
    mask = np.zeros(picture.shape[:2], dtype=bool)
    mask[20:40, 30:50] = True
    result = segmenter.edit(picture, mask, mode="remove", target="person", inpainter="opencv")
    assert isinstance(result, inpaint.EditResult) and result.mode == "remove"
    assert result.image.shape == picture.shape and result.image.dtype == np.uint8
    assert np.array_equal(result.image[:5, :5], picture[:5, :5])  # far from the mask nothing changes
    assert not np.array_equal(result.image[25:35, 35:45], picture[25:35, 35:45])
    json.dumps(result.metadata())


def test_propose_returns_typed_instances(tiny_clip_checkpoint, tiny_sam2_checkpoint, cache_dir, picture, monkeypatch):
    height, width = picture.shape[:2]
    halves = torch.zeros((2, height, width), dtype=torch.bool)
    halves[0, :, : width // 2] = True
    halves[1, :, width // 2:] = True
    records = [
        {"segmentation": rle, "bbox": box, "predicted_iou": 0.9, "stability_score": 0.9}
        for rle, box in zip(mask_to_rle_pytorch(halves), ([0, 0, width // 2, height], [width // 2, 0, width // 2,
                                                                                       height]))
    ]
    # the random SAM2 is loaded for real; only its slow, arbitrary mask generation is replaced
    monkeypatch.setattr(SAM2AutomaticMaskGenerator, "generate", lambda self, image: records)
    checkpoint, config = tiny_sam2_checkpoint
    segmenter = Segmenter(clip_weights=tiny_clip_checkpoint, device="cpu", cache_dir=cache_dir,
                          sam2=SAM2Options(checkpoint=str(checkpoint), config=config))
    result = segmenter.propose(picture, "person", vocabulary=["person"], top_k=5)
    assert isinstance(result, SegmentationResult) and result.approach == "proposals" and result.labels is None
    target = result.targets["person"]
    assert target.proposals == 2 and len(target.instances) == 2
    assert target.found and target.mask.all() and target.similarity.shape == picture.shape[:2]
    assert [instance.score for instance in target.instances] == sorted(
        (instance.score for instance in target.instances), reverse=True)
    for instance in target.instances:
        assert isinstance(instance, Instance)
        assert instance.area == int(instance.mask.sum()) == height * (width // 2)
        assert instance.bbox[1:] == [0, width // 2, height]


def test_segmenters_share_nothing(tiny_clip_checkpoint, picture, tmp_path):
    first = Segmenter(clip_weights=tiny_clip_checkpoint, device="cpu", cache_dir=tmp_path / "first")
    uncached = Segmenter(clip_weights=tiny_clip_checkpoint, device="cpu", cache_dir=None)
    first.segment(picture, "person", settings=SMALL, refine_masks=False)
    uncached.segment(picture, "car", settings=SMALL, refine_masks=False)
    assert any((tmp_path / "first").iterdir())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["first"]
    assert first.sclip is not uncached.sclip and first.sclip.clip.model is not uncached.sclip.clip.model


def test_import_builds_no_model_and_touches_no_cache(tmp_path):
    """Importing the packages and the CLI modules loads no weights and creates no cache folder."""
    probe = (
        "import gc, torch, segedit, segedit.api, segedit.cli, main_sclip, main\n"
        "assert not [o for o in gc.get_objects() if isinstance(o, torch.nn.Module)]\n"
    )
    environment = dict(os.environ, HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "cache"),
                       HF_HOME=str(tmp_path / "hf"), TORCH_HOME=str(tmp_path / "torch"), PYTHONPATH=str(REPO))
    completed = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=environment, capture_output=True,
                               text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert list(tmp_path.iterdir()) == []
    assert segedit.Segmenter is Segmenter
