"""What one run does, as settings objects: the single source of defaults for the API and the CLIs.

Nothing here imports torch: the command lines build their flags (and ``--help``) from these classes.
The stage settings (``SCLIPSettings``, ``MaskGeneratorSettings``, ``InpaintSettings``) come from the
stage packages' light modules.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import refine
import sam3seg
import sclip

from .errors import UsageError

if TYPE_CHECKING:
    import inpaint

APPROACHES = ("sclip", "proposals", "sam3")
# Approaches whose targets are lists of instances (written to instances.json), not one dense mask.
INSTANCE_APPROACHES = ("proposals", "sam3")
EDIT_MODES = ("remove", "replace", "style")
MODES = ("segment",) + EDIT_MODES
INPAINTERS = ("diffusion", "opencv")


@dataclass(frozen=True)
class SAM2Options:
    """Which SAM2 to load (hub id, or a local checkpoint + config) and how to run its mask generator."""

    model: str = refine.DEFAULT_SAM2_MODEL
    checkpoint: str | None = None
    config: str | None = None
    generator: "refine.MaskGeneratorSettings" = field(default_factory=lambda: refine.MaskGeneratorSettings())


@dataclass(frozen=True)
class SAM3Options:
    """Which SAM 3 to load (hub id or local save_pretrained folder) and its default settings."""

    model: str = sam3seg.DEFAULT_SAM3_MODEL
    settings: sam3seg.SAM3Settings = field(default_factory=sam3seg.SAM3Settings)


@dataclass(frozen=True)
class ModelOptions:
    """Which models a run loads, from where, on which device and in which precision."""

    model: str = sclip.DEFAULT_MODEL
    clip_weights: str | None = None
    device: str = "auto"
    precision: str = "auto"
    feature_layers: tuple[int, ...] | None = None
    cache_dir: str | None = None  # text-embedding cache; None = the user cache folder
    no_cache: bool = False
    sam2: SAM2Options = field(default_factory=SAM2Options)
    sam3: SAM3Options = field(default_factory=SAM3Options)
    inpainter: str = "diffusion"
    inpaint_model: str | None = None


@dataclass(frozen=True)
class RefineOptions:
    """Stage 2 of the dense approach: keep SAM2 masks that lie mostly on the SCLIP target."""

    enabled: bool = True
    min_coverage: float = 0.6
    all_classes: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_coverage) and 0.0 <= self.min_coverage <= 1.0):
            raise SettingError("min_coverage", f"must lie in [0, 1], got {self.min_coverage}")


@dataclass(frozen=True)
class OutputOptions:
    visualize: bool = False
    save_probs: bool = False
    export_coco: Path | None = None
    skip_existing: bool = False
    max_side: int | None = None


@dataclass(frozen=True)
class RunOptions:
    """Everything that decides an image's results, besides the models."""

    approach: str
    prompts: tuple[str, ...]
    mode: str = "segment"
    edit: str | None = None
    vocabulary: tuple[str, ...] | None = None
    preset: str | None = None
    sclip: "sclip.SCLIPSettings | None" = None
    refine: RefineOptions = field(default_factory=RefineOptions)
    top_k: int = 5
    sam3: "sam3seg.SAM3Settings | None" = None
    inpaint: "inpaint.InpaintSettings | None" = None
    outputs: OutputOptions = field(default_factory=OutputOptions)

    @property
    def needs_sam2(self) -> bool:
        if self.approach == "sam3":
            return False
        return self.approach == "proposals" or self.refine.enabled or self.refine.all_classes

    @property
    def stages(self) -> tuple[str, ...]:
        """The models this run may use, whose identity decides its results."""
        if self.approach == "sam3":
            return ("sam3", "inpaint")
        return ("clip", "sam2", "inpaint")

    def to_json(self) -> dict[str, Any]:
        """The resolved settings, as result.json records them."""
        return _jsonable(dataclasses.asdict(self))


class SettingError(UsageError):
    """A setting has a value no run can use; ``setting`` names the field so the CLI can name the flag."""

    def __init__(self, setting: str, message: str):
        super().__init__(f"{setting}: {message}")
        self.setting = setting


def default(settings_class, name: str):
    """A settings dataclass field's default, so argparse and the API share one value."""
    spec = settings_class.__dataclass_fields__[name]
    if spec.default is not dataclasses.MISSING:
        return spec.default
    return spec.default_factory()


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value
