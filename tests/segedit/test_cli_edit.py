"""Edit modes end to end: tiny random diffusion pipeline through --inpaint-model DIR, and the OpenCV remover."""
import json

import numpy as np
import pytest
from PIL import Image

import main_sclip


@pytest.fixture
def segment_args(tmp_path, photo, tiny_clip_checkpoint):
    image = tmp_path / "astronaut.jpg"
    Image.fromarray(photo).save(image, quality=95)
    return ["--image", str(image), "--prompt", "person", "--clip-weights", str(tiny_clip_checkpoint), "--cache-dir",
            str(tmp_path / "cache"), "--no-sam-refinement", "--device", "cpu", "-q"]


@pytest.mark.parametrize("mode, edit", [("remove", None), ("replace", "a red racing car"),
                                        ("style", "oil painting")])
def test_diffusion_modes(segment_args, tiny_inpaint_model, tmp_path, mode, edit):
    out = tmp_path / mode
    argv = segment_args + ["--mode", mode, "--inpaint-model", tiny_inpaint_model, "--steps", "2", "--seed", "3",
                           "--visualize", "--output", str(out)]
    if edit:
        argv += ["--edit", edit]
    assert main_sclip.main(argv) == 0
    original = np.asarray(Image.open(out / "original.png"))
    edited = np.asarray(Image.open(out / "edited.png"))
    assert edited.shape == original.shape
    assert (out / "comparison.png").is_file()
    record = json.loads((out / "result.json").read_text())["targets"][0]["edit"]
    assert record["mode"] == mode and record["seed"] == 3 and record["steps"] == 2
    if mode == "remove":
        assert "person" in record["negative_prompt"]
    else:
        assert edit in record["prompt"]
    # pixels far from the (dilated + feathered) mask are exactly the original
    mask = np.asarray(Image.open(out / "mask.png")) == 255
    import cv2

    reach = 5 + 8 + 2
    near = cv2.dilate(mask.astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0
    assert np.array_equal(edited[~near], original[~near])


def test_seed_makes_edits_reproducible(segment_args, tiny_inpaint_model, tmp_path):
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        argv = segment_args + ["--mode", "replace", "--edit", "a cat", "--inpaint-model", tiny_inpaint_model,
                               "--steps", "2", "--seed", "11", "--output", str(out)]
        assert main_sclip.main(argv) == 0
        outputs.append(np.asarray(Image.open(out / "edited.png")))
    assert np.array_equal(*outputs)


def test_missing_inpaint_model_fails_before_any_image(segment_args, tmp_path, capsys):
    out = tmp_path / "out"
    code = main_sclip.main(segment_args + ["--mode", "remove", "--inpaint-model", str(tmp_path / "nope"),
                                           "--output", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "--inpaint-model" in err and err.count("\n") == 0
    assert not (out / "result.json").exists()


def test_opencv_remove_changes_only_the_region(segment_args, tmp_path):
    out = tmp_path / "cv"
    assert main_sclip.main(segment_args + ["--mode", "remove", "--inpainter", "opencv", "--output", str(out)]) == 0
    original = np.asarray(Image.open(out / "original.png")).astype(int)
    edited = np.asarray(Image.open(out / "edited.png")).astype(int)
    mask = np.asarray(Image.open(out / "mask.png")) == 255
    changed = (original != edited).any(axis=2)
    assert changed.any() and changed[mask].mean() > 0.5
