"""A stand-in for SAM2 with known answers, so that guided and full-grid prompting can be compared.

Random SAM2 weights keep no mask, so they cannot show what guided prompting changes. This stand-in
replaces SAM2's image predictor (what embeds an image and decodes point prompts) inside the real
``refine.SAM2MaskSource``: it answers each point prompt with the ground-truth segments containing the
point, with scores, and everything else runs as with SAM2: the grid, the guided choice of points, sam2's
IoU and stability filters, its box NMS, the cache and the majority vote.

The scene is painted into the image itself: red + 256 * green is the id of a *part* (a piece of an object)
and blue the id of the *object* (a connected component of a class map), so the stand-in reads its answers
from the pixels it is given. With three masks per point it answers like SAM2's part / whole / context
outputs: the part under the point, the whole object, and the object merged with the neighbour it shares
the longest border with (scored around the default IoU threshold of 0.88, so that about half of them pass,
as SAM2's loose masks do). With one mask per point it answers the whole object. Scores vary a little
between objects so that NMS has an order to follow.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from sam2.utils.transforms import SAM2Transforms

import refine

_LOGIT = 8.0  # far from 0 and from sam2's stability offset (+-1): stability 1
# Predicted IoU of each kind of answer before the per-object variation (0 to 0.04).
_SCORES = {"part": 0.90, "whole": 0.94, "context": 0.86}
_MODEL_SIZE = 1024


@dataclass(frozen=True)
class Scene:
    """A photo-sized scene: ``image`` encodes its parts and objects; ``classes`` is its class map."""

    image: np.ndarray  # (H, W, 3) uint8, see the module docstring
    classes: np.ndarray  # (H, W) int class map
    name: str

    @classmethod
    def from_ids(cls, parts: np.ndarray, objects: np.ndarray, classes: np.ndarray, name: str) -> Scene:
        if parts.max() >= 2**16 or objects.max() >= 2**8:
            raise ValueError("a scene holds at most 65535 parts and 255 objects")
        image = np.stack([parts % 256, parts // 256, objects], axis=-1).astype(np.uint8)
        return cls(image, classes, name)


def scene_from_class_map(classes: np.ndarray, photo: np.ndarray, name: str, parts_per_object: int = 12) -> Scene:
    """Objects are the connected components of ``classes``; parts split them along the photo's superpixels."""
    from skimage.segmentation import slic

    objects = np.zeros(classes.shape, np.int32)
    count = 0
    for value in np.unique(classes):
        found, components = cv2.connectedComponents((classes == value).astype(np.uint8), connectivity=4)
        objects[components > 0] = components[components > 0] + count
        count += found - 1
    superpixels = slic(photo, n_segments=parts_per_object * count, compactness=10, start_label=0)
    pairs = objects.astype(np.int64) * (superpixels.max() + 1) + superpixels
    parts = np.zeros(classes.shape, np.int32)
    total = 0
    for value in np.unique(pairs):
        found, components = cv2.connectedComponents((pairs == value).astype(np.uint8), connectivity=4)
        parts[components > 0] = components[components > 0] + total
        total += found - 1
    return Scene.from_ids(parts, objects, classes, name)


def fill_void(classes: np.ndarray, void: int = 255) -> np.ndarray:
    """VOC's void border pixels given the class of the nearest labelled pixel."""
    from scipy import ndimage

    unknown = classes == void
    if not unknown.any():
        return classes
    _, (rows, cols) = ndimage.distance_transform_edt(unknown, return_indices=True)
    return classes[rows, cols]


class _StandInModel(torch.nn.Module):
    """What ``SAM2MaskSource`` reads of a model: its input size and the device of its parameters."""

    image_size = _MODEL_SIZE

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1), requires_grad=False)


