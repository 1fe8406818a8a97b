"""Model-independent evaluation: benchmark datasets on disk, the scoring loop, metrics and reports.

The caller supplies ``predict(image RGB uint8) -> (H, W) class indices``; everything else lives here.
"""
from .datasets import DATASETS, Dataset, DatasetError, DatasetSpec, LabelTransform, Sample, load_label, open_dataset
from .metrics import ConfusionMatrix, Metrics
from .report import format_table, write_metrics
from .runner import EvalReport, evaluate, load_rgb_image

__all__ = [
    "DATASETS",
    "ConfusionMatrix",
    "Dataset",
    "DatasetError",
    "DatasetSpec",
    "EvalReport",
    "LabelTransform",
    "Metrics",
    "Sample",
    "evaluate",
    "format_table",
    "load_label",
    "load_rgb_image",
    "open_dataset",
    "write_metrics",
]
