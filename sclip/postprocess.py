"""From per-name logits to per-class probabilities and labels, tile by tile.

The order is SCLIP's: softmax(logit_scale · logits) over all names, max over each class's names,
optional area threshold (small foreground classes are zeroed), argmax, optional probability
threshold (uncertain pixels become class 0).

Large photos never hold ``classes × original pixels`` floats at once: logits are upsampled to the
original size one band of rows at a time. Bilinear upsampling is separable, so a band is computed
exactly as the full-size ``F.interpolate`` would compute those rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

RowSource = Callable[[int, int], torch.Tensor]  # (y0, y1) -> (Q, y1 - y0, W) logits at original size

# Bytes of full-size logits/probabilities held at once: bounds post-processing memory for any photo
# size and class count, while ordinary photos with a few classes still fit in a single band.
TILE_BUDGET_BYTES = 192 * 2**20


@dataclass(frozen=True)
class PostprocessSettings:
    logit_scale: float = 40.0
    prob_thd: float = 0.0
    area_thd: float | None = None


def upsampled_rows(
    logits: torch.Tensor, out_height: int, out_width: int, budget_bytes: int = TILE_BUDGET_BYTES
) -> RowSource:
    """Row bands of ``F.interpolate(logits[None], (out_height, out_width), bilinear, align_corners=False)``.

    Within the memory budget the whole map is upsampled at once (the fast, common case); beyond it
    each band is interpolated on demand.
    """
    if logits.shape[0] * out_height * out_width * logits.element_size() <= budget_bytes:
        full = F.interpolate(logits[None], size=(out_height, out_width), mode="bilinear", align_corners=False)[0]
        return full_rows(full)
    in_height = logits.shape[1]
    # float32 arithmetic in the same order as PyTorch's kernel, so results agree to float32 rounding
    scale = torch.tensor(in_height / out_height, dtype=torch.float32)
    source = (scale * (torch.arange(out_height, dtype=torch.float32) + 0.5) - 0.5).clamp(min=0)
    top = source.floor().long().clamp(max=in_height - 1)
    bottom = (top + 1).clamp(max=in_height - 1)
    weight = (source - top.float()).to(logits.device)
    top, bottom = top.to(logits.device), bottom.to(logits.device)

    def rows(y0: int, y1: int) -> torch.Tensor:
        w = weight[y0:y1].view(1, -1, 1)
        band = logits[:, top[y0:y1]] * (1 - w) + logits[:, bottom[y0:y1]] * w  # (Q, r, w_in)
        # Height already matches, so this only interpolates along the width.
        return F.interpolate(band.unsqueeze(0), size=(y1 - y0, out_width), mode="bilinear", align_corners=False)[0]

    return rows


def full_rows(logits: torch.Tensor) -> RowSource:
    """Row bands of logits that are already at the original size."""
    return lambda y0, y1: logits[:, y0:y1]


def class_probabilities(logits: torch.Tensor, names_per_class: Sequence[int], logit_scale: float) -> torch.Tensor:
    """(Q, ...) logits -> (C, ...) probabilities: softmax over all names, then max over each class's names.

    A class's names are consecutive rows, as ``Vocabulary.names`` lists them.
    """
    probs = (logits * logit_scale).softmax(dim=0)
    if len(names_per_class) == probs.shape[0]:
        return probs
    per_class = []
    for group in probs.split(list(names_per_class)):
        # pairwise maxima beat amax's reduction kernel by ~5x for the few names a class has
        best = group[0]
        for name_probs in group[1:]:
            best = torch.maximum(best, name_probs)
        per_class.append(best)
    return torch.stack(per_class)


def labels_from_probabilities(
    probs: torch.Tensor, kept_classes: torch.Tensor | None, prob_thd: float
) -> torch.Tensor:
    """(C, ...) -> (...) int64 labels; classes not kept are zeroed before the argmax."""
    if kept_classes is not None and not bool(kept_classes.all()):
        probs = probs * kept_classes.view(-1, *([1] * (probs.dim() - 1)))
    best, labels = probs.max(dim=0)  # ties resolve to the first class, as argmax does
    if prob_thd > 0:
        labels[best < prob_thd] = 0
    return labels


def kept_by_area(label_counts: torch.Tensor, area_thd: float) -> torch.Tensor:
    """(C,) pixel counts per argmax class -> (C,) 0/1 weights; class 0 is always kept."""
    foreground = label_counts[1:].float()
    kept = torch.ones_like(label_counts, dtype=torch.float32)
    kept[1:] = (foreground > area_thd * foreground.sum()).float()
    return kept


def _bands(height: int, rows_per_band: int) -> Iterator[tuple[int, int]]:
    for y0 in range(0, height, rows_per_band):
        yield y0, min(y0 + rows_per_band, height)


def rows_per_band(num_queries: int, width: int, budget_bytes: int = TILE_BUDGET_BYTES) -> int:
    # logits, probabilities and per-class maxima of a band live at the same time
    return max(1, budget_bytes // (3 * 4 * num_queries * width))


@torch.inference_mode()
def postprocess(
    rows: RowSource,
    height: int,
    width: int,
    names_per_class: Sequence[int],
    settings: PostprocessSettings,
    band_rows: int | None = None,
    probs_out: np.ndarray | None = None,
    selected_probs_out: tuple[Sequence[int], np.ndarray] | None = None,
) -> np.ndarray:
    """Labels (H, W) int32 at the original size. ``probs_out`` (C, H, W), if given, receives the
    per-class probabilities before any threshold; ``selected_probs_out`` = (class indices, (T, H, W)
    array) receives only those classes' rows."""
    num_classes = len(names_per_class)
    band_rows = band_rows or rows_per_band(sum(names_per_class), width)
    bands = list(_bands(height, band_rows))

    def band_probabilities(y0: int, y1: int) -> torch.Tensor:
        return class_probabilities(rows(y0, y1), names_per_class, settings.logit_scale)

    kept = None
    # The area threshold needs a first pass over the whole image; when the probabilities fit the
    # budget they are kept for the second pass instead of being upsampled and normalised again.
    kept_bands: list[torch.Tensor] | None = None
    if settings.area_thd is not None:
        counts = torch.zeros(num_classes, dtype=torch.long)
        if num_classes * height * width * 4 <= TILE_BUDGET_BYTES:
            kept_bands = []
        for y0, y1 in bands:
            probs = band_probabilities(y0, y1)
            counts += torch.bincount(probs.max(dim=0).indices.flatten(), minlength=num_classes).cpu()
            if kept_bands is not None:
                kept_bands.append(probs)
        kept = kept_by_area(counts, settings.area_thd).to(probs.device)
    labels = np.empty((height, width), dtype=np.int32)
    for index, (y0, y1) in enumerate(bands):
        probs = kept_bands[index] if kept_bands is not None else band_probabilities(y0, y1)
        if probs_out is not None:
            probs_out[:, y0:y1] = probs.cpu().numpy()
        if selected_probs_out is not None:
            selected, out = selected_probs_out
            out[:, y0:y1] = probs[list(selected)].cpu().numpy()
        labels[y0:y1] = labels_from_probabilities(probs, kept, settings.prob_thd).cpu().numpy()
    return labels