class KnownSegmentsPredictor:
    """Stand-in for sam2's ``SAM2ImagePredictor`` with known answers (see the module docstring).

    ``calls`` counts decoded points and ``embeddings`` images embedded, for checks on what was decoded.
    """

    def __init__(self) -> None:
        self.model = _StandInModel()
        self._transforms = SAM2Transforms(resolution=_MODEL_SIZE, mask_threshold=0.0)
        self.reset_predictor()
        self.points_decoded = 0
        self.embeddings = 0
        self.multimask_seen: set[bool] = set()

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def reset_predictor(self) -> None:
        self._features = None
        self._orig_hw = None
        self._is_image_set = False
        self._is_batch = False

    def set_image(self, image: np.ndarray) -> None:
        parts = image[..., 0].astype(np.int32) + 256 * image[..., 1].astype(np.int32)
        objects = image[..., 2].astype(np.int32)
        self._features = {"parts": parts, "objects": objects, "context": _longest_border_neighbours(objects)}
        self._orig_hw = [image.shape[:2]]
        self._is_image_set = True
        self.embeddings += 1

    def _predict(self, point_coords, point_labels, boxes=None, mask_input=None, multimask_output=True,
                 return_logits=False, img_idx=-1):
        features = self._features
        parts, objects = features["parts"], features["objects"]
        height, width = self._orig_hw[0]
        # sam2 hands the points over in its 1024 px model frame.
        xy = point_coords[:, 0, :].cpu().numpy() * np.array([width, height]) / _MODEL_SIZE
        cols = np.clip(xy[:, 0].astype(np.intp), 0, width - 1)
        rows = np.clip(xy[:, 1].astype(np.intp), 0, height - 1)
        kinds = ("part", "whole", "context") if multimask_output else ("whole",)
        masks = np.zeros((len(xy), len(kinds), height, width), dtype=bool)
        scores = np.zeros((len(xy), len(kinds)), dtype=np.float32)
        for index, (row, col) in enumerate(zip(rows, cols)):
            part, obj = parts[row, col], objects[row, col]
            for slot, kind in enumerate(kinds):
                if kind == "part":
                    masks[index, slot] = parts == part
                elif kind == "whole":
                    masks[index, slot] = objects == obj
                else:
                    masks[index, slot] = (objects == obj) | (objects == features["context"].get(int(obj), -1))
                scores[index, slot] = _SCORES[kind] + 0.04 * ((int(obj) * 7919 + slot * 104729) % 97) / 97
        self.points_decoded += len(xy)
        self.multimask_seen.add(bool(multimask_output))
        logits = torch.from_numpy(np.where(masks, _LOGIT, -_LOGIT).astype(np.float32))
        if not return_logits:
            logits = logits > 0
        low_res = torch.zeros((len(xy), len(kinds), 1, 1))
        return logits, torch.from_numpy(scores), low_res


def _longest_border_neighbours(objects: np.ndarray) -> dict[int, int]:
    """Each object's neighbour sharing the most 4-connected border pixels with it."""
    pairs = []
    for a, b in ((objects[:, :-1], objects[:, 1:]), (objects[:-1, :], objects[1:, :])):
        differ = a != b
        pairs.append(np.stack([a[differ], b[differ]], axis=1))
    edges = np.concatenate(pairs + [pair[:, ::-1] for pair in pairs])
    neighbours: dict[int, int] = {}
    if len(edges):
        unique, counts = np.unique(edges, axis=0, return_counts=True)
        for (obj, other), count in sorted(zip(map(tuple, unique), counts), key=lambda item: item[1]):
            neighbours[int(obj)] = int(other)  # ascending counts: the longest border is written last
    return neighbours


def known_segments_source(
    settings: refine.MaskGeneratorSettings | None = None, prompts: refine.PointPrompts | None = None
) -> tuple[refine.SAM2MaskSource, KnownSegmentsPredictor]:
    """A real ``SAM2MaskSource`` whose point prompts are answered by the stand-in; returns both."""
    predictor = KnownSegmentsPredictor()
    return refine.SAM2MaskSource(predictor.model, settings, prompts=prompts, predictor=predictor), predictor


def coarse_target(truth: np.ndarray, rng: np.random.Generator, patch: int = 16, noise: float = 0.3) -> np.ndarray:
    """A Stage-1-like coarse mask of ``truth``: decided per ``patch``-pixel cell, noisy, shifted, with a false blob.

    SCLIP decides per 16 px ViT patch of a window, so its masks are blocky around the object, lose or gain
    patches along the border and now and then inside (``noise``: the spread added to each patch's
    coverage before the 0.5 cut), are misplaced by a few pixels, and often hold a stray patch elsewhere.
    """
    height, width = truth.shape
    small = cv2.resize(truth.astype(np.float32), (max(1, width // patch), max(1, height // patch)),
                       interpolation=cv2.INTER_AREA)
    small = small + rng.normal(0, noise, size=small.shape)
    coarse = cv2.resize((small >= 0.5).astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
    shift = rng.integers(-patch // 2, patch // 2 + 1, size=2)
    coarse = np.roll(coarse, tuple(shift), axis=(0, 1))
    top, left = rng.integers(0, height - 2 * patch), rng.integers(0, width - 2 * patch)
    coarse[top : top + 2 * patch, left : left + 2 * patch] = True
    return coarse
