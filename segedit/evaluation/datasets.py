"""Benchmark datasets on disk: which image goes with which label PNG, and how labels become class indices.

Expected layouts, relative to DATA_ROOT (``<stem>`` is the sample id; "*" is any sub-folder):

``voc21`` / ``voc20`` — PASCAL VOC 2012 (DATA_ROOT may also be a parent holding ``VOC2012/`` or
``VOCdevkit/VOC2012/``)::

    JPEGImages/<stem>.jpg
    SegmentationClass/<stem>.png          palette PNG; pixel values are class indices 0..20, 255 = ignore
    ImageSets/Segmentation/val.txt        one stem per line

  voc21 keeps 0 = background (21 classes); voc20 ignores background and shifts 1..20 down to 0..19.

``context60`` / ``context59`` — PASCAL Context as converted by mmsegmentation (DATA_ROOT may also be a
parent holding ``VOC2010/`` or ``VOCdevkit/VOC2010/``)::

    JPEGImages/<stem>.jpg
    SegmentationClassContext/<stem>.png   0 = background, 1..59 = classes
    ImageSets/SegmentationContext/val.txt

  context60 keeps background (60 classes); context59 ignores it and shifts the rest down by one.

``coco_stuff`` / ``coco_object`` — COCO-Stuff 164k as converted by mmsegmentation (DATA_ROOT may also
be a parent holding ``coco_stuff164k/``)::

    images/val2017/<stem>.jpg
    annotations/val2017/<stem>_labelTrainIds.png      coco_stuff: 171 classes 0..170, 255 = ignore
    annotations/val2017/<stem>_instanceTrainIds.png   coco_object: 0 = background, objects 1..80, 255 = ignore

``cityscapes`` (DATA_ROOT may also be a parent holding ``cityscapes/``)::

    leftImg8bit/val/<city>/<stem>_leftImg8bit.png
    gtFine/val/<city>/<stem>_gtFine_labelTrainIds.png  19 classes 0..18, 255 = ignore

``ade20k`` — ADE20K SceneParsing (DATA_ROOT may also be a parent holding ``ADEChallengeData2016/`` or
``ade/ADEChallengeData2016/``)::

    images/validation/<stem>.jpg
    annotations/validation/<stem>.png     0 = other (ignored), 1..150 shifted down to 0..149

``generic`` — any other dataset::

    images/<stem>.jpg|.jpeg|.png
    labels/<stem>.png                     single-channel or palette PNG of class indices (RGB is an error)
    classes.txt                           line i names class i; several names may share a line, ", "-separated

  The ignore index is configurable (default 255); there is no label transform.

Datasets without a split file use every image in the image folder; every image needs a label and
every label an image.
"""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

DEFAULT_IGNORE_INDEX = 255
# PIL modes whose pixel values are the stored integers; "P" yields palette indices, not colours.
_INDEX_MODES = frozenset({"L", "P", "I", "I;16", "I;16L", "I;16B"})


class DatasetError(ValueError):
    """The dataset on disk is missing or malformed; the message is one line naming the expected file."""

    exit_code = 2  # a usage error: the --data-root or --dataset given does not fit


class LabelTransform(enum.Enum):
    """How raw label PNG values become class indices."""

    IDENTITY = "identity"
    # mmsegmentation's reduce_zero_label: value 0 is a catch-all "background/other", so it is
    # ignored and every real class moves down by one.
    REDUCE_ZERO_LABEL = "reduce_zero_label"

    def apply(self, raw: np.ndarray, ignore_index: int) -> np.ndarray:
        labels = raw.astype(np.int64)
        if self is LabelTransform.IDENTITY:
            return labels
        shifted = labels - 1
        shifted[(labels == 0) | (labels == ignore_index)] = ignore_index
        return shifted


