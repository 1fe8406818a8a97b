"""The three approaches (SCLIP + SAM2, proposals, SAM 3) write through the one writer: the same common files."""
import json

import numpy as np
from PIL import Image

import main
import main_sam3
import main_sclip
from segedit.record import ResultRecord

COMMON = ("original.png", "mask.png", "result.json")


def test_three_approaches_write_the_same_common_files(image_file, clip_flags, tiny_sam2_checkpoint, tiny_sam3_dir,
                                                      tmp_path):
    checkpoint, config = tiny_sam2_checkpoint
    sam2 = ["--sam2-checkpoint", str(checkpoint), "--sam2-config", config, "--sam-points-per-side", "2",
            "--sam-pred-iou-thresh", "0", "--sam-stability-thresh", "0"]
    runs = {
        "sclip": (main_sclip.main, clip_flags + ["--short-side", "64", "--no-sam-refinement"]),
        "proposals": (main.main, clip_flags + sam2),
        "sam3": (main_sam3.main, ["--sam3-model", tiny_sam3_dir, "--sam3-threshold", "0", "--device", "cpu"]),
    }
    records = {}
    for approach, (entry, flags) in runs.items():
        out = tmp_path / approach
        code = entry(["--image", str(image_file), "--output", str(out), "--prompt", "person", "--vocabulary", "person",
                      "sky", "-q"] + flags)
        assert code in (0, 3), approach
        for name in COMMON:
            assert (out / name).is_file(), (approach, name)
        mask = np.asarray(Image.open(out / "mask.png"))
        assert mask.shape == (64, 80) and set(np.unique(mask)) <= {0, 255}
        records[approach] = ResultRecord.read(out)
        assert records[approach] is not None and records[approach].approach == approach
        # the record reads back into the same JSON it was written from
        assert records[approach].to_json() == json.loads((out / "result.json").read_text())
    originals = {(tmp_path / approach / "original.png").read_bytes() for approach in runs}
    assert len(originals) == 1
    keys = {approach: set(json.loads((tmp_path / approach / "result.json").read_text())) for approach in runs}
    common = set(ResultRecord.ORDER) - {"class_pixels"}
    for approach, found in keys.items():
        assert common <= found, (approach, common - found)
    for approach in ("proposals", "sam3"):
        assert (tmp_path / approach / "instances.json").is_file()
    assert [target.prompt for record in records.values() for target in record.targets] == ["person"] * 3
