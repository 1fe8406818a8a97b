"""Batch safety: resumed exports, changed settings, prompt folders, locks, stale and partial
files, list files, interrupts, and settings or weights checked before anything is created."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import main_sclip
from segedit.outputs import OutputLock
from segedit.runner import Runner

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def flags(clip_flags):
    return clip_flags + ["--short-side", "32", "--no-sam-refinement"]


@pytest.fixture
def images(tmp_path, photo):
    folder = tmp_path / "in"
    folder.mkdir()
    for number in range(3):
        piece = np.ascontiguousarray(photo[number * 20:number * 20 + 32, :40])
        Image.fromarray(piece).save(folder / f"img{number}.png")
    return folder


def code_of(argv):
    try:
        return main_sclip.main(argv)
    except SystemExit as stopped:
        return stopped.code


def last_line(text):
    return text.strip().splitlines()[-1]


def test_resumed_export_keeps_every_image(images, flags, tmp_path):
    out, export = tmp_path / "out", tmp_path / "run.json"
    argv = ["--image", str(images), "--prompt", "person", "--output", str(out), "--export-coco", str(export),
            "--skip-existing", "-q"] + flags
    assert main_sclip.main(argv) in (0, 3)
    first = json.loads(export.read_text())
    assert main_sclip.main(argv) in (0, 3)
    again = json.loads(export.read_text())
    assert len(again["images"]) == len(first["images"]) == 3
    assert again["annotations"] == first["annotations"]


@pytest.mark.parametrize("change", [["--prompt", "dog"], ["--mode", "remove", "--inpainter", "opencv"],
                                    ["--vocabulary", "person", "grass"]])
def test_changed_settings_redo_skipped_images(images, flags, tmp_path, capsys, change):
    out = tmp_path / "out"
    base = ["--image", str(images), "--output", str(out), "--skip-existing"] + flags
    assert main_sclip.main(base + ["--prompt", "person"]) in (0, 3)
    capsys.readouterr()
    argv = base + (change if change[0] == "--prompt" else ["--prompt", "person"] + change)
    assert main_sclip.main(argv) in (0, 3)
    line = last_line(capsys.readouterr().out)
    assert "0 skipped" in line and "(3 redone because settings changed)" in line
    assert main_sclip.main(argv) in (0, 3)
    line = last_line(capsys.readouterr().out)
    assert "3 skipped" in line and "redone" not in line


def test_prompts_get_distinct_folders_inside_the_output(images, flags, tmp_path):
    out = tmp_path / "out"
    image = images / "img0.png"
    argv = ["--image", str(image), "--output", str(out), "-q", "--prompt", "cat!", "--prompt", "cat?", "--prompt", "猫",
            "--prompt", "犬", "--prompt", ".."] + flags
    before = {path for path in tmp_path.rglob("*") if not path.is_relative_to(out)}
    assert main_sclip.main(argv) in (0, 3)
    assert {path for path in tmp_path.rglob("*") if not path.is_relative_to(out)} == before
    result = json.loads((out / "result.json").read_text())
    folders = {target["prompt"]: target["folder"] for target in result["targets"]}
    assert set(folders) == {"cat!", "cat?", "猫", "犬", ".."}
    assert len(set(folders.values())) == 5 and folders["猫"] == "猫" and folders["犬"] == "犬"
    for folder in folders.values():
        assert folder and "/" not in folder and folder not in (".", "..")
        assert (out / folder / "mask.png").is_file() and (out / folder).resolve().parent == out.resolve()


def test_recursive_output_inside_the_input_is_not_picked_up(images, flags, capsys):
    argv = ["--image", str(images), "--recursive", "--output", str(images / "results"), "--prompt", "person"] + flags
    assert main_sclip.main(argv) in (0, 3)
    first = last_line(capsys.readouterr().out)
    assert main_sclip.main(argv) in (0, 3)
    second = last_line(capsys.readouterr().out)
    assert first.startswith("3 image(s)") and second.startswith("3 image(s)")


def test_a_locked_output_folder_exits_2_naming_the_pid(images, flags, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with OutputLock(out):
        code = main_sclip.main(["--image", str(images), "--output", str(out), "--prompt", "person", "-q"] + flags)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and f"pid {os.getpid()}" in err
    assert not list(out.glob("img*"))


def test_stale_files_of_other_settings_are_removed(images, flags, tmp_path):
    out = tmp_path / "out"
    image = images / "img0.png"
    assert main_sclip.main(["--image", str(image), "--output", str(out), "-q", "--save-probs", "--prompt", "cat",
                            "--prompt", "tree"] + flags) in (0, 3)
    assert (out / "probs.npy").is_file() and (out / "cat" / "mask.png").is_file()
    assert main_sclip.main(["--image", str(image), "--output", str(out), "-q", "--prompt", "dog"] + flags) in (0, 3)
    assert not (out / "probs.npy").exists() and not (out / "cat").exists() and not (out / "tree").exists()
    assert (out / "mask.png").is_file()


def test_partial_files_of_a_killed_run_are_removed(images, flags, tmp_path):
    out = tmp_path / "out"
    argv = ["--image", str(images), "--output", str(out), "-q", "--prompt", "person"] + flags
    assert main_sclip.main(argv) in (0, 3)
    leftover = out / "img1" / ".mask.png.abcd1234.part"
    leftover.write_bytes(b"half a png")
    assert main_sclip.main(argv) in (0, 3)
    assert not leftover.exists()


def test_a_missing_listed_image_fails_alone(images, flags, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{images / 'img0.png'}\n{images / 'gone.png'}\n{images / 'img1.png'}\n")
    out = tmp_path / "out"
    code = main_sclip.main(["--images-from", str(listing), "--output", str(out), "--prompt", "person"] + flags)
    line = last_line(capsys.readouterr().out)
    assert code == 1 and line.startswith("3 image(s)") and "1 failed" in line
    summary = json.loads((out / "summary.json").read_text())
    failed = [row["image"] for row in summary["images"] if row["status"] == "failed"]
    assert len(failed) == 1 and failed[0].endswith("gone.png")


def test_a_binary_list_file_exits_2_naming_the_flag(flags, tmp_path, capsys):
    listing = tmp_path / "list.bin"
    listing.write_bytes(bytes(range(256)))
    code = main_sclip.main(["--images-from", str(listing), "--output", str(tmp_path / "out"), "--prompt", "person"]
                           + flags)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--images-from" in err and not (tmp_path / "out").exists()


def test_ctrl_c_records_exit_code_130(images, flags, tmp_path, monkeypatch):
    original, calls = Runner.process, []

    def process(self, item):
        calls.append(item)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, item)

    monkeypatch.setattr(Runner, "process", process)
    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(images), "--output", str(out), "-q", "--prompt", "person"] + flags)
    assert code == 130
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exit_code"] == 130 and len(summary["images"]) == 1


def test_sigterm_exits_143(images, flags, tmp_path):
    out = tmp_path / "out"
    many = tmp_path / "many"
    many.mkdir()
    for number in range(40):
        (many / f"copy{number:02d}.png").write_bytes((images / "img0.png").read_bytes())
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, str(REPO / "main_sclip.py"), "--image", str(many), "--output", str(out), "-v",
         "--prompt", "person"] + flags, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    # wait until the batch has started, so the signal lands in the per-image loop (loading takes long on a busy
    # machine; the wait ends as soon as the first image is written)
    deadline = time.monotonic() + 180
    while not (out / "copy00" / "result.json").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 143, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exit_code"] == 143


@pytest.mark.parametrize("argv, flag", [
    (["--mode", "remove", "--strength", "0"], "--strength"),
    (["--mode", "remove", "--seed", "-1"], "--seed"),
    (["--mode", "remove", "--mask-dilate", "-3"], "--mask-dilate"),
    (["--mode", "style", "--edit", "oil painting", "--steps", "1", "--strength", "0.5"], "--steps"),
])
def test_bad_settings_exit_2_before_anything_is_created(images, flags, tmp_path, capsys, argv, flag):
    out = tmp_path / "out"
    code = code_of(["--image", str(images), "--output", str(out), "--prompt", "person"] + flags + argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and flag in err and not out.exists()


@pytest.mark.parametrize("model", [None, "ViT-B-16"])
def test_feature_layers_out_of_range_exit_2(images, flags, tmp_path, capsys, model):
    out = tmp_path / "out"
    argv = ["--image", str(images), "--output", str(out), "--prompt", "person", "--feature-layers", "0,99"] + flags
    if model:
        argv = [arg for arg in argv if arg != "--clip-weights"]
        argv = argv[:argv.index("--cache-dir") - 1] + argv[argv.index("--cache-dir"):] + ["--model", model]
    code = code_of(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--feature-layers" in err and not out.exists()


def test_missing_sam2_checkpoint_exits_1_naming_the_flag(images, flags, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--image", str(images), "--output", str(out), "--prompt", "person", "--sam2-checkpoint",
            str(tmp_path / "absent.pt"), "--sam2-config", "configs/sam2.1/sam2.1_hiera_t.yaml"]
    code = code_of(argv + [flag for flag in flags if flag != "--no-sam-refinement"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0 and "--sam2-checkpoint" in err and not out.exists()


@pytest.mark.parametrize("flag", ["--sam2-checkpoint", "--clip-weights"])
def test_random_bytes_as_weights_exit_1_in_one_line(images, flags, tmp_path, capsys, flag):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    argv = ["--image", str(images), "--output", str(tmp_path / "out"), "--prompt", "person"]
    if flag == "--sam2-checkpoint":
        argv += [flag, str(junk), "--sam2-config", "configs/sam2.1/sam2.1_hiera_t.yaml"]
        argv += [each for each in flags if each != "--no-sam-refinement"]
    else:
        argv += [flags[0], str(junk)] + flags[2:]
    code = code_of(argv)
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0 and "weights_only" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_inpaint_folder_without_unet_exits_1_naming_it(images, flags, tmp_path, tiny_inpaint_model, capsys):
    import shutil

    broken = tmp_path / "no-unet"
    shutil.copytree(tiny_inpaint_model, broken)
    shutil.rmtree(broken / "unet")
    code = code_of(["--image", str(images), "--output", str(tmp_path / "out"), "--prompt", "person", "--mode", "remove",
                    "--inpaint-model", str(broken), "--steps", "1"] + flags)
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0 and "unet" in err and not (tmp_path / "out").exists()