@dataclass(frozen=True)
class Sample:
    image_path: Path
    label_path: Path
    stem: str


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's files lie and how to read its labels.

    Paths are relative to the dataset root; a "*" in a folder stands for one level of sub-folders.
    An image is ``<image_dir>/<stem><one of image_suffixes>``, its label ``<label_dir>/<stem><label_suffix>``.
    """

    name: str
    class_preset: str | None  # None: the class lines come from the dataset (generic)
    num_classes: int | None  # None: as many as class lines
    image_dir: str
    image_suffixes: tuple[str, ...]
    label_dir: str
    label_suffix: str
    split_file: str | None  # one stem per line; None: every image in image_dir
    ignore_index: int = DEFAULT_IGNORE_INDEX
    label_transform: LabelTransform = LabelTransform.IDENTITY
    root_subdirs: tuple[str, ...] = ("",)  # where under DATA_ROOT the layout may start, tried in order
    classes_file: str | None = None


_VOC2012 = dict(
    image_dir="JPEGImages",
    image_suffixes=(".jpg",),
    label_dir="SegmentationClass",
    label_suffix=".png",
    split_file="ImageSets/Segmentation/val.txt",
    root_subdirs=("", "VOC2012", "VOCdevkit/VOC2012"),
)
_CONTEXT = dict(
    image_dir="JPEGImages",
    image_suffixes=(".jpg",),
    label_dir="SegmentationClassContext",
    label_suffix=".png",
    split_file="ImageSets/SegmentationContext/val.txt",
    root_subdirs=("", "VOC2010", "VOCdevkit/VOC2010"),
)
_COCO164K = dict(
    image_dir="images/val2017",
    image_suffixes=(".jpg",),
    label_dir="annotations/val2017",
    split_file=None,
    root_subdirs=("", "coco_stuff164k"),
)

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("voc21", "voc21", 21, **_VOC2012),
        DatasetSpec("voc20", "voc20", 20, label_transform=LabelTransform.REDUCE_ZERO_LABEL, **_VOC2012),
        DatasetSpec("context60", "context60", 60, **_CONTEXT),
        DatasetSpec("context59", "context59", 59, label_transform=LabelTransform.REDUCE_ZERO_LABEL, **_CONTEXT),
        DatasetSpec("coco_stuff", "coco_stuff", 171, label_suffix="_labelTrainIds.png", **_COCO164K),
        DatasetSpec("coco_object", "coco_object", 81, label_suffix="_instanceTrainIds.png", **_COCO164K),
        DatasetSpec(
            "cityscapes",
            "cityscapes",
            19,
            image_dir="leftImg8bit/val/*",
            image_suffixes=("_leftImg8bit.png",),
            label_dir="gtFine/val/*",
            label_suffix="_gtFine_labelTrainIds.png",
            split_file=None,
            root_subdirs=("", "cityscapes"),
        ),
        DatasetSpec(
            "ade20k",
            "ade20k",
            150,
            image_dir="images/validation",
            image_suffixes=(".jpg",),
            label_dir="annotations/validation",
            label_suffix=".png",
            split_file=None,
            label_transform=LabelTransform.REDUCE_ZERO_LABEL,
            root_subdirs=("", "ADEChallengeData2016", "ade/ADEChallengeData2016"),
        ),
        DatasetSpec(
            "generic",
            None,
            None,
            image_dir="images",
            image_suffixes=(".jpg", ".jpeg", ".png"),
            label_dir="labels",
            label_suffix=".png",
            split_file=None,
            classes_file="classes.txt",
        ),
    )
}


@dataclass(frozen=True)
class Dataset:
    """An opened dataset: its samples in evaluation order plus what is needed to score them."""

    spec: DatasetSpec
    root: Path
    samples: tuple[Sample, ...]
    class_lines: tuple[str, ...] | None  # generic only; presets name their classes via spec.class_preset

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes if self.spec.num_classes is not None else len(self.class_lines or ())

    @property
    def ignore_index(self) -> int:
        return self.spec.ignore_index

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __len__(self) -> int:
        return len(self.samples)

    def load_label(self, sample: Sample) -> np.ndarray:
        return load_label(sample.label_path, self.spec)


def load_label(path: Path, spec: DatasetSpec) -> np.ndarray:
    """Read a label PNG as (H, W) int64 class indices with the dataset's mapping (ignored pixels = ignore index)."""
    try:
        with Image.open(path) as image:
            mode = image.mode
            raw = np.array(image) if mode in _INDEX_MODES else None
    except OSError as error:
        raise DatasetError(f"{spec.name}: cannot read label {path}: {error}") from error
    if raw is None:
        raise DatasetError(
            f"{spec.name}: label {path} is a {mode} image; expected a single-channel or palette PNG "
            "holding class indices (a colour rendering cannot be read as indices)"
        )
    return spec.label_transform.apply(raw, spec.ignore_index)


