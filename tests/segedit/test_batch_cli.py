"""Batch runs of main_sclip.py: many inputs in one process, a folder per image, summary, resume, interrupts."""
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import main_sclip
import sclip.segmenter
from segedit import files


@pytest.fixture
def model_flags(clip_flags) -> list[str]:
    # a 224 px short side keeps each small test image to one or two CLIP windows
    return clip_flags + ["--short-side", "224", "--no-sam-refinement"]


@pytest.fixture
def crops(photo) -> list[np.ndarray]:
    """Four different 48x64 pieces of the real photo."""
    return [np.ascontiguousarray(photo[y:y + 48, x:x + 64]) for y, x in ((0, 0), (0, 128), (96, 40), (140, 180))]


def save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def result(folder: Path) -> dict:
    return json.loads((folder / "result.json").read_text())


def counting(monkeypatch, module, name: str) -> list:
    """Replace ``module.name`` by a wrapper that records each call and runs the original."""
    calls, original = [], getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


# With a one-class vocabulary every pixel is the target, so a random CLIP still "finds" it.
FOUND = ["--prompt", "person", "--vocabulary", "person"]


def test_folder_batch_recursive_with_one_bad_file(tmp_path, crops, model_flags, monkeypatch, capsys):
    photos = tmp_path / "photos"
    for name, pixels in zip(("a.jpg", "b.png", "sub/c.png", "sub/deeper/d.webp"), crops):
        save(photos / name, pixels)
    (photos / "sub" / "broken.jpg").write_text("a text file with an image's name")
    (photos / "notes.txt").write_text("not an input")
    clip_loads = counting(monkeypatch, sclip.segmenter, "load_clip")
    out = tmp_path / "out"

    code = main_sclip.main(["--image", str(photos), "--recursive", "--output", str(out), "-q"] + FOUND + model_flags)

    assert code == 1
    assert len(clip_loads) == 1
    for name, pixels in zip(("a", "b", "sub/c", "sub/deeper/d"), crops):
        record = result(out / name)
        assert record["complete"] is True and record["targets"][0]["found"] is True
        mask = np.asarray(Image.open(out / name / "mask.png"))
        assert mask.shape == pixels.shape[:2] and (mask == 255).all()
    assert not (out / "sub" / "broken").exists()
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err == f"{photos / 'sub' / 'broken.jpg'}: failed (not an image file in a supported format (JPEG, PNG, " \
                  "WebP, BMP, TIFF))"

    summary = json.loads((out / "summary.json").read_text())
    assert summary["exit_code"] == 1
    assert summary["summary"].startswith("5 image(s): 4 ok, 0 target not found, 1 failed, 0 skipped, ")
    by_image = {Path(row["image"]).name: row for row in summary["images"]}
    assert {name: row["status"] for name, row in by_image.items()} == {
        "a.jpg": "ok", "b.png": "ok", "broken.jpg": "failed", "c.png": "ok", "d.webp": "ok",
    }
    assert by_image["d.webp"]["output"] == str(out / "sub" / "deeper" / "d")
    assert by_image["broken.jpg"]["message"].startswith("not an image file")
    assert all(row["seconds"] > 0 for row in summary["images"] if row["status"] == "ok")
    with open(out / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["image"], row["status"], row["output"]) for row in rows] == [
        (row["image"], row["status"], row["output"]) for row in summary["images"]
    ]
    assert not list(out.rglob("*.part"))


def test_glob_and_images_from_file_together(tmp_path, crops, model_flags):
    first, second, third = (save(tmp_path / "in" / name, pixels) for name, pixels in zip(("x.png", "y.png", "z.bmp"),
                                                                                          crops))
    listing = tmp_path / "list.txt"
    listing.write_text(f"# also these\n{third}\n{first}\n")  # x.png also matches the glob: processed once
    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(tmp_path / "in" / "*.png"), "--images-from", str(listing),
                            "--output", str(out), "-q"] + FOUND + model_flags)
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [row["image"] for row in summary["images"]] == [str(first), str(second), str(third)]
    assert sorted(path.parent.name for path in out.glob("*/result.json")) == ["x", "y", "z"]


