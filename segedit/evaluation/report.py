"""Human-readable and machine-readable summaries of an evaluation."""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Sequence

from .metrics import Metrics
from .runner import BytesWriter, EvalReport

_MISSING = "-"


def format_table(metrics: Metrics, class_names: Sequence[str]) -> str:
    """Per-class IoU and accuracy (percent, "-" for a class that never occurs), then mIoU / aAcc / mAcc."""
    _check_names(metrics, class_names)
    name_width = max(len("Class"), *(len(name) for name in class_names))
    rule = "-" * (name_width + 18)
    lines = [rule, f"{'Class':<{name_width}}  {'IoU':>7}  {'Acc':>7}", rule]
    lines += [
        f"{name:<{name_width}}  {_number(iou):>7}  {_number(acc):>7}"
        for name, iou, acc in zip(class_names, metrics.class_iou, metrics.class_acc)
    ]
    lines += [
        rule,
        f"{'mIoU':>7}  {'aAcc':>7}  {'mAcc':>7}",
        f"{_number(metrics.mean_iou):>7}  {_number(metrics.all_acc):>7}  {_number(metrics.mean_acc):>7}",
    ]
    return "\n".join(lines)


def write_metrics(
    report: EvalReport,
    class_names: Sequence[str],
    settings: dict[str, Any],
    out_dir: str | Path,
    write_bytes: BytesWriter,
) -> tuple[Path, Path]:
    """Write ``metrics.json`` and ``metrics.csv`` into ``out_dir`` (created if needed) with ``write_bytes``;
    returns their paths.

    Class names become JSON keys, so they must be unique. NaN scores are written as JSON null and as
    empty CSV cells. ``settings`` should be JSON-friendly; other values (e.g. paths) are written as strings.
    The images that could not be read are listed in the JSON under ``failed_images``.
    """
    metrics = report.metrics
    _check_names(metrics, class_names)
    if len(set(class_names)) != len(class_names):
        raise ValueError("class names must be unique to key per-class results")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    summary = {
        "mIoU": _or_none(metrics.mean_iou),
        "aAcc": _or_none(metrics.all_acc),
        "mAcc": _or_none(metrics.mean_acc),
        "per_class": {
            name: {"iou": _or_none(iou), "acc": _or_none(acc)}
            for name, iou, acc in zip(class_names, metrics.class_iou, metrics.class_acc)
        },
        "settings": settings,
        "images": report.images,
        "reused_predictions": report.reused,
        "seconds_per_image": report.seconds_per_image,
        "failed_images": [
            {"stem": failure.stem, "image": str(failure.image_path), "error": failure.reason} for failure in report.failed
        ],
    }
    json_path, csv_path = folder / "metrics.json", folder / "metrics.csv"
    text = json.dumps(summary, indent=2, default=str, allow_nan=False) + "\n"
    write_bytes(json_path, text.encode("utf-8"))

    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["class", "iou", "acc"])
    for name, iou, acc in zip(class_names, metrics.class_iou, metrics.class_acc):
        writer.writerow([name, _csv_number(iou), _csv_number(acc)])
    write_bytes(csv_path, table.getvalue().encode("utf-8"))
    return json_path, csv_path


def _check_names(metrics: Metrics, class_names: Sequence[str]) -> None:
    if len(class_names) != len(metrics.class_iou):
        raise ValueError(f"got {len(class_names)} class names for {len(metrics.class_iou)} classes")


def _number(value: float) -> str:
    return _MISSING if math.isnan(value) else f"{value:.2f}"


def _csv_number(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


def _or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
