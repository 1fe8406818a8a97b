"""main_sclip.py end to end on a real photo with tiny random models loaded through the user-facing flags."""
import json

import numpy as np
import pytest
from PIL import Image

import main_sclip


@pytest.fixture
def photo_file(tmp_path, photo):
    path = tmp_path / "astronaut.jpg"
    Image.fromarray(photo).save(path, quality=95)
    return path


@pytest.fixture
def base_args(tiny_clip_checkpoint, tmp_path):
    return ["--clip-weights", str(tiny_clip_checkpoint), "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "-q"]


def test_segment_writes_every_file(photo_file, base_args, tmp_path, photo):
    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(photo_file), "--prompt", "person", "--no-sam-refinement", "--visualize",
                            "--save-probs", "--output", str(out)] + base_args)
    assert code == 0
    for name in ("original.png", "labels.png", "mask.png", "result.json", "probs.npy", "sclip_prediction.png",
                 "label_map.png"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.part"))
    result = json.loads((out / "result.json").read_text())
    assert result["complete"] is True
    assert result["targets"][0]["prompt"] == "person" and result["targets"][0]["class_index"] == 1
    # background is represented by SCLIP's 26 stuff names, recorded in result.json
    assert len(result["vocabulary"][0]["names"]) == 26 and result["vocabulary"][1]["names"] == ["person"]
    assert result["model"]["clip_weights"].startswith("file:")
    assert result["settings"]["sclip"]["slide_crop"] == 224 and "sclip_windows" in result["timings"]

    labels = Image.open(out / "labels.png")
    assert labels.mode == "P" and labels.size == (photo.shape[1], photo.shape[0])
    label_array = np.asarray(labels)
    mask = np.asarray(Image.open(out / "mask.png"))
    assert set(np.unique(mask)) <= {0, 255}
    assert np.array_equal(mask == 255, label_array == 1)
    assert result["class_pixels"][1]["pixels"] == int((label_array == 1).sum())

    probs = np.load(out / "probs.npy")
    assert probs.dtype == np.float16 and probs.shape == (2, photo.shape[0], photo.shape[1])
    # labels are the argmax of the saved probabilities (no thresholds by default)
    agree = (probs.astype(np.float32).argmax(0) == label_array).mean()
    assert agree > 0.99
    assert np.asarray(Image.open(out / "original.png")).shape == photo.shape


def test_target_not_found_exits_3_after_writing_result(photo_file, base_args, tmp_path, capsys):
    out = tmp_path / "out"
    # an impossible probability threshold sends every pixel to class 0
    code = main_sclip.main(["--image", str(photo_file), "--prompt", "person", "--no-sam-refinement", "--prob-thd",
                            "1.0", "--output", str(out)] + base_args[:-1])
    assert code == 3
    result = json.loads((out / "result.json").read_text())
    assert result["complete"] is True and result["targets"][0]["found"] is False
    captured = capsys.readouterr()
    assert captured.err.count("not found: 'person'") == 1 and "--vocabulary" in captured.err
    assert captured.out.strip() == f"'person' not found; results in {out}"


def test_vocabulary_preset_and_multiple_prompts(photo_file, base_args, tmp_path):
    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(photo_file), "--prompt", "person", "--prompt", "sky", "--vocabulary",
                            "person, man", "sky", "tree", "--no-sam-refinement", "--output", str(out)] + base_args)
    assert code in (0, 3)
    result = json.loads((out / "result.json").read_text())
    assert [c["names"] for c in result["vocabulary"]] == [["person", "man"], ["sky"], ["tree"]]
    assert {t["prompt"] for t in result["targets"]} == {"person", "sky"}
    assert (out / "person" / "mask.png").is_file() and (out / "sky" / "mask.png").is_file()

    preset_out = tmp_path / "preset"
    code = main_sclip.main(["--image", str(photo_file), "--prompt", "person", "--preset", "voc21",
                            "--no-sam-refinement", "--output", str(preset_out)] + base_args)
    assert code in (0, 3)
    result = json.loads((preset_out / "result.json").read_text())
    assert len(result["vocabulary"]) == 21 and result["targets"][0]["class_index"] == 15
    assert result["settings"]["sclip"]["logit_scale"] == 65 and result["settings"]["sclip"]["area_thd"] == 0.1


def test_missing_image_is_one_line_usage_error(base_args, tmp_path, capsys):
    code = main_sclip.main(["--image", str(tmp_path / "nope.jpg"), "--prompt", "car", "--no-sam-refinement",
                            "--output", str(tmp_path / "out")] + base_args)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "nope.jpg" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_weights_say_where_and_how(photo_file, tmp_path, capsys):
    code = main_sclip.main(["--image", str(photo_file), "--prompt", "car", "--no-sam-refinement", "--clip-weights",
                            str(tmp_path / "absent.pt"), "--output", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.count("\n") == 0 and "absent.pt" in err and "--clip-weights" in err


def test_hub_weights_offline_fail_fast_with_advice(photo_file, tmp_path, capsys):
    code = main_sclip.main(["--image", str(photo_file), "--prompt", "car", "--no-sam-refinement", "--model",
                            "ViT-B-16", "--output", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "ViT-B-16" in err and "--clip-weights" in err and err.count("\n") == 0


def test_sam_refinement_with_random_sam2(photo_file, base_args, tmp_path, tiny_sam2_checkpoint):
    checkpoint, config = tiny_sam2_checkpoint
    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(photo_file), "--prompt", "person", "--visualize", "--output", str(out),
                            "--sam2-checkpoint", str(checkpoint), "--sam2-config", config,
                            "--sam-points-per-side", "2", "--sam-pred-iou-thresh", "0", "--sam-stability-thresh", "0"]
                           + base_args)
    assert code in (0, 3)
    result = json.loads((out / "result.json").read_text())
    refinement = result["targets"][0]["refinement"]
    assert set(refinement) == {"masks", "kept", "fallback", "min_coverage"}
    assert refinement["masks"] >= 1
    assert (out / "sam2_refined_mask.png").is_file() and (out / "sclip_prediction.png").is_file()
    mask = np.asarray(Image.open(out / "mask.png")) == 255
    assert int(mask.sum()) == result["targets"][0]["pixels"]


@pytest.mark.parametrize("argv, message", [
    (["--mode", "replace"], "--edit"),
    (["--mode", "replace", "--edit", "x", "--inpainter", "opencv"], "can only remove"),
    (["--prompt", "  "], "empty"),
    (["--preset", "voc21", "--vocabulary", "cat"], "only one"),
])
def test_usage_errors(photo_file, base_args, tmp_path, capsys, argv, message):
    args = ["--image", str(photo_file), "--no-sam-refinement", "--output", str(tmp_path / "out")]
    if "--prompt" not in argv:
        args += ["--prompt", "person"]
    code = main_sclip.main(args + argv + base_args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "Traceback" not in err
