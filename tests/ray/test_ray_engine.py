"""--engine ray against --engine local on the same inputs: the same files, summaries, messages and exit codes."""
import json
import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

import main
import main_sclip
from segedit import ray_engine

# With a one-class vocabulary every pixel is the target, so a random CLIP still "finds" it.
FOUND = ["--prompt", "person", "--vocabulary", "person"]
SCLIP = ["--short-side", "224", "--no-sam-refinement"]
# one worker unless a test asks for more: each costs a process start and a model load
RAY = ["--engine", "ray", "--ray-workers", "1"]
# times, and the paths of this run's outputs ("summary" is summary.json's line with the mean time)
VOLATILE = {"timings", "model_load_seconds", "seconds", "summary", "output", "export_coco"}


def stable(data):
    if isinstance(data, dict):
        return {key: stable(value) for key, value in data.items() if key not in VOLATILE}
    if isinstance(data, list):
        return [stable(value) for value in data]
    return data


def listing(folder: Path) -> list[Path]:
    return sorted(path.relative_to(folder) for path in folder.rglob("*") if path.is_file())


def assert_same_outputs(local: Path, ray_out: Path) -> None:
    assert listing(ray_out) == listing(local)
    for name in listing(local):
        ours, theirs = local / name, ray_out / name
        if name.suffix == ".json":
            assert stable(json.loads(theirs.read_text())) == stable(json.loads(ours.read_text())), name
        elif name.suffix != ".csv":  # summary.csv holds the times and folders summary.json holds
            assert theirs.read_bytes() == ours.read_bytes(), name


def run(entry, argv: list[str], capsys) -> tuple[int, list[str]]:
    code = entry(argv)
    return code, sorted(capsys.readouterr().err.splitlines())


@pytest.fixture(scope="module")
def local_run(batch, clip_flags, tmp_path_factory):
    """The local engine's answer for the batch (exit code, output folder, COCO export), computed once."""
    out = tmp_path_factory.mktemp("local")
    code = main_sclip.main(["--image", str(batch), "--output", str(out / "run"), "--export-coco",
                            str(out / "coco.json"), "-q"] + FOUND + SCLIP + clip_flags)
    return code, out


def test_segment_batch_matches_local(batch, clip_flags, local_run, tmp_path, capsys):
    local_code, local_out = local_run
    capsys.readouterr()
    code, err = run(main_sclip.main, ["--image", str(batch), "--output", str(tmp_path / "run"), "--export-coco",
                                      str(tmp_path / "coco.json"), "-q", "--engine", "ray", "--ray-workers", "2"]
                    + FOUND + SCLIP + clip_flags, capsys)  # two workers: who did which image changes nothing
    assert code == local_code == 1  # two unreadable files failed their rows, not the run
    assert_same_outputs(local_out / "run", tmp_path / "run")
    assert (tmp_path / "coco.json").read_bytes() == (local_out / "coco.json").read_bytes()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [row["status"] for row in summary["images"]] == ["failed", "ok", "ok", "ok", "ok", "failed"]
    assert err == [
        f"{batch / 'broken.jpg'}: failed (not an image file in a supported format (JPEG, PNG, WebP, BMP, TIFF))",
        f"{batch / 'truncated.png'}: failed (not a readable image (image file is truncated))",
    ]


