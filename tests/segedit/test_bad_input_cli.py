"""Bad input through the command lines: one clear line, the documented exit code, nothing half-written."""
import json
from pathlib import Path

import cv2
import huggingface_hub.constants
import numpy as np
import pytest
import torch
from PIL import Image
from segedit_files import png_header_only

import main
import main_sclip
from segedit import images
from segedit.api import Segmenter

CLIS = [pytest.param(main_sclip.main, id="main_sclip"), pytest.param(main.main, id="main")]


@pytest.fixture
def sclip_flags(clip_flags) -> list[str]:
    # a 224 px short side keeps each small test image to one or two CLIP windows
    return clip_flags + ["--short-side", "224", "--no-sam-refinement"]


@pytest.fixture
def picture(photo) -> np.ndarray:
    return np.ascontiguousarray(photo[20:60, 100:160])  # 40x60 piece of the real photo


@pytest.fixture
def image_file(tmp_path, picture) -> Path:
    path = tmp_path / "in" / "good.png"
    path.parent.mkdir()
    Image.fromarray(picture).save(path)
    return path


# With a one-class vocabulary every pixel is the target, so a random CLIP still "finds" it.
FOUND = ["--prompt", "person", "--vocabulary", "person"]


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


# ---- usage errors: exit 2 before any image is touched -------------------------------------------
@pytest.mark.parametrize("cli", CLIS)
@pytest.mark.parametrize("case, argv, message", [
    ("missing path", ["--image", "{tmp}/nope.jpg", "--prompt", "car"], "input not found: {tmp}/nope.jpg"),
    ("folder without images", ["--image", "{tmp}/empty", "--prompt", "car"], "no images"),
    ("empty prompt", ["--image", "{image}", "--prompt", ""], "--prompt is empty"),
    ("whitespace prompt", ["--image", "{image}", "--prompt", "car", "  "], "--prompt is empty"),
    ("replace without --edit", ["--image", "{image}", "--prompt", "car", "--mode", "replace"], "needs --edit"),
    ("style with blank --edit", ["--image", "{image}", "--prompt", "car", "--mode", "style", "--edit", " "],
     "needs --edit"),
    ("output is a file", ["--image", "{image}", "--prompt", "car", "--output", "{image}"], "is a file, not a folder"),
    ("file in the way", ["--image", "{image}", "--prompt", "car", "--output", "{image}/out"],
     "{image} is a file, not a folder"),
    ("unwritable output", ["--image", "{image}", "--prompt", "car", "--output", "/proc/segedit-test/out"],
     "/proc/segedit-test/out cannot be created or written to"),
    ("export folder", ["--image", "{image}", "--prompt", "car", "--export-coco", "{tmp}"], "is a folder"),
])
def test_usage_errors_exit_2_with_one_line(cli, case, argv, message, tmp_path, image_file, clip_flags, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no pictures")
    fill = {"tmp": tmp_path, "image": image_file}
    argv = [part.format(**fill) for part in argv]
    if "--output" not in argv:
        argv += ["--output", str(tmp_path / "out")]
    code = cli(argv + clip_flags + ["-q"])
    assert code == 2, case
    assert message.format(**fill) in one_line(capsys), case
    assert not (tmp_path / "out" / "result.json").exists()


def test_unwritable_export_fails_before_any_image(tmp_path, image_file, sclip_flags, capsys):
    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(image_file), "--export-coco", "/proc/segedit-test/run.json", "--output",
                            str(out), "-q"] + FOUND + sclip_flags)
    assert code == 2
    assert one_line(capsys) == ("error: output folder /proc/segedit-test cannot be created or written to (No such "
                                "file or directory); choose another with --export-coco")
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("cli", CLIS)
def test_cuda_requested_but_missing(cli, tmp_path, image_file, clip_flags, capsys):
    code = cli(["--image", str(image_file), "--prompt", "car", "--output", str(tmp_path / "out")] + clip_flags
               + ["--device", "cuda", "-q"])
    assert code == 2
    assert "--device cuda was requested but CUDA is not available" in one_line(capsys)


