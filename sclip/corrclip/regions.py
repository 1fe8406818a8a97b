"""CorrCLIP's region maps: building them from SAM2 masks, merging regions, the correlation scope, Map Correction.

A region map is an integer (H, W) array; each value is one region and the **smallest value present** is the
"unsegmented" region (normally 0). CorrCLIP applies that rule everywhere, whatever the smallest value is.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

MASK_PAD_VALUE = 10000  # windows smaller than the pad multiple are padded with this region id (an ordinary region)
MERGED_ID_BASE = 10000  # merged regions are renumbered 10000 + DBSCAN cluster
MERGE_EPS = 0.2  # DBSCAN radius on 1 - cosine of the regions' mean DINO features (≤ eps counts as a neighbour)
TAU = 4.0  # temperature of the reconstructed correlation: softmax(TAU · cosine)

# Band of rows for full-size Map Correction: bounds the int64 temporaries on 12-MP photos.
CORRECTION_BAND_PIXELS = 2**22
# Region ids spanning at most this range are indexed directly (a counting pass) instead of sorted by np.unique.
DIRECT_ID_RANGE = 2**24


def region_map_from_masks(masks: Sequence[np.ndarray] | np.ndarray, areas: Sequence[int] | None = None) -> np.ndarray:
    """SAM2 masks -> CorrCLIP's region map. masks: M bool (H, W) arrays -> (H, W) int32.

    Masks get ids 1..M in ascending area (``areas``, default the pixel counts, as SAM2's ``area`` field is; ties keep
    the given order), each painting its pixels, so larger masks overwrite smaller ones where they overlap.
    Pixels no mask covers stay 0, the unsegmented region.
    """
    masks = [np.asarray(mask) for mask in masks]
    if not masks:
        raise ValueError("no masks: the image size of an empty region map is unknown")
    shape = masks[0].shape
    if any(mask.dtype != bool or mask.shape != shape or mask.ndim != 2 for mask in masks):
        raise ValueError(f"masks must be bool (H, W) arrays of one size, the first is {shape}")
    if areas is None:
        areas = [int(mask.sum()) for mask in masks]
    if len(areas) != len(masks):
        raise ValueError(f"{len(areas)} areas for {len(masks)} masks")
    region_map = np.zeros(shape, dtype=np.int32)
    for region_id, index in enumerate(np.argsort(np.asarray(areas), kind="stable"), start=1):
        region_map[masks[index]] = region_id
    return region_map


def merge_regions(regions: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Mask Merging: regions whose DINO features look alike become one. (N,) int ids, (N, C) unit features -> (N,).

    Only with more than two region values. Every value's tokens are averaged and re-normalised; all but the
    smallest value (unsegmented, kept as is) are clustered by scikit-learn's DBSCAN on the distance
    ``max(A) - A`` of their cosine matrix A. With ``min_samples=1`` every region is a core point, so clusters are
    the connected components of "distance ≤ eps" and no region is noise. All regions are renumbered at once to
    ``MERGED_ID_BASE + cluster``, so old ids in that range (the window padding) are never confused with new ones.
    """
    from sklearn.cluster import DBSCAN  # the real library, as CorrCLIP uses; imported only where it is needed

    values, inverse = torch.unique(regions, sorted=True, return_inverse=True)
    if len(values) <= 2:
        return regions
    means = torch.stack([features[regions == value].mean(dim=0) for value in values])  # (V, C)
    instances = F.normalize(means, dim=-1)[1:]  # (R, C): the unsegmented value takes no part
    similarity = instances @ instances.T  # (R, R)
    distance = (similarity.max() - similarity).detach().cpu().numpy()
    clusters = DBSCAN(eps=MERGE_EPS, min_samples=1, metric="precomputed").fit(distance).labels_
    new_ids = torch.cat([values[:1], MERGED_ID_BASE + torch.as_tensor(clusters, dtype=values.dtype)])
    return new_ids.to(regions.device)[inverse]