def test_skip_existing_resumes_like_local(batch, clip_flags, local_run, tmp_path, capsys):
    """A run cut short (one image's result.json missing, its mask stale) resumed as the local engine resumes it."""
    _, local_out = local_run
    for engine in ("local", "ray"):
        shutil.copytree(local_out / "run", tmp_path / engine)
        (tmp_path / engine / "piece1" / "result.json").unlink()
        (tmp_path / engine / "piece1" / "mask.png").write_bytes(b"left by an interrupted run")
    flags = ["--image", str(batch), "--skip-existing", "-v"] + FOUND + SCLIP + clip_flags
    local_code, local_err = run(main_sclip.main, flags + ["--output", str(tmp_path / "local")], capsys)
    code, err = run(main_sclip.main, flags + ["--output", str(tmp_path / "ray")] + RAY, capsys)
    assert code == local_code == 1
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    statuses = [row["status"] for row in json.loads((tmp_path / "ray" / "summary.json").read_text())["images"]]
    assert statuses == ["failed", "skipped", "ok", "skipped", "skipped", "failed"]
    assert f"{batch / 'piece1.png'}: ok" in err and f"{batch / 'piece0.png'}: skipped" in err
    assert [line for line in err if "s per image" not in line] == [
        line for line in local_err if "s per image" not in line]


def test_killed_worker_is_restarted_and_its_images_redone(batch, clip_flags, local_run, tmp_path, monkeypatch,
                                                          capsys):
    _, local_out = local_run
    rows_seen, original = [], ray_engine._rows

    def kill_after_first(*args, **kwargs):
        for row in original(*args, **kwargs):
            if not rows_seen:
                os.kill(row["pid"], signal.SIGKILL)  # the worker is busy with the next image by now
            rows_seen.append(row)
            yield row

    monkeypatch.setattr(ray_engine, "_rows", kill_after_first)
    code, _ = run(main_sclip.main, ["--image", str(batch), "--output", str(tmp_path / "run"), "-q"] + RAY + FOUND
                    + SCLIP + clip_flags, capsys)
    assert code == 1
    assert sorted(row["index"] for row in rows_seen) == list(range(6))  # none lost, none twice
    assert len({row["pid"] for row in rows_seen}) == 2  # the rest ran in the restarted worker
    assert_same_outputs(local_out / "run", tmp_path / "run")


def test_file_uri_input_and_output(batch, clip_flags, local_run, tmp_path, capsys):
    _, local_out = local_run
    source, target = batch.as_uri(), (tmp_path / "run").as_uri()
    code, err = run(main_sclip.main, ["--image", source, "--output", target, "-q"] + RAY + FOUND + SCLIP
                    + clip_flags, capsys)
    assert code == 1
    assert listing(tmp_path / "run") == listing(local_out / "run")
    for name in listing(local_out / "run"):
        if name.suffix == ".png":
            assert (tmp_path / "run" / name).read_bytes() == (local_out / "run" / name).read_bytes(), name
    record = json.loads((tmp_path / "run" / "piece2" / "result.json").read_text())
    assert record["complete"] is True and record["image"] == f"{source}/piece2.png"
    rows = json.loads((tmp_path / "run" / "summary.json").read_text())["images"]
    assert [row["image"] for row in rows] == [f"{source}/{name}" for name in sorted(os.listdir(batch))]
    assert rows[0]["output"] == f"{target}/broken" and rows[0]["status"] == "failed"
    assert err[0] == f"{source}/broken.jpg: failed (not an image file in a supported format (JPEG, PNG, WebP, " \
                     "BMP, TIFF))"


def test_opencv_remove_matches_local(batch, clip_flags, tmp_path, capsys):
    inputs = [str(batch / "piece1.png"), str(batch / "piece3.png")]
    flags = ["--image", *inputs, "--mode", "remove", "--inpainter", "opencv", "--visualize", "-q"] + FOUND + SCLIP
    assert main_sclip.main(flags + clip_flags + ["--output", str(tmp_path / "local")]) == 0
    assert main_sclip.main(flags + clip_flags + ["--output", str(tmp_path / "ray")] + RAY) == 0
    assert (tmp_path / "ray" / "piece3" / "edited.png").is_file()
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")