def open_dataset(name: str, data_root: str | Path, ignore_index: int | None = None) -> Dataset:
    """Find the dataset ``name`` under ``data_root`` and pair its images with labels.

    ``ignore_index`` overrides the default (255) for ``generic`` only; the benchmarks fix theirs.
    Raises DatasetError (one line) when the layout is missing or incomplete, ValueError for an
    unknown name or a misplaced ``ignore_index``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    spec = DATASETS[name]
    if ignore_index is not None:
        # A benchmark's ignore index is part of its definition (and of its label transform).
        if spec.class_preset is not None:
            raise ValueError(
                f"{name} has a fixed ignore index ({spec.ignore_index}); ignore_index is for 'generic' only"
            )
        spec = replace(spec, ignore_index=ignore_index)
    root = _find_root(spec, Path(data_root))
    class_lines = _read_class_lines(spec, root) if spec.classes_file else None
    for folder, what in ((spec.image_dir, "image folder"), (spec.label_dir, "label folder")):
        if not _fixed_prefix(root, folder).is_dir():
            raise DatasetError(f"{spec.name}: expected {_shown(folder)} ({what}), not found under {root}")
    samples = _samples_from_split(spec, root) if spec.split_file else _samples_from_folders(spec, root)
    logger.info("%s: %d samples under %s", spec.name, len(samples), root)
    return Dataset(spec, root, samples, class_lines)


def _find_root(spec: DatasetSpec, data_root: Path) -> Path:
    if not data_root.is_dir():
        raise DatasetError(f"{spec.name}: DATA_ROOT {data_root} is not a folder")
    # The split file (or else the image folder) identifies the layout; parents of it are accepted too.
    marker = spec.split_file or spec.image_dir
    candidates = [data_root / subdir if subdir else data_root for subdir in spec.root_subdirs]
    for candidate in candidates:
        if _fixed_prefix(candidate, marker).exists():
            return candidate
    also = f" (also looked under {', '.join(str(c) for c in candidates[1:])})" if len(candidates) > 1 else ""
    raise DatasetError(f"{spec.name}: expected {_shown(marker)}, not found under {data_root}{also}")


def _fixed_prefix(root: Path, relative: str) -> Path:
    """The part of ``root/relative`` before its first wildcard folder."""
    fixed = relative.split("*", 1)[0].rstrip("/")
    return root / fixed if fixed else root


def _shown(relative: str) -> str:
    return "DATA_ROOT/" + relative.replace("*", "<subfolder>")


def _read_class_lines(spec: DatasetSpec, root: Path) -> tuple[str, ...]:
    path = root / spec.classes_file
    if not path.is_file():
        raise DatasetError(
            f"{spec.name}: expected {_shown(spec.classes_file)} (one class per line), not found under {root}"
        )
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise DatasetError(f"{spec.name}: {path} lists no classes")
    if "" in lines:
        # A blank line in the middle would silently shift every later class index.
        raise DatasetError(
            f"{spec.name}: {path} line {lines.index('') + 1} is blank; line N must name class index N-1"
        )
    return tuple(lines)


def _samples_from_split(spec: DatasetSpec, root: Path) -> tuple[Sample, ...]:
    split_path = root / spec.split_file
    stems = [line.strip() for line in split_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not stems:
        raise DatasetError(f"{spec.name}: split file {split_path} lists no samples")
    samples = []
    without_image, without_label = [], []
    for stem in stems:
        image_path = _existing_image(spec, root, stem)
        label_path = root / spec.label_dir / f"{stem}{spec.label_suffix}"
        if image_path is None:
            without_image.append(stem)
        elif not label_path.is_file():
            without_label.append(stem)
        else:
            samples.append(Sample(image_path, label_path, stem))
    _raise_for_unpaired(spec, root, without_image, without_label)
    return tuple(samples)


def _existing_image(spec: DatasetSpec, root: Path, stem: str) -> Path | None:
    candidates = (root / spec.image_dir / f"{stem}{suffix}" for suffix in spec.image_suffixes)
    return next((path for path in candidates if path.is_file()), None)


def _samples_from_folders(spec: DatasetSpec, root: Path) -> tuple[Sample, ...]:
    images = _files_by_stem(spec, root, spec.image_dir, spec.image_suffixes)
    labels = _files_by_stem(spec, root, spec.label_dir, (spec.label_suffix,))
    if not images:
        raise DatasetError(
            f"{spec.name}: no images ({'/'.join(spec.image_suffixes)}) in {_shown(spec.image_dir)} under {root}"
        )
    _raise_for_unpaired(spec, root, sorted(labels.keys() - images.keys()), sorted(images.keys() - labels.keys()))
    return tuple(Sample(images[stem], labels[stem], stem) for stem in sorted(images))


def _files_by_stem(spec: DatasetSpec, root: Path, folder: str, suffixes: tuple[str, ...]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in sorted(root.glob(f"{folder}/*")):
        lowered = path.name.lower()
        suffix = next((s for s in suffixes if lowered.endswith(s.lower()) and len(lowered) > len(s)), None)
        if suffix is None or not path.is_file():
            continue
        stem = path.name[: -len(suffix)]
        if stem in files:
            raise DatasetError(f"{spec.name}: two files for stem '{stem}': {files[stem]} and {path}")
        files[stem] = path
    return files


def _raise_for_unpaired(spec: DatasetSpec, root: Path, without_image: list[str], without_label: list[str]) -> None:
    for stems, folder, suffixes, partner in (
        (without_image, spec.image_dir, spec.image_suffixes, "image"),
        (without_label, spec.label_dir, (spec.label_suffix,), "label"),
    ):
        if stems:
            expected = " or ".join(f"{stems[0]}{suffix}" for suffix in suffixes)
            more = f" ({len(stems) - 1} more stems lack one too)" if len(stems) > 1 else ""
            raise DatasetError(
                f"{spec.name}: no {partner} for '{stems[0]}': "
                f"expected {expected} in {_shown(folder)} under {root}{more}"
            )
