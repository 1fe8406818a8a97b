"""Output-folder safety: prompt folder names, one run per folder, leftovers of killed or earlier runs."""
import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from segedit import files
from segedit.outputs import (
    KNOWN_OUTPUTS, LOCK_NAME, MAX_FOLDER_BYTES, OutputInUseError, OutputLock, prompt_folders, remove_partial_files,
    remove_stale_outputs,
)

FORK = multiprocessing.get_context("fork")  # the child needs none of the imports again


def assert_usable_folder_names(names):
    for name in names:
        assert name and name not in (".", "..") and name == name.strip(". ")
        assert not any(char in name for char in '/\\<>:"|?*\0') and all(ord(char) >= 32 for char in name)
        assert len(name.encode("utf-8")) <= 255
    assert len({name.casefold() for name in names}) == len(names)


def test_every_prompt_gets_its_own_readable_folder():
    prompts = ["cat!", "cat?", "猫", "犬", "🐱", "🐶", "red car", "Car", "car", "..", ".", "a/b", "x\0y", "tab\there"]
    folders = prompt_folders(prompts)
    assert list(folders) == prompts
    assert_usable_folder_names(list(folders.values()))
    # readable where nothing clashes; a clash adds a short hash to each prompt involved
    assert folders["猫"] == "猫" and folders["犬"] == "犬" and folders["red car"] == "red_car"
    assert folders["a/b"] == "a_b" and folders["tab\there"] == "tab_here"
    assert folders["cat!"].startswith("cat_") and folders["cat?"].startswith("cat_")
    assert folders["Car"].startswith("Car_") and folders["car"].startswith("car_")
    assert folders["🐱"].startswith("prompt_")


def test_prompt_folders_are_deterministic_and_do_not_depend_on_order():
    prompts = ["cat!", "cat?", "dog", "猫"]
    assert prompt_folders(prompts) == prompt_folders(list(reversed(prompts))) == prompt_folders(prompts + ["dog"])


def test_prompt_folder_names_avoid_what_file_systems_refuse():
    long = "très " * 100
    decomposed = "cafe\N{COMBINING ACUTE ACCENT}"
    folders = prompt_folders(["CON", "nul.txt", "com1", "  . hidden .  ", long, decomposed, "mask.png", "summary.json"])
    assert_usable_folder_names(list(folders.values()))
    assert folders["CON"] == "CON_" and folders["nul.txt"] == "nul_.txt" and folders["com1"] == "com1_"
    assert folders["  . hidden .  "] == "hidden"
    assert folders[decomposed] == "caf\N{LATIN SMALL LETTER E WITH ACUTE}"  # NFC
    assert len(folders[long].encode("utf-8")) <= MAX_FOLDER_BYTES + 9 and folders[long].startswith("très_très")
    assert folders["mask.png"] != "mask.png" and folders["summary.json"] != "summary.json"


def hold_lock(folder, ready, release):
    with OutputLock(folder):
        ready.set()
        release.wait(10)


def test_second_run_on_the_same_folder_is_refused_naming_the_other_pid(tmp_path):
    ready, release = FORK.Event(), FORK.Event()
    other = FORK.Process(target=hold_lock, args=(tmp_path, ready, release))
    other.start()
    try:
        assert ready.wait(10)
        with pytest.raises(OutputInUseError) as refused:
            with OutputLock(tmp_path):
                pass
        assert refused.value.exit_code == 2
        message = str(refused.value)
        assert "\n" not in message and str(tmp_path) in message and f"pid {other.pid}" in message
    finally:
        release.set()
        other.join(10)
    with OutputLock(tmp_path):  # free again once the other run ended
        assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    assert not (tmp_path / LOCK_NAME).exists()


def test_lock_of_a_killed_run_is_taken_over(tmp_path):
    ready, release = FORK.Event(), FORK.Event()
    killed = FORK.Process(target=hold_lock, args=(tmp_path, ready, release))
    killed.start()
    assert ready.wait(10)
    os.kill(killed.pid, signal.SIGKILL)
    killed.join(10)
    assert (tmp_path / LOCK_NAME).read_text() == f"{killed.pid}\n"  # its file stays behind
    with OutputLock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"


def test_partial_files_of_a_killed_write_are_removed(tmp_path):
    (tmp_path / "mask.png").write_bytes(b"complete")
    leftovers = [".mask.png.0a1b2c3d.part", ".result.json.k2_x9zq1.part"]
    for name in leftovers:
        (tmp_path / name).write_bytes(b"half")
    (tmp_path / "notes.part").write_text("the user's")
    removed = remove_partial_files(tmp_path)
    assert sorted(path.name for path in removed) == sorted(leftovers)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mask.png", "notes.part"]


def test_stale_outputs_of_an_earlier_run_are_removed_and_user_files_kept(tmp_path):
    for name in ("original.png", "mask.png", "edited.png", "comparison.png", "probs.npy", "my-notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    old_prompt = tmp_path / "dog"  # an earlier run had the prompts cat and dog
    for name in ("mask.png", "edited.png", ".edited.png.0a1b2c3d.part"):
        (old_prompt / name).parent.mkdir(exist_ok=True)
        (old_prompt / name).write_bytes(b"x")
    kept_prompt, user_folder, nested_image = tmp_path / "cat", tmp_path / "drafts", tmp_path / "sub"
    for folder, names in ((kept_prompt, ["mask.png"]), (user_folder, ["mask.png", "sketch.psd"]),
                          (nested_image, ["original.png", "result.json"])):
        folder.mkdir()
        for name in names:
            (folder / name).write_bytes(b"x")
    (tmp_path / "empty").mkdir()

    removed = remove_stale_outputs(tmp_path, keep={"original.png", "mask.png", "cat"}, known=set(KNOWN_OUTPUTS))
    assert sorted(path.name for path in removed) == ["comparison.png", "dog", "edited.png", "probs.npy"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "cat", "drafts", "empty", "mask.png", "my-notes.txt", "original.png", "sub",
    ]
    assert (user_folder / "mask.png").exists() and (nested_image / "result.json").exists()


def test_json_is_strict_with_non_finite_numbers_as_null(tmp_path):
    record = {"score": float("nan"), "ratio": np.float32("inf"), "values": np.array([1.5, -np.inf]),
              "nested": [{"x": -math.inf}], "ok": np.int64(3), "path": Path("a/b")}
    files.save_json(record, tmp_path / "result.json")
    text = (tmp_path / "result.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"score": None, "ratio": None, "values": [1.5, None], "nested": [{"x": None}],
                                "ok": 3, "path": "a/b"}


def test_atomic_writes_leave_the_process_umask_alone(tmp_path):
    # a fresh interpreter, so that nothing has read the umask before
    script = (
        "import os\n"
        "def no_umask(mask): raise AssertionError('os.umask changes the mask of every thread')\n"
        "os.umask = no_umask\n"
        "from segedit import files\n"
        f"files.save_text('a', {str(tmp_path / 'first.txt')!r})\n"
    )
    repo = Path(files.__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "first.txt").read_text() == "a"
