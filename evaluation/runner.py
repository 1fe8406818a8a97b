"""The evaluation loop: predict every sample (or reuse a saved prediction) and accumulate the metrics."""
from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from viz import labels_to_palette_image

from segedit.files import write_bytes_atomically
from segedit.images import load_image
from .datasets import Dataset, Sample
from .metrics import ConfusionMatrix, Metrics

logger = logging.getLogger(__name__)

Predictor = Callable[[np.ndarray], np.ndarray]
# Saved predictions are palette PNGs, which hold 8-bit indices.
MAX_SAVED_CLASSES = 256


@dataclass(frozen=True)
class EvalReport:
    metrics: Metrics
    images: int  # samples scored
    reused: int  # of those, read back from save_predictions instead of predicted
    seconds_per_image: float | None  # mean time of ``predict`` over predicted images; None if all were reused


def load_rgb_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB, read exactly as the segmentation CLIs read their inputs."""
    return load_image(path).rgb


def evaluate(
    dataset: Dataset,
    predict: Predictor,
    limit: int | None = None,
    save_predictions: str | Path | None = None,
    progress: bool = True,
) -> EvalReport:
    """Score ``predict`` (RGB uint8 image → (H, W) integer class indices) on the dataset's samples.

    ``limit`` scores only the first N samples. With ``save_predictions`` every prediction is kept as
    ``<dir>/<stem>.png`` (palette PNG of class indices); a file already there is read instead of
    calling ``predict``, so an interrupted run resumes where it stopped.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be zero or positive, got {limit}")
    samples = dataset.samples if limit is None else dataset.samples[:limit]
    prediction_dir = None if save_predictions is None else Path(save_predictions)
    if prediction_dir is not None:
        if dataset.num_classes > MAX_SAVED_CLASSES:
            raise ValueError(
                f"cannot save predictions for {dataset.num_classes} classes; "
                f"palette PNGs hold at most {MAX_SAVED_CLASSES}"
            )
        prediction_dir.mkdir(parents=True, exist_ok=True)

    confusion = ConfusionMatrix(dataset.num_classes, dataset.ignore_index)
    predict_seconds = 0.0
    reused = 0
    for sample in tqdm(samples, desc=f"evaluating {dataset.spec.name}", unit="image", disable=not progress):
        gt = dataset.load_label(sample)
        saved_path = None if prediction_dir is None else prediction_dir / f"{sample.stem}.png"
        if saved_path is not None and saved_path.is_file():
            prediction = _read_saved_prediction(saved_path, gt.shape)
            reused += 1
        else:
            image = load_rgb_image(sample.image_path)
            started = time.perf_counter()
            prediction = np.asarray(predict(image))
            predict_seconds += time.perf_counter() - started
            _check_prediction(sample, prediction, gt.shape)
            if saved_path is not None:
                write_bytes_atomically(saved_path, _png_bytes(prediction))
        try:
            confusion.update(prediction, gt)
        except ValueError as error:
            raise ValueError(f"{sample.stem}: {error}") from error

    predicted = len(samples) - reused
    report = EvalReport(
        metrics=confusion.compute(),
        images=len(samples),
        reused=reused,
        seconds_per_image=predict_seconds / predicted if predicted else None,
    )
    logger.info(
        "%s: %d images (%d reused), mIoU %.2f", dataset.spec.name, report.images, report.reused, report.metrics.mean_iou
    )
    return report


def _check_prediction(sample: Sample, prediction: np.ndarray, label_shape: tuple[int, ...]) -> None:
    if prediction.shape != label_shape:
        raise ValueError(
            f"{sample.stem}: prediction has shape {prediction.shape}, label has {label_shape} "
            "(predict must return one class index per pixel of the upright image)"
        )
    if not np.issubdtype(prediction.dtype, np.integer):
        raise ValueError(f"{sample.stem}: prediction must hold integer class indices, got dtype {prediction.dtype}")


def _read_saved_prediction(path: Path, label_shape: tuple[int, ...]) -> np.ndarray:
    with Image.open(path) as image:
        if image.mode not in ("P", "L"):
            raise ValueError(
                f"saved prediction {path} is a {image.mode} image, not class indices; delete it to predict again"
            )
        prediction = np.array(image)
    if prediction.shape != label_shape:
        raise ValueError(
            f"saved prediction {path} has shape {prediction.shape} but the label has {label_shape} "
            "(left over from another dataset?); delete it to predict again"
        )
    return prediction


def _png_bytes(prediction: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    labels_to_palette_image(prediction).save(buffer, format="PNG")
    return buffer.getvalue()
