"""Atomic output files: an interrupted write leaves the old file or none, never a half-written one."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from segedit import files


@pytest.fixture
def interrupted_png_save(monkeypatch):
    """PIL writes part of the PNG, then Ctrl-C arrives."""
    def save(self, target, *args, **kwargs):
        target.write(b"\x89PNG\r\n\x1a\n half of it")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", save)


def test_interrupted_image_write_leaves_no_file(tmp_path, interrupted_png_save):
    with pytest.raises(KeyboardInterrupt):
        files.save_image(np.zeros((4, 4, 3), dtype=np.uint8), tmp_path / "edited.png")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_rewrite_keeps_the_previous_file(tmp_path):
    files.save_json({"complete": True}, tmp_path / "result.json")
    with pytest.raises(OSError, match="No space left"):
        with files.atomic_open(tmp_path / "result.json") as handle:
            handle.write(b'{"complete": fa')
            raise OSError(28, "No space left on device")
    assert json.loads((tmp_path / "result.json").read_text()) == {"complete": True}
    assert [path.name for path in tmp_path.iterdir()] == ["result.json"]


def test_written_files_are_complete_and_readable_by_others(tmp_path):
    mask = np.zeros((5, 7), dtype=bool)
    mask[1:4, 2:6] = True
    files.save_mask(mask, tmp_path / "mask.png")
    files.save_npy(np.arange(6, dtype=np.float16).reshape(2, 3), tmp_path / "probs.npy")
    files.save_text("a,b\n", tmp_path / "summary.csv")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "mask.png")), mask.astype(np.uint8) * 255)
    assert np.load(tmp_path / "probs.npy").tolist() == [[0, 1, 2], [3, 4, 5]]
    # mkstemp creates owner-only files; outputs get the permissions of any new file
    umask = os.umask(0)
    os.umask(umask)
    assert {path.stat().st_mode & 0o777 for path in tmp_path.iterdir()} == {0o666 & ~umask}
