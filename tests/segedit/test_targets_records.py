"""Targets and their records: background names as prompts, merged classes, class counts,
16-bit label maps, rejected numbers, strict JSON, long prompts, thin images, skipped SAM2, precision."""
import json
import cv2
import numpy as np
import pytest
from PIL import Image

import main_sclip


# a one-class vocabulary: every pixel is the target, so every stage has something to work on
EVERYWHERE = ("--vocabulary", "cat")


def strict_json(path):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture
def run(tiny_clip_checkpoint, text_cache, image_file, tmp_path):
    """main_sclip.py on the small image with the tiny CLIP, one CLIP window; returns (exit code, output)."""
    def go(*argv, image=None, output=None, refine=False):
        out = output or tmp_path / "out"
        args = ["--image", str(image or image_file), "--output", str(out), "--clip-weights", str(tiny_clip_checkpoint),
                "--cache-dir", str(text_cache), "--device", "cpu", "-q", "--short-side", "64", *argv]
        if not refine:
            args.append("--no-sam-refinement")
        return main_sclip.main(args), out

    return go


def test_a_background_name_as_prompt_is_its_own_class(run):
    code, out = run("--prompt", "sky")
    assert code in (0, 3)
    result = strict_json(out / "result.json")
    assert len(result["vocabulary"]) == 2
    assert result["targets"][0]["class_index"] == 1 and result["vocabulary"][1]["names"] == ["sky"]
    assert result["vocabulary"][0]["label"] == "background" and "sky" not in result["vocabulary"][0]["names"]
    assert result["targets"][0]["share"] < 1.0


def test_a_preset_class_as_prompt_selects_that_class(run):
    # voc21's class 0 is SCLIP's background line; a prompt naming one of its names becomes its own class
    code, out = run("--preset", "voc21", "--prompt", "wall")
    assert code in (0, 3)
    result = strict_json(out / "result.json")
    assert len(result["vocabulary"]) == 22 and result["targets"][0]["class_index"] == 21
    assert "wall" not in result["vocabulary"][0]["names"] and result["vocabulary"][21]["names"] == ["wall"]


def test_a_prompt_naming_a_vocabulary_line_selects_it(run):
    code, out = run("--prompt", "cat, kitten", "--vocabulary", "cat, kitten", "sky")
    assert code in (0, 3)
    result = strict_json(out / "result.json")
    assert [c["names"] for c in result["vocabulary"]] == [["cat", "kitten"], ["sky"]]
    assert result["targets"][0]["class_index"] == 0


def test_case_repeats_in_the_vocabulary_merge_with_a_warning(run, capsys):
    code, out = run("--prompt", "grass", "--vocabulary", "cat", "Cat", "grass")
    err = capsys.readouterr().err
    assert code in (0, 3)
    assert err.count("are the same; keeping the first") == 1 and "'Cat'" in err
    result = strict_json(out / "result.json")
    assert [c["names"] for c in result["vocabulary"]] == [["cat"], ["grass"]]


def test_class_pixels_match_labels_png(run):
    code, out = run("--prompt", "cat", "--vocabulary", "cat", "grass", "grass", "cat")
    assert code in (0, 3)
    result = strict_json(out / "result.json")
    labels = np.asarray(Image.open(out / "labels.png"))
    counts = np.bincount(labels.ravel(), minlength=2)
    assert [entry["index"] for entry in result["class_pixels"]] == [0, 1]
    assert [entry["names"] for entry in result["class_pixels"]] == [["cat"], ["grass"]]
    assert [entry["pixels"] for entry in result["class_pixels"]] == counts.tolist()
    assert sum(entry["pixels"] for entry in result["class_pixels"]) == labels.size


def test_three_hundred_classes_write_a_16_bit_label_map(run):
    vocabulary = [f"thing {number}" for number in range(299)]  # past 255: labels.png needs 16 bits
    code, out = run("--prompt", "cat", "--vocabulary", *vocabulary)
    assert code in (0, 3)
    result = strict_json(out / "result.json")
    assert len(result["vocabulary"]) == 300 and result["targets"][0]["class_index"] == 299
    with_pil = np.asarray(Image.open(out / "labels.png"))
    with_cv2 = cv2.imread(str(out / "labels.png"), cv2.IMREAD_UNCHANGED)
    assert with_cv2.dtype == np.uint16
    assert np.array_equal(with_pil.astype(np.int64), with_cv2.astype(np.int64))
    counts = np.bincount(with_cv2.ravel(), minlength=300)
    assert counts.tolist() == [entry["pixels"] for entry in result["class_pixels"]]
    mask = np.asarray(Image.open(out / "mask.png")) == 255
    assert np.array_equal(mask, with_cv2 == 299)


