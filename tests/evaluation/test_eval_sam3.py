"""evaluate.py --method sam3 with the tiny random SAM 3: the real VOC samples and the generic layout."""
import json

import evaluate


def sam3_args(tiny_sam3_dir, threshold: str) -> list[str]:
    # a 64 px working size keeps the random model's 20 instances per phrase quick to bring back to full size
    return ["--method", "sam3", "--sam3-model", tiny_sam3_dir, "--sam3-threshold", threshold, "--sam3-max-side", "64",
            "--device", "cpu", "-q"]


def test_voc21_with_sam3(voc_samples, tiny_sam3_dir, tmp_path):
    out = tmp_path / "metrics"
    argv = ["--dataset", "voc21", "--data-root", str(voc_samples), "--output", str(out), "--limit", "2"]
    # VOC's 30 object names are 30 SAM 3 phrases per image; the random model scores ~0.25, so at 0.5 it finds
    # nothing and every pixel is background: the pipeline runs in full without 600 instances to upsample
    assert evaluate.main(argv + sam3_args(tiny_sam3_dir, "0.5")) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 2 and len(metrics["per_class"]) == 21
    assert metrics["per_class"]["background"]["acc"] == 100
    assert all(scores["iou"] == 0 for name, scores in metrics["per_class"].items() if name != "background"
               and scores["iou"] is not None)
    settings = metrics["settings"]
    assert settings["method"] == "sam3" and settings["sclip"] is None and settings["sam2"] is None
    assert settings["sam3"] == {"model": tiny_sam3_dir, "threshold": 0.5, "mask_threshold": 0.5, "max_side": 64}
    assert settings["model"] == {"device": "cpu", "precision": {"sam3": "fp32"}, "sam3": tiny_sam3_dir}


def test_generic_layout_with_sam3(generic_dataset, tiny_sam3_dir, tmp_path):
    root, _ = generic_dataset
    out = tmp_path / "metrics"
    predictions = tmp_path / "pred"
    argv = ["--dataset", "generic", "--data-root", str(root), "--output", str(out),
            "--save-predictions", str(predictions)]
    assert evaluate.main(argv + sam3_args(tiny_sam3_dir, "0")) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 3 and set(metrics["per_class"]) == {"background", "cat", "dog"}
    assert len(list(predictions.glob("*.png"))) == 3