def test_debug_shows_the_traceback(tmp_path, clip_flags, capsys):
    code = main_sclip.main(["--image", str(tmp_path / "nope.jpg"), "--prompt", "car", "--debug"] + clip_flags)
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().endswith(f"error: input not found: {tmp_path}/nope.jpg (check the "
                                                       "path passed to --image)")


# ---- weights that cannot be found: exit 1, saying which model, where, and how to provide it -------
@pytest.mark.parametrize("cli, extra, expected", [
    pytest.param(main.main, ["--clip-weights", "{tmp}/absent.pt"], ["{tmp}/absent.pt", "--clip-weights"], id="clip"),
    pytest.param(main_sclip.main, ["--sam2-checkpoint", "{tmp}/sam.pt"], ["{tmp}/sam.pt", "--sam2-checkpoint"],
                 id="sam2-file"),
    pytest.param(main.main, [], ["facebook/sam2.1-hiera-tiny", "Hugging Face cache", "--sam2-checkpoint",
                                 "network"], id="sam2-hub"),
    pytest.param(main_sclip.main, ["--no-sam-refinement", "--mode", "remove", "--inpaint-model", "{tmp}/sd"],
                 ["{tmp}/sd", "--inpaint-model DIR", "network"], id="inpaint-dir"),
    pytest.param(main_sclip.main, ["--no-sam-refinement", "--mode", "remove"],
                 ["stable-diffusion-2-inpainting", "--inpaint-model DIR", "network"], id="inpaint-hub"),
])
def test_missing_weights_fail_with_where_and_how(cli, extra, expected, tmp_path, image_file, clip_flags, capsys,
                                                 monkeypatch):
    # an empty hub cache, so weights a developer has downloaded do not change the outcome (tests run offline)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    extra = [part.format(tmp=tmp_path) for part in extra]
    flags = clip_flags[2:] if "--clip-weights" in extra else clip_flags
    code = cli(["--image", str(image_file), "--prompt", "car", "--output", str(tmp_path / "out")] + flags + extra
               + ["-q"])
    assert code == 1
    err = one_line(capsys)
    for text in expected:
        assert text.format(tmp=tmp_path) in err
    assert not (tmp_path / "out" / "result.json").exists()


# ---- awkward and broken image files --------------------------------------------------------------
def test_unreadable_single_image_exits_1_and_writes_nothing(tmp_path, image_file, sclip_flags, capsys):
    data = image_file.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(cut), "--output", str(out), "-q"] + FOUND + sclip_flags)
    assert code == 1
    assert one_line(capsys) == f"{cut}: failed (not a readable image (image file is truncated))"
    assert list(out.iterdir()) == []


def test_file_quirks_are_converted_and_noted(tmp_path, picture, sclip_flags):
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "deep.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257)
    alpha = np.full(picture.shape[:2], 255, dtype=np.uint8)
    alpha[:, :10] = 0
    Image.fromarray(np.dstack([picture, alpha])).save(folder / "cutout.png")
    Image.fromarray(picture).convert("L").save(folder / "gray.png")
    Image.fromarray(picture).convert("P").save(folder / "palette.png")
    Image.fromarray(picture).convert("CMYK").save(folder / "print.jpg")
    portrait = Image.fromarray(picture)
    exif = portrait.getexif()
    exif[0x0112] = 8  # shown rotated 90 degrees counter-clockwise
    portrait.save(folder / "portrait.png", exif=exif)
    out = tmp_path / "out"

    code = main_sclip.main(["--image", str(folder), "--output", str(out), "-q"] + FOUND + sclip_flags)

    assert code == 0
    notes = {name: json.loads((out / name / "result.json").read_text())["input_notes"]
             for name in ("deep", "cutout", "gray", "palette", "print", "portrait")}
    assert notes == {
        "deep": ["I;16 scaled to 8 bits"], "cutout": ["alpha composited on white"], "gray": ["L converted to RGB"],
        "palette": ["P converted to RGB"], "print": ["CMYK converted to RGB"], "portrait": ["EXIF orientation applied"],
    }
    originals = {name: np.asarray(Image.open(out / name / "original.png")) for name in notes}
    assert all(array.dtype == np.uint8 and array.shape[2] == 3 for array in originals.values())
    assert (originals["cutout"][:, :10] == 255).all()
    assert np.array_equal(originals["portrait"], np.rot90(picture))
    assert np.abs(originals["deep"][..., 0].astype(int) - cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY)).max() <= 1
    for name, original in originals.items():
        mask = np.asarray(Image.open(out / name / "mask.png"))
        assert mask.shape == original.shape[:2], name


