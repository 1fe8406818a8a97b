"""evaluate.py end to end with a tiny random CLIP: real VOC files, the generic layout, resuming."""
import json

import pytest

import evaluate


@pytest.fixture
def model_args(tiny_clip_checkpoint, tmp_path):
    return ["--clip-weights", str(tiny_clip_checkpoint), "--cache-dir", str(tmp_path / "cache"), "--device", "cpu",
            "-q"]


def test_voc21_sclip_protocol_on_real_samples(voc_samples, model_args, tmp_path):
    out = tmp_path / "metrics"
    predictions = tmp_path / "pred"
    argv = ["--dataset", "voc21", "--data-root", str(voc_samples), "--output", str(out), "--limit", "2",
            "--save-predictions", str(predictions)] + model_args
    assert evaluate.main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 2
    assert 0 <= metrics["mIoU"] <= 100 and 0 <= metrics["aAcc"] <= 100
    assert len(metrics["per_class"]) == 21 and "background" in metrics["per_class"]
    # the official SCLIP VOC21 settings come from the preset
    assert metrics["settings"]["sclip"]["logit_scale"] == 65 and metrics["settings"]["sclip"]["area_thd"] == 0.1
    assert len(list(predictions.glob("*.png"))) == 2
    assert (out / "metrics.csv").read_text().startswith("class,iou,acc")

    # resumed run: predictions are reused, the metrics are identical
    assert evaluate.main(argv) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["mIoU"] == metrics["mIoU"] and again["reused_predictions"] == 2


def test_generic_layout_with_sam2_whole_map_refinement(generic_dataset, model_args, tmp_path, tiny_sam2_checkpoint):
    root, _ = generic_dataset
    checkpoint, config = tiny_sam2_checkpoint
    out = tmp_path / "metrics"
    argv = ["--dataset", "generic", "--data-root", str(root), "--output", str(out), "--method", "sclip+sam2",
            "--sam2-checkpoint", str(checkpoint), "--sam2-config", config, "--sam-points-per-side", "2"] + model_args
    assert evaluate.main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 3 and set(metrics["per_class"]) == {"background", "cat", "dog"}
    assert metrics["settings"]["method"] == "sclip+sam2"


def test_missing_dataset_is_one_line(model_args, tmp_path, capsys):
    code = evaluate.main(["--dataset", "voc21", "--data-root", str(tmp_path / "nowhere"), "--output",
                          str(tmp_path / "out")] + model_args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "voc21" in err and "Traceback" not in err