def test_images_from_stdin(tmp_path, crops, model_flags, monkeypatch):
    paths = [save(tmp_path / name, pixels) for name, pixels in zip(("p.png", "q.jpg"), crops)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{path}\n" for path in paths)))
    out = tmp_path / "out"
    code = main_sclip.main(["--images-from", "-", "--output", str(out), "-q"] + FOUND + model_flags)
    assert code == 0
    assert result(out / "p")["image"] == str(paths[0]) and result(out / "q")["image"] == str(paths[1])


def test_same_stem_different_extension_never_overwrite(tmp_path, crops, model_flags, capsys):
    save(tmp_path / "in" / "photo.jpg", crops[0])
    save(tmp_path / "in" / "photo.png", crops[1])
    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(tmp_path / "in"), "--output", str(out), "-q"] + FOUND + model_flags)
    assert code == 0
    assert capsys.readouterr() == ("", "")  # -q: no progress, no status lines, no summary line
    assert result(out / "photo_jpg")["image"] == str(tmp_path / "in" / "photo.jpg")
    assert result(out / "photo_png")["image"] == str(tmp_path / "in" / "photo.png")
    assert np.array_equal(np.asarray(Image.open(out / "photo_png" / "original.png")), crops[1])
    assert not (out / "photo").exists()


def test_targets_not_found_exit_3_and_are_counted(tmp_path, crops, model_flags):
    inputs = [str(save(tmp_path / f"{index}.png", pixels)) for index, pixels in enumerate(crops[:2])]
    out = tmp_path / "out"
    # an impossible probability threshold sends every pixel to the background class
    code = main_sclip.main(["--image", *inputs, "--prompt", "person", "--prob-thd", "1.0", "--output", str(out),
                            "-q"] + model_flags)
    assert code == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exit_code"] == 3 and [row["status"] for row in summary["images"]] == ["not_found"] * 2
    assert result(out / "0")["complete"] is True and result(out / "0")["targets"][0]["found"] is False

    # a resumed run answers like the original one: skipped images keep their recorded "not found"
    again = main_sclip.main(["--image", *inputs, "--prompt", "person", "--prob-thd", "1.0", "--output", str(out),
                             "--skip-existing", "-q"] + model_flags)
    assert again == 3
    rows = json.loads((out / "summary.json").read_text())["images"]
    assert [(row["status"], row["found"]) for row in rows] == [("skipped", False)] * 2


def test_skip_existing_resumes_with_status_lines(tmp_path, crops, model_flags, capsys):
    inputs = [str(save(tmp_path / "in" / f"{name}.png", pixels)) for name, pixels in zip("abc", crops)]
    out = tmp_path / "out"
    assert main_sclip.main(["--image", *inputs, "--output", str(out), "-q"] + FOUND + model_flags) == 0

    done = result(out / "a")
    done["marker"] = "left by the first run"
    (out / "a" / "result.json").write_text(json.dumps(done))
    unfinished = result(out / "b")
    unfinished["complete"] = False
    (out / "b" / "result.json").write_text(json.dumps(unfinished))
    (out / "c" / "result.json").unlink()  # interrupted before its last file
    capsys.readouterr()

    code = main_sclip.main(["--image", *inputs, "--output", str(out), "--skip-existing", "-v"] + FOUND + model_flags)

    assert code == 0
    captured = capsys.readouterr()
    status_lines = [line for line in captured.err.splitlines() if line.startswith(str(tmp_path))]
    assert status_lines == [f"{inputs[0]}: skipped", f"{inputs[1]}: ok", f"{inputs[2]}: ok"]
    assert captured.out.startswith("3 image(s): 2 ok, 0 target not found, 0 failed, 1 skipped, ")
    assert result(out / "a")["marker"] == "left by the first run"
    assert result(out / "b")["complete"] is True and "marker" not in result(out / "b")
    assert result(out / "c")["complete"] is True
    summary = json.loads((out / "summary.json").read_text())
    assert [row["status"] for row in summary["images"]] == ["skipped", "ok", "ok"] and summary["exit_code"] == 0


