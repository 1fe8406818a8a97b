"""Model-independent evaluation: benchmark datasets on disk, the scoring loop, metrics and reports.

The caller supplies ``predict(image RGB uint8) -> (H, W) class indices`` and the file access (an image loader
and a bytes writer); everything else lives here. Nothing here imports the rest of ``segedit`` or any model
library, so the package serves any segmentation method.
"""
from .datasets import DATASETS, Dataset, DatasetError, DatasetSpec, LabelTransform, Sample, load_label, open_dataset
from .metrics import ConfusionMatrix, Metrics
from .report import format_table, write_metrics
from .runner import BytesWriter, EvalReport, FailedImage, ImageLoader, evaluate

__all__ = [
    "DATASETS",
    "BytesWriter",
    "ConfusionMatrix",
    "Dataset",
    "DatasetError",
    "DatasetSpec",
    "EvalReport",
    "FailedImage",
    "ImageLoader",
    "LabelTransform",
    "Metrics",
    "Sample",
    "evaluate",
    "format_table",
    "load_label",
    "open_dataset",
    "write_metrics",
]
