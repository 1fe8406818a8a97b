import csv
import json

import numpy as np
import pytest

from segedit.evaluation import ConfusionMatrix, EvalReport, FailedImage, format_table, write_metrics
from segedit.files import write_bytes_atomically

NAMES = ["sky, cloud", "cat", "dog", "unused"]


@pytest.fixture
def report():
    confusion = ConfusionMatrix(4)
    confusion.update(np.array([[0, 1, 1], [1, 0, 2]]), np.array([[0, 0, 1], [1, 2, 255]]))
    return EvalReport(metrics=confusion.compute(), images=1, reused=0, seconds_per_image=0.25)


def test_table_lists_every_class_and_the_summary(report):
    table = format_table(report.metrics, NAMES)
    rows = {line.split("  ")[0].strip(): line for line in table.splitlines()}
    assert f"{report.metrics.class_iou[1]:.2f}" in rows["cat"]
    assert f"{report.metrics.class_acc[0]:.2f}" in rows["sky, cloud"]
    assert rows["unused"].split()[-2:] == ["-", "-"]
    assert "mIoU" in table and f"{report.metrics.mean_iou:.2f}" in table


def test_metrics_files_hold_scores_settings_and_nulls(report, tmp_path):
    settings = {"dataset": "generic", "model": "ViT-B-16", "data_root": tmp_path}
    json_path, csv_path = write_metrics(report, NAMES, settings, tmp_path / "out", write_bytes_atomically)
    summary = json.loads(json_path.read_text())
    assert summary["mIoU"] == pytest.approx(report.metrics.mean_iou)
    assert summary["aAcc"] == pytest.approx(report.metrics.all_acc)
    assert summary["mAcc"] == pytest.approx(report.metrics.mean_acc)
    assert summary["per_class"]["cat"]["iou"] == pytest.approx(report.metrics.class_iou[1])
    assert summary["per_class"]["unused"] == {"iou": None, "acc": None}
    assert summary["settings"] == {"dataset": "generic", "model": "ViT-B-16", "data_root": str(tmp_path)}
    assert summary["images"] == 1 and summary["seconds_per_image"] == 0.25 and summary["failed_images"] == []

    with csv_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["class"] for row in rows] == NAMES
    assert float(rows[2]["iou"]) == pytest.approx(report.metrics.class_iou[2])
    assert rows[3]["iou"] == "" and rows[3]["acc"] == ""
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["metrics.csv", "metrics.json"]


def test_class_names_must_match_the_metrics(report, tmp_path):
    with pytest.raises(ValueError):
        format_table(report.metrics, NAMES[:2])
    with pytest.raises(ValueError):
        write_metrics(report, ["a", "a", "b", "c"], {}, tmp_path, write_bytes_atomically)


def test_failed_images_are_listed_and_every_file_goes_through_the_given_writer(report, tmp_path):
    failed = FailedImage("2008_000123", tmp_path / "2008_000123.jpg", "2008_000123.jpg: not a readable image")
    with_failure = EvalReport(report.metrics, images=1, reused=0, seconds_per_image=0.25, failed=(failed,))
    written = {}
    json_path, csv_path = write_metrics(with_failure, NAMES, {}, tmp_path, lambda path, data: written.update({path: data}))
    assert set(written) == {json_path, csv_path} and not json_path.exists()
    summary = json.loads(written[json_path])
    assert summary["failed_images"] == [
        {"stem": "2008_000123", "image": str(tmp_path / "2008_000123.jpg"), "error": failed.reason}
    ]