def test_proposals_match_local(batch, clip_flags, tiny_sam2_checkpoint, tmp_path):
    checkpoint, config = tiny_sam2_checkpoint
    flags = ["--image", str(batch / "piece2.png"), "--sam2-checkpoint", str(checkpoint),
             "--sam2-config", config, "--sam-points-per-side", "4", "--sam-pred-iou-thresh", "0",
             "--sam-stability-thresh", "0", "--top-k", "2", "-q"] + FOUND + clip_flags
    local_code = main.main(flags + ["--output", str(tmp_path / "local")])
    assert main.main(flags + ["--output", str(tmp_path / "ray")] + RAY) == local_code
    assert (tmp_path / "ray" / "instances.json").is_file()  # one image writes flat into --output
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")


def test_cluster_too_small_is_a_usage_error(batch, clip_flags, tmp_path, capsys):
    code, err = run(main_sclip.main, ["--image", str(batch), "--output", str(tmp_path / "run"), "--engine", "ray",
                                      "--ray-workers", "2", "--ray-gpus-per-worker", "1"] + FOUND + SCLIP
                    + clip_flags, capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: the Ray cluster has ") and "lower --ray-workers" in err[0]


def test_uri_output_needs_the_ray_engine(batch, clip_flags, tmp_path, capsys):
    code, err = run(main_sclip.main, ["--image", str(batch), "--output", (tmp_path / "run").as_uri()] + FOUND
                    + SCLIP + clip_flags, capsys)
    assert code == 2 and err == [f"error: --output {(tmp_path / 'run').as_uri()}: a URI output needs --engine ray; "
                                 "give a folder"]


@pytest.mark.parametrize("engine", [[], RAY], ids=["local", "ray"])
def test_missing_weights_fail_with_one_line_and_leave_no_folder(engine, batch, tmp_path, capsys):
    missing = tmp_path / "nowhere.pt"
    out = tmp_path / "new" / "run"
    code, err = run(main_sclip.main, ["--image", str(batch), "--output", str(out), *engine,
                                      "--clip-weights", str(missing), "--device", "cpu"] + FOUND + SCLIP, capsys)
    assert code == 1
    assert len(err) == 1 and err[0].startswith(f"error: CLIP weights file not found: {missing}")
    assert not (tmp_path / "new").exists()  # nor its parent: the run created both


@pytest.mark.parametrize("engine", [[], RAY], ids=["local", "ray"])
def test_a_folder_in_use_is_refused_before_any_model_loads(engine, batch, clip_flags, tmp_path, capsys, monkeypatch):
    from segedit import loading
    from segedit.outputs import OutputLock

    def never(*args, **kwargs):
        raise AssertionError("a model was about to load")

    monkeypatch.setattr(loading, "load_segmenter", never)
    monkeypatch.setattr(ray_engine, "_execute", never)
    out = tmp_path / "run"
    out.mkdir()
    with OutputLock(out):
        code, err = run(main_sclip.main, ["--image", str(batch), "--output", str(out), *engine] + FOUND + SCLIP
                        + clip_flags, capsys)
    assert code == 2 and len(err) == 1 and f"is in use by another run (pid {os.getpid()})" in err[0]
    assert list(out.iterdir()) == []


def test_a_run_that_cannot_progress_says_so():
    class Stuck:
        def iter_rows(self):
            yield from ()
            threading.Event().wait()

    rows = ray_engine._rows(Stuck(), stall_seconds=0.2, explain="the cluster is too small")
    with pytest.raises(ray_engine.StalledError, match="no image finished in 0 s; the cluster is too small"):
        next(rows)


def test_starting_ray_leaves_other_log_handlers_alone(caplog):
    """Ray Data's console chatter is held back by its logger's level; no handler's level is changed, so
    pytest's capture (and an application's handlers) see what they always saw."""
    import logging

    # the session's Ray was started by start_ray (tests/ray/conftest.py), quiet
    assert all(handler.level < logging.ERROR for handler in logging.getLogger("ray.data").handlers)
    assert logging.getLogger("ray.data").level == logging.ERROR
    with caplog.at_level(logging.WARNING, logger="sclip"):
        logging.getLogger("sclip.text").warning("still captured")
    assert "still captured" in caplog.text