def test_huge_images_fail_alone(tmp_path, image_file, sclip_flags, monkeypatch, capsys):
    bomb = png_header_only(image_file.parent / "bomb.png", 100_000, 100_000)
    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(image_file.parent), "--output", str(out), "-q"] + FOUND + sclip_flags)
    assert code == 1
    assert one_line(capsys).startswith(f"{bomb}: failed (image too large to decode safely")
    assert json.loads((out / "good" / "result.json").read_text())["complete"] is True
    assert not (out / "bomb").exists()

    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    code = main_sclip.main(["--image", str(image_file), "--output", str(tmp_path / "small"), "-q"] + FOUND
                           + sclip_flags)
    assert code == 1
    assert f"{image_file}: failed (60x40 is larger than the 0 megapixel safety limit" in one_line(capsys)


def test_max_side_processes_small_and_writes_full_size(tmp_path, image_file, picture, sclip_flags):
    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(image_file), "--max-side", "30", "--save-probs", "--visualize",
                            "--output", str(out), "-q"] + FOUND + sclip_flags)
    assert code == 0
    record = json.loads((out / "result.json").read_text())
    assert record["image_size"] == {"width": 60, "height": 40}
    assert record["input_notes"] == ["processed at 30x20 (--max-side 30)"]
    assert record["settings"]["outputs"]["max_side"] == 30
    assert np.array_equal(np.asarray(Image.open(out / "original.png")), picture)
    for name in ("labels.png", "mask.png", "sclip_prediction.png"):
        assert Image.open(out / name).size == (60, 40), name
    assert np.load(out / "probs.npy").shape == (1, 40, 60)


# ---- failures inside the run -----------------------------------------------------------------------
def test_cuda_out_of_memory_fails_the_image_with_advice(tmp_path, image_file, picture, sclip_flags, monkeypatch,
                                                        capsys):
    big = image_file.parent / "big.png"
    Image.fromarray(picture).save(big)
    original_segment = Segmenter.segment

    def out_of_memory_on_big(self, image, *args, image_key=None, **kwargs):
        if image_key == str(big):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original_segment(self, image, *args, image_key=image_key, **kwargs)

    monkeypatch.setattr(Segmenter, "segment", out_of_memory_on_big)
    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(big), str(image_file), "--output", str(out), "-q"] + FOUND + sclip_flags)

    assert code == 1
    err = one_line(capsys)
    assert err.startswith(f"{big}: failed (CUDA out of memory; try --model ViT-B-16, --low-vram")
    assert "--device cpu" in err
    assert not (out / "big" / "result.json").exists()
    assert json.loads((out / "good" / "result.json").read_text())["complete"] is True
    summary = json.loads((out / "summary.json").read_text())
    assert [row["status"] for row in summary["images"]] == ["failed", "ok"]

    code = main_sclip.main(["--image", str(big), "--output", str(tmp_path / "debug"), "--debug"] + FOUND
                           + sclip_flags)
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "OutOfMemoryError: CUDA out of memory. Tried to allocate" in err


@pytest.mark.parametrize("cli", CLIS)
def test_help_documents_exit_codes_and_bad_flags_exit_2(cli, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli(["--help"])
    assert stopped.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    for meaning in ("0 all images done and every target found", "1 at least one image failed",
                    "2 usage error", "3 at least one target not found", "130 interrupted"):
        assert meaning in help_text
    for argv in (["--image", "x.jpg"], ["--image", "x.jpg", "--prompt", "car", "--no-such-flag"],
                 ["--image", "x.jpg", "--prompt", "car", "--mode", "paint"]):
        with pytest.raises(SystemExit) as stopped:
            cli(argv)
        assert stopped.value.code == 2
        assert "Traceback" not in capsys.readouterr().err
