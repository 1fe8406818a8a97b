"""evaluate.py end to end with a tiny random CLIP: real VOC files, the generic layout, resuming."""
import json
from pathlib import Path

import pytest

import evaluate
from segedit.evaluate_cli import build_parser


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


def test_an_unreadable_image_is_listed_as_failed_and_the_rest_is_scored(generic_dataset, model_args, tmp_path,
                                                                        monkeypatch, capsys):
    root, _ = generic_dataset
    (root / "images" / "sample_1.png").write_bytes(b"\x89PNG but then nothing")
    monkeypatch.chdir(tmp_path)
    code = evaluate.main(["--dataset", "generic", "--data-root", str(root)] + model_args)
    assert code == 1
    metrics = json.loads((tmp_path / "output_eval" / "metrics.json").read_text())  # the default --output
    assert metrics["images"] == 2 and 0 <= metrics["mIoU"] <= 100
    assert [failure["stem"] for failure in metrics["failed_images"]] == ["sample_1"]
    assert (tmp_path / "output_eval" / "metrics.csv").read_text().startswith("class,iou,acc")
    err = capsys.readouterr().err
    assert "Traceback" not in err and "sample_1.png" in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: 1 image(s) could not be read and were not scored; listed under failed_images in "
        f"{Path('output_eval') / 'metrics.json'}"
    ]


def test_save_predictions_naming_a_file_is_one_usage_line(generic_dataset, model_args, tmp_path, capsys):
    blocker = tmp_path / "predictions.txt"
    blocker.write_text("not a folder")
    code = evaluate.main(["--dataset", "generic", "--data-root", str(generic_dataset[0]), "--output",
                          str(tmp_path / "out"), "--save-predictions", str(blocker)] + model_args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "Traceback" not in err
    assert str(blocker) in err and "--save-predictions" in err
    assert not (tmp_path / "out").exists()


def test_output_defaults_to_output_eval():
    args = build_parser().parse_args(["--dataset", "voc21", "--data-root", "somewhere"])
    assert args.output == Path("output_eval")
