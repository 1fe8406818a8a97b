"""Light constants and settings of the SAM2 stage; importing this module never imports torch or sam2."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from .errors import SAM2SettingsError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class SAM2Release:
    """Where a released SAM2 model lives: the sam2 config that builds it and the file in its hub repo."""

    config: str
    filename: str


# Keyed by hub id, like sam2's own HF_MODEL_ID_TO_FILENAMES.
SAM2_MODELS: dict[str, SAM2Release] = {
    "facebook/sam2.1-hiera-tiny": SAM2Release("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt"),
    "facebook/sam2.1-hiera-small": SAM2Release("configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt"),
    "facebook/sam2.1-hiera-base-plus": SAM2Release("configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt"),
    "facebook/sam2.1-hiera-large": SAM2Release("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt"),
}
DEFAULT_SAM2_MODEL = "facebook/sam2.1-hiera-tiny"

# Each point's three candidate masks are upsampled to the working size before filtering: 64 points
# peaked at 3.3 GB RSS, 16 at 1.9 GB, in the same time on a CPU (tiny-weights Hiera-tiny, 1024-px side).
_CPU_POINTS_PER_BATCH = 16
# Below this the 256x256 mask logits would be thrown away rather than used.
_MIN_SAM_MAX_SIDE = 64


@dataclass(frozen=True)
class MaskGeneratorSettings:
    """Settings of SAM2's automatic mask generator.

    The defaults are the reference system's (32x32 points, IoU 0.88, stability 0.95; sam2's own
    defaults otherwise). ``points_per_batch=None`` picks 16 on CPU, where bigger batches only cost
    memory, and on CUDA as many points as free GPU memory holds (the whole grid on an 80 GB card).
    ``min_mask_region_area > 0`` removes islands and fills holes smaller than that many pixels of the
    original image (with OpenCV, as SAM does). ``multimask_output=False`` asks SAM2 for one mask per
    point instead of three (CorrCLIP's setting, ``sparse()``).

    ``sam_max_side`` is the longest side SAM2 works at. SAM2 encodes every image at 1024x1024 and
    predicts 256x256 mask logits, so a larger photo gains no detail from being processed at full size,
    while sam2's generator would upsample every candidate mask to that size before filtering it (a
    4000x3000 photo took 52 s and 10.6 GB for one 64-point batch). Larger photos are shrunk to this
    side for SAM2, and only the masks that are used are brought back to full size.
    """

    points_per_side: int = 32
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    points_per_batch: int | None = None
    crop_n_layers: int = 0
    min_mask_region_area: int = 0
    sam_max_side: int = 1024
    multimask_output: bool = True

    def __post_init__(self) -> None:
        self._require("points_per_side", self.points_per_side >= 1, "must be at least 1")
        for name in ("pred_iou_thresh", "stability_score_thresh"):
            self._require(name, 0.0 <= getattr(self, name) <= 1.0, "must lie within [0, 1]")
        self._require(
            "points_per_batch", self.points_per_batch is None or self.points_per_batch >= 1, "must be at least 1"
        )
        for name in ("crop_n_layers", "min_mask_region_area"):
            self._require(name, getattr(self, name) >= 0, "must not be negative")
        self._require("sam_max_side", self.sam_max_side >= _MIN_SAM_MAX_SIDE, f"must be at least {_MIN_SAM_MAX_SIDE}")

    def _require(self, name: str, valid: bool, rule: str) -> None:
        if not valid:
            raise SAM2SettingsError(name, f"{name} {rule}, got {getattr(self, name)}")

    @classmethod
    def fast(cls) -> MaskGeneratorSettings:
        """CPU preset: a 12x12 grid decodes 144 instead of 1024 point prompts.

        The mask decoder dominates the cost, so this is ~6.5x faster than 32x32 on CPU (Hiera-tiny,
        512x512 photo, 2 threads: 26 s against 172 s). It finds large and medium objects but misses
        small parts that no grid point lands on.
        """
        return cls(points_per_side=12)

    @classmethod
    def sparse(cls) -> MaskGeneratorSettings:
        """CorrCLIP's setting (ICCV 2025): an 8x8 grid, one mask per point, IoU and stability thresholds 0.4.

        64 decoder prompts with one mask each instead of 1024 with three; CorrCLIP reports 0.6-0.7 mIoU
        lost against 32x32 over eight benchmarks. The low thresholds keep the fewer masks it makes.
        """
        return cls(points_per_side=8, pred_iou_thresh=0.4, stability_score_thresh=0.4, multimask_output=False)

    @classmethod
    def named(cls, name: str) -> MaskGeneratorSettings:
        """The named grid setting ``name`` (one of ``GRID_SETTINGS``: default, fast, sparse)."""
        if name not in GRID_SETTINGS:
            raise SAM2SettingsError("grid", f"unknown SAM2 grid setting {name!r}; choose {', '.join(GRID_SETTINGS)}")
        return getattr(cls, GRID_SETTINGS[name])() if GRID_SETTINGS[name] else cls()

    @property
    def name(self) -> str | None:
        """Which named grid setting these are, ignoring batch size and working size; None for a custom grid."""
        for name in GRID_SETTINGS:
            named = MaskGeneratorSettings.named(name)
            if replace(named, points_per_batch=self.points_per_batch, sam_max_side=self.sam_max_side) == self:
                return name
        return None

    def with_points_per_batch_for(self, device: torch.device) -> MaskGeneratorSettings:
        """These settings with ``points_per_batch`` resolved for a CPU; on CUDA it stays None (sized per call)."""
        if self.points_per_batch is not None or device.type == "cuda":
            return self
        return replace(self, points_per_batch=_CPU_POINTS_PER_BATCH)


# Name -> MaskGeneratorSettings classmethod that makes it ("" = the defaults).
GRID_SETTINGS = {"default": "", "fast": "fast", "sparse": "sparse"}

PointsMode = Literal["guided", "grid"]
POINTS_MODES = ("guided", "grid")
# The default margin around the coarse target, as a fraction of the photo's longer side (2/3 of a 32x32
# grid cell); chosen from the guided-vs-full-grid measurement in benchmarks/README.md ("Guided prompts"):
# the smallest measured margin at which every case kept the same masks as the full grid (at 0 one case
# kept fewer; every margin reached IoU >= 0.98), with each larger one decoding many more points.
DEFAULT_MARGIN = 0.02


@dataclass(frozen=True)
class PointPrompts:
    """Which of the grid's points SAM2 decodes for a target.

    ``guided`` decodes only the grid points lying inside a target's coarse mask grown by ``margin``
    (a fraction of the photo's longer side), the same positions the full grid has, so their masks are
    the ones the full grid would make there; calls without targets still decode the whole grid.
    ``grid`` always decodes the whole grid.
    """

    mode: PointsMode = "guided"
    margin: float = DEFAULT_MARGIN

    def __post_init__(self) -> None:
        if self.mode not in POINTS_MODES:
            raise SAM2SettingsError("mode", f"mode must be one of {', '.join(POINTS_MODES)}, got {self.mode!r}")
        if not (isinstance(self.margin, (int, float)) and math.isfinite(self.margin) and 0 <= self.margin <= 1):
            raise SAM2SettingsError("margin", f"margin must lie within [0, 1] (of the longer side), got {self.margin}")