def scoped_correlation(similarity: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Scope reconstruction: the attention map the last CLIP block uses. (N, N) cosines, (N,) ids -> (N, N).

    A segmented token attends to the tokens of its own region; a pair with an unsegmented token (the smallest
    id) is allowed when its cosine is above the mean of all N² cosines (CorrCLIP's "method 1", the permissive
    variant it ships). The rest is -inf before ``softmax(TAU · S)``; there is no head split and no 1/√d.
    """
    unsegmented = regions == regions.min()  # (N,)
    same_region = regions[:, None] == regions[None, :]  # (N, N)
    with_unsegmented = unsegmented[:, None] | unsegmented[None, :]  # (N, N)
    allowed = (same_region & ~unsegmented[:, None]) | (with_unsegmented & (similarity > similarity.mean()))
    return (TAU * similarity.masked_fill(~allowed, float("-inf"))).softmax(dim=-1)


def nearest_indices(in_size: int, out_size: int) -> torch.Tensor:
    """Source index of every output position of a legacy ``nearest`` resize along one axis. -> (out_size,) int64.

    Nearest resizing is separable, so the 2-D resize of a map is a gather of these rows and columns. The indices
    come from PyTorch itself, on float32 as CorrCLIP resizes its masks, so they are the samples it picks.
    """
    positions = torch.arange(in_size, dtype=torch.float32)[None, None]  # (1, 1, in)
    return F.interpolate(positions, size=out_size, mode="nearest")[0, 0].long()


def resize_regions(regions: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Legacy ``nearest`` resize of an integer map, ids untouched. (h, w) -> size, same dtype."""
    rows = nearest_indices(regions.shape[0], size[0]).to(regions.device)
    cols = nearest_indices(regions.shape[1], size[1]).to(regions.device)
    return regions[rows][:, cols]


def map_correction(labels: np.ndarray, regions: np.ndarray, num_classes: int) -> np.ndarray:
    """Every region but the unsegmented one (smallest id) takes the most frequent label of its pixels.

    labels, regions: (H, W) -> new (H, W) int32 labels. Ties go to the smaller label, as ``torch.mode`` on the
    CPU breaks them; the labels counted are after ``prob_thd`` (its zeros count too). Rows are done in bands so a
    12-MP photo never holds int64 copies of the whole map.
    """
    if labels.shape != regions.shape:
        raise ValueError(f"labels {labels.shape} and regions {regions.shape} differ in size")
    region_ids, dense_of = _region_index(regions)
    if len(region_ids) < 2:
        return labels.astype(np.int32, copy=True)
    rows = max(1, CORRECTION_BAND_PIXELS // max(1, labels.shape[1]))
    counts = np.zeros(len(region_ids) * num_classes, dtype=np.int64)  # (R·C,) pixels of each label per region
    for y0 in range(0, labels.shape[0], rows):
        dense = dense_of(regions[y0 : y0 + rows])
        counts += np.bincount((dense * num_classes + labels[y0 : y0 + rows]).ravel(), minlength=counts.size)
    modes = counts.reshape(len(region_ids), num_classes).argmax(axis=1).astype(np.int32)  # first max = smaller label
    corrected = labels.astype(np.int32, copy=True)
    for y0 in range(0, labels.shape[0], rows):
        dense = dense_of(regions[y0 : y0 + rows])
        band = corrected[y0 : y0 + rows]
        segmented = dense > 0  # dense index 0 is the smallest id, the unsegmented region
        band[segmented] = modes[dense[segmented]]
    return corrected


def _region_index(regions: np.ndarray):
    """Sorted region ids, and a function mapping a band of the map to dense indices 0..R-1 (int64)."""
    low, high = int(regions.min()), int(regions.max())
    if high - low < DIRECT_ID_RANGE:
        present = np.bincount((regions - low).ravel().astype(np.intp), minlength=high - low + 1) > 0
        lookup = np.cumsum(present) - 1  # id - low -> dense index
        return np.flatnonzero(present) + low, lambda band: lookup[(band - low).astype(np.intp)]
    region_ids = np.unique(regions)
    return region_ids, lambda band: np.searchsorted(region_ids, band).astype(np.int64)