def exit_code(run, *argv):
    """The exit code, also of errors argparse itself reports (it raises SystemExit)."""
    try:
        return run(*argv)[0]
    except SystemExit as stopped:
        return stopped.code


@pytest.mark.parametrize("flag, value", [
    ("--logit-scale", "-1"), ("--logit-scale", "nan"), ("--logit-scale", "inf"), ("--logit-scale", "0"),
    ("--guidance", "nan"),
])
def test_bad_numbers_exit_2_naming_the_flag_and_create_nothing(run, capsys, tmp_path, flag, value):
    code = exit_code(run, "--prompt", "cat", flag, value)
    err = capsys.readouterr().err.strip()
    assert code == 2 and flag in err.splitlines()[0] and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_result_json_is_strict_json(run):
    code, out = run("--prompt", "cat", "--prob-thd", "1.0", "--area-thd", "0.5")
    assert code == 3
    text = (out / "result.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    strict_json(out / "result.json")


def test_a_prompt_longer_than_the_context_warns_once_naming_it(run, capsys):
    prompt = " ".join(["a very long description of a small red car"] * 12)
    code, _ = run("--prompt", prompt)
    err = capsys.readouterr().err
    assert code in (0, 3)
    lines = [line for line in err.splitlines() if prompt in line]
    assert len(lines) == 1, err


@pytest.mark.parametrize("size", [(5000, 1), (1, 5000)])
def test_thin_images_give_full_size_outputs(run, tmp_path, size):
    width, height = size
    path = tmp_path / f"thin-{width}x{height}.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
    code, out = run("--prompt", "cat", image=path)
    assert code in (0, 3)
    for name in ("labels.png", "mask.png", "original.png"):
        assert Image.open(out / name).size == (width, height), name
    result = strict_json(out / "result.json")
    assert result["image_size"] == {"width": width, "height": height}


def test_sam2_is_skipped_for_a_target_sclip_did_not_find(run, tiny_sam2_checkpoint, monkeypatch):
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

    calls = []
    original = SAM2AutomaticMaskGenerator.generate
    monkeypatch.setattr(SAM2AutomaticMaskGenerator, "generate",
                        lambda self, *args, **kwargs: calls.append(1) or original(self, *args, **kwargs))
    checkpoint, config = tiny_sam2_checkpoint
    code, out = run("--prompt", "cat", "--prob-thd", "1.0", "--sam2-checkpoint", str(checkpoint), "--sam2-config",
                    config, "--sam-points-per-side", "2", refine=True)
    assert code == 3
    result = strict_json(out / "result.json")
    assert "skipped" in result["targets"][0]["refinement"] and calls == []
    assert result["model"]["precision"] == {"clip": "fp32"}


def test_precision_lists_the_stages_that_ran(run, tiny_sam2_checkpoint, tmp_path):
    code, out = run("--prompt", "cat", output=tmp_path / "clip")
    assert strict_json(out / "result.json")["model"]["precision"] == {"clip": "fp32"}

    checkpoint, config = tiny_sam2_checkpoint
    code, out = run("--prompt", "cat", *EVERYWHERE, "--sam2-checkpoint", str(checkpoint), "--sam2-config",
                    config, "--sam-points-per-side", "2", output=tmp_path / "sam2", refine=True)
    assert strict_json(out / "result.json")["model"]["precision"] == {"clip": "fp32", "sam2": "fp32"}

    code, out = run("--prompt", "cat", *EVERYWHERE, "--mode", "remove", "--inpainter", "opencv",
                    output=tmp_path / "edit")
    assert strict_json(out / "result.json")["model"]["precision"] == {"clip": "fp32", "inpaint": "fp32"}


def test_edits_with_other_schedulers_share_one_loaded_pipeline(tiny_clip_checkpoint, text_cache, tiny_inpaint_model,
                                                               photo, monkeypatch):
    import inpaint
    import segedit

    built = []
    original = inpaint.DiffusionInpainter.__init__
    monkeypatch.setattr(inpaint.DiffusionInpainter, "__init__",
                        lambda self, *args, **kwargs: built.append(1) or original(self, *args, **kwargs))
    segmenter = segedit.Segmenter(clip_weights=tiny_clip_checkpoint, device="cpu", cache_dir=text_cache)
    image = np.ascontiguousarray(photo[:64, :64])
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[16:40, 16:40] = True
    for scheduler in (None, "dpm++", None):
        settings = inpaint.InpaintSettings(steps=1, seed=0, scheduler=scheduler)
        edited = segmenter.edit(image, mask, "remove", "person", inpaint_model=tiny_inpaint_model, settings=settings)
        assert edited.image.shape == image.shape
    assert built == [1]