def test_interrupt_exits_130_and_leaves_only_complete_results(tmp_path, crops, model_flags, monkeypatch, capsys):
    inputs = [str(save(tmp_path / "in" / f"{name}.png", pixels)) for name, pixels in zip("abc", crops)]
    out = tmp_path / "out"
    assert main_sclip.main(["--image", *inputs, "--output", str(out), "-q"] + FOUND + model_flags) == 0

    original_save_mask = files.save_mask

    def interrupted_on_b(mask, path):
        if path.parent == out / "b":
            raise KeyboardInterrupt
        return original_save_mask(mask, path)

    monkeypatch.setattr(files, "save_mask", interrupted_on_b)
    # a full rerun is stopped while it replaces b's files (its original.png is already new)
    code = main_sclip.main(["--image", *inputs, "--output", str(out), "-q"] + FOUND + model_flags)
    assert code == 130
    assert "--skip-existing" in capsys.readouterr().err
    assert result(out / "a")["complete"] is True
    assert not (out / "b" / "result.json").exists()  # b's earlier result no longer vouches for its files
    assert not list(out.rglob("*.part"))

    monkeypatch.setattr(files, "save_mask", original_save_mask)
    assert main_sclip.main(["--image", *inputs, "--output", str(out), "--skip-existing", "-q"] + FOUND
                           + model_flags) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [row["status"] for row in summary["images"]] == ["skipped", "ok", "skipped"]


def test_several_prompts_share_one_stage1_pass_per_image(tmp_path, crops, model_flags, monkeypatch):
    inputs = [str(save(tmp_path / f"{name}.png", pixels)) for name, pixels in zip("ab", crops)]
    windows = counting(monkeypatch, sclip.segmenter, "slide_inference")
    out = tmp_path / "out"
    # no --vocabulary: one pass per prompt would see a different vocabulary (background + that prompt) each time
    code = main_sclip.main(["--image", *inputs, "--prompt", "person", "--prompt", "car", "dog",
                            "--output", str(out), "-q"] + model_flags)
    assert code in (0, 3)
    assert len(windows) == 2  # one sliding-window pass per image for three prompts
    for name in "ab":
        record = result(out / name)
        assert [target["prompt"] for target in record["targets"]] == ["person", "car", "dog"]
        assert [target["class_index"] for target in record["targets"]] == [1, 2, 3]
        labels = np.asarray(Image.open(out / name / "labels.png"))
        for index, prompt in enumerate(("person", "car", "dog"), start=1):
            mask = np.asarray(Image.open(out / name / prompt / "mask.png")) == 255
            assert np.array_equal(mask, labels == index)


def test_the_ray_engine_parts_load_only_their_models_and_write_what_process_writes(tmp_path, crops, model_flags):
    """Segmentation workers never load the inpainter, edit workers never load CLIP, and
    begin (read, segment) then complete (edit, write) in two runners gives process's files."""
    from segedit.flags import build_parser, job_from_args
    from segedit.images import InputImage
    from segedit.loading import load_segmenter
    from segedit.runner import Runner

    path = save(tmp_path / "a.png", crops[0])
    job = job_from_args(build_parser("sclip").parse_args(["--image", str(path), "--mode", "remove", "--inpainter",
                                                          "opencv"] + FOUND + model_flags), "sclip")

    def build_runner(output, parts=("segment", "edit")):
        return Runner(load_segmenter(job.models, job.run, parts), job.run, output, models=job.models)

    whole = build_runner(tmp_path / "whole")
    segmenting = build_runner(tmp_path / "parts", ("segment",))
    editing = build_runner(tmp_path / "parts", ("edit",))
    assert segmenting.segmenter._inpainters == {} and segmenting.segmenter._sclip is not None
    assert editing.segmenter._sclip is None and list(editing.segmenter._inpainters) == [("opencv", None)]

    item = InputImage(path, "a")
    assert whole.process(item).status == "ok"
    outcome = editing.complete(segmenting.begin(item))
    assert outcome.status == "ok" and editing.segmenter._sclip is None  # writing result.json needed no CLIP
    for name in ("original.png", "labels.png", "mask.png", "edited.png"):
        assert (tmp_path / "parts" / "a" / name).read_bytes() == (tmp_path / "whole" / "a" / name).read_bytes()
    split, single = result(tmp_path / "parts" / "a"), result(tmp_path / "whole" / "a")
    assert split["model"] == single["model"] and split["fingerprint"] == single["fingerprint"]
