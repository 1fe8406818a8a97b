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

from ..errors import first_line
from .datasets import Dataset, Sample
from .metrics import ConfusionMatrix, Metrics

logger = logging.getLogger(__name__)

Predictor = Callable[[np.ndarray], np.ndarray]
# path -> (H, W, 3) uint8 RGB; raises OSError or ValueError for a file it cannot read.
ImageLoader = Callable[[Path], np.ndarray]
# Writes the bytes to the path; an atomic writer keeps an interrupted run from leaving half a prediction behind.
BytesWriter = Callable[[Path, bytes], None]
# Saved predictions are palette PNGs, which hold 8-bit indices.
MAX_SAVED_CLASSES = 256


@dataclass(frozen=True)
class FailedImage:
    """A sample whose image could not be read; it is left out of the scores."""

    stem: str
    image_path: Path
    reason: str  # one line


@dataclass(frozen=True)
class EvalReport:
    metrics: Metrics
    images: int  # samples scored
    reused: int  # of those, read back from save_predictions instead of predicted
    seconds_per_image: float | None  # mean time of ``predict`` over predicted images; None if none was predicted
    failed: tuple[FailedImage, ...] = ()  # samples not scored because their image was unreadable


def evaluate(
    dataset: Dataset,
    predict: Predictor,
    *,
    load_image: ImageLoader,
    write_bytes: BytesWriter | None = None,
    limit: int | None = None,
    save_predictions: str | Path | None = None,
    progress: bool = True,
) -> EvalReport:
    """Score ``predict`` (RGB uint8 image → (H, W) integer class indices) on the dataset's samples.

    ``load_image`` reads each sample's image; one it cannot read (OSError or ValueError) is reported in
    ``EvalReport.failed`` and the evaluation goes on without it. ``limit`` scores only the first N samples.
    With ``save_predictions`` every prediction is kept as ``<dir>/<stem>.png`` (palette PNG of class
    indices), written with ``write_bytes``; a file already there is read instead of calling ``predict``,
    so an interrupted run resumes where it stopped.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be zero or positive, got {limit}")
    samples = dataset.samples if limit is None else dataset.samples[:limit]
    prediction_dir = None if save_predictions is None else Path(save_predictions)
    if prediction_dir is not None:
        if write_bytes is None:
            raise ValueError("save_predictions needs write_bytes to write the prediction files with")
        if dataset.num_classes > MAX_SAVED_CLASSES:
            raise ValueError(
                f"cannot save predictions for {dataset.num_classes} classes; "
                f"palette PNGs hold at most {MAX_SAVED_CLASSES}"
            )
        if prediction_dir.exists() and not prediction_dir.is_dir():
            raise ValueError(f"prediction folder {prediction_dir} is a file, not a folder")
        prediction_dir.mkdir(parents=True, exist_ok=True)

    confusion = ConfusionMatrix(dataset.num_classes, dataset.ignore_index)
    predict_seconds = 0.0
    predicted = reused = 0
    failed: list[FailedImage] = []
    for sample in tqdm(samples, desc=f"evaluating {dataset.spec.name}", unit="image", disable=not progress):
        gt = dataset.load_label(sample)
        saved_path = None if prediction_dir is None else prediction_dir / f"{sample.stem}.png"
        if saved_path is not None and saved_path.is_file():
            prediction = _read_saved_prediction(saved_path, gt.shape)
            reused += 1
        else:
            try:
                image = load_image(sample.image_path)
            except (OSError, ValueError) as error:
                failed.append(FailedImage(sample.stem, sample.image_path, first_line(error)))
                logger.warning("%s (not scored)", failed[-1].reason)
                continue
            started = time.perf_counter()
            prediction = np.asarray(predict(image))
            predict_seconds += time.perf_counter() - started
            predicted += 1
            _check_prediction(sample, prediction, gt.shape)
            if saved_path is not None:
                write_bytes(saved_path, _png_bytes(prediction))
        try:
            confusion.update(prediction, gt)
        except ValueError as error:
            raise ValueError(f"{sample.stem}: {error}") from error

    report = EvalReport(
        metrics=confusion.compute(),
        images=predicted + reused,
        reused=reused,
        seconds_per_image=predict_seconds / predicted if predicted else None,
        failed=tuple(failed),
    )
    logger.info(
        "%s: %d images (%d reused, %d failed), mIoU %.2f",
        dataset.spec.name, report.images, report.reused, len(report.failed), report.metrics.mean_iou,
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
