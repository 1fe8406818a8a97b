"""What one run does, as settings objects: the single source of defaults and rules for every front end.

Nothing here imports torch: the command lines build their flags (and ``--help``) from these classes, and
each rule is checked here, once, when the object is built, whichever front end builds it. A rule's
message names fields as ``{field}`` (or ``{sam2.config}`` for a nested one) so that each front end can
say it in its own words: the command lines name the flag, the API the field.
The stage settings (``SCLIPSettings``, ``MaskGeneratorSettings``, ``InpaintSettings``, ``SAM3Settings``)
come from the stage packages' light modules and check their own fields.
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import refine
import sam3seg
import sclip

from .errors import UsageError

if TYPE_CHECKING:
    import inpaint

# The three ways in: SCLIP + SAM2 (dense), SAM2 proposals labelled by CLIP, SAM 3 concepts.
APPROACHES = ("sclip", "proposals", "sam3")
# Approaches whose targets are lists of instances (written to instances.json), not one dense mask.
INSTANCE_APPROACHES = ("proposals", "sam3")
# Stage-1 dense predictors of the SCLIP approach; a new one is added here and in ModelOptions' loader.
METHODS = ("sclip",)
EDIT_MODES = ("remove", "replace", "style")
MODES = ("segment",) + EDIT_MODES
INPAINTERS = ("diffusion", "opencv")
DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
ENGINES = ("local", "ray")


class SettingError(UsageError):
    """A setting has a value no run can use.

    ``setting`` names the field; ``message`` may name fields as ``{field}``, rendered by ``render``.
    """

    def __init__(self, setting: str, message: str):
        self.setting = setting
        self.template = message
        super().__init__(self.render(lambda name: name))

    def render(self, name_of: Callable[[str], str]) -> str:
        return re.sub(r"\{([\w.]+)\}", lambda match: name_of(match.group(1)), self.template)


def _choice(setting: str, value, choices) -> None:
    if value not in choices:
        raise SettingError(setting, f"unknown {{{setting}}} '{value}'; choose {', '.join(choices)}")


@dataclass(frozen=True)
class SAM2Options:
    """Which SAM2 to load (hub id, or a local checkpoint + config) and how to run its mask generator.

    New SAM2 options (prompting, margins) are fields here or in ``refine.MaskGeneratorSettings``.
    """

    model: str = refine.DEFAULT_SAM2_MODEL
    checkpoint: str | None = None
    config: str | None = None
    generator: refine.MaskGeneratorSettings = field(default_factory=lambda: refine.MaskGeneratorSettings())

    def __post_init__(self) -> None:
        if self.config and not self.checkpoint:
            raise SettingError("sam2.config", "{sam2.config} only applies together with {sam2.checkpoint} FILE")


@dataclass(frozen=True)
class SAM3Options:
    """Which SAM 3 to load (hub id or local save_pretrained folder) and its default settings."""

    model: str = sam3seg.DEFAULT_SAM3_MODEL
    settings: sam3seg.SAM3Settings = field(default_factory=sam3seg.SAM3Settings)


@dataclass(frozen=True)
class ModelOptions:
    """Which models a run loads, from where, on which device and in which precision.

    ``method`` is the Stage-1 dense predictor of the SCLIP approach; new inpainter options are fields
    beside ``inpainter`` / ``inpaint_model``.
    """

    model: str = sclip.DEFAULT_MODEL
    clip_weights: str | None = None
    method: str = "sclip"
    device: str = "auto"
    precision: str = "auto"
    feature_layers: tuple[int, ...] | None = None
    cache_dir: str | None = None  # text-embedding cache; None = the user cache folder
    no_cache: bool = False
    sam2: SAM2Options = field(default_factory=SAM2Options)
    sam3: SAM3Options = field(default_factory=SAM3Options)
    inpainter: str = "diffusion"
    inpaint_model: str | None = None

    def __post_init__(self) -> None:
        _choice("method", self.method, METHODS)
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        _choice("inpainter", self.inpainter, INPAINTERS)
        if self.feature_layers is not None:
            sclip.check_feature_layers(self.feature_layers, None if self.clip_weights else self.model)


@dataclass(frozen=True)
class RefineOptions:
    """Stage 2 of the dense approach: keep SAM2 masks that lie mostly on the SCLIP target."""

    enabled: bool = True
    min_coverage: float = 0.6
    all_classes: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_coverage) and 0.0 <= self.min_coverage <= 1.0):
            raise SettingError("min_coverage", f"{{min_coverage}} must lie in [0, 1], got {self.min_coverage}")


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
    sclip: sclip.SCLIPSettings | None = None
    refine: RefineOptions = field(default_factory=RefineOptions)
    top_k: int = 5
    sam3: sam3seg.SAM3Settings | None = None
    inpaint: inpaint.InpaintSettings | None = None
    outputs: OutputOptions = field(default_factory=OutputOptions)

    def __post_init__(self) -> None:
        _choice("approach", self.approach, APPROACHES)
        _choice("mode", self.mode, MODES)
        if not self.prompts or any(not prompt.strip() for prompt in self.prompts):
            raise SettingError("prompts", "{prompts} is empty; name the object to find, e.g. car")
        if self.mode in ("replace", "style") and not (self.edit and self.edit.strip()):
            raise SettingError("edit", f"{{mode}} {self.mode} needs {{edit}} TEXT describing what to paint")
        if self.preset and self.vocabulary:
            raise SettingError("preset", "{preset} and {vocabulary} both define the classes; pass only one")
        if self.preset and self.approach != "sclip":
            raise SettingError("preset", "{preset} belongs to the SCLIP approach; give the others {vocabulary}")
        if self.top_k < 1:
            raise SettingError("top_k", f"{{top_k}} must be at least 1, got {self.top_k}")

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


def check_together(run: RunOptions, models: ModelOptions) -> None:
    """The rules that join what a run does and the models it does it with."""
    if run.mode in ("replace", "style") and models.inpainter == "opencv":
        raise SettingError("inpainter", f"{{inpainter}} opencv can only remove; use {{inpainter}} diffusion for "
                                        f"{{mode}} {run.mode}")
    if run.mode != "segment" and run.inpaint is not None and models.inpainter == "diffusion":
        run.inpaint.check_mode(run.mode)


@dataclass(frozen=True)
class EngineOptions:
    """Where the per-image job runs; it never changes results, so result.json does not record it."""

    engine: str = "local"
    ray_address: str | None = None
    ray_workers: int | None = None
    ray_gpus_per_worker: float = 0.0

    def __post_init__(self) -> None:
        _choice("engine", self.engine, ENGINES)
        if not (math.isfinite(self.ray_gpus_per_worker) and self.ray_gpus_per_worker >= 0):
            raise SettingError("ray_gpus_per_worker", f"{{ray_gpus_per_worker}} must be 0 or more, got "
                                                      f"{self.ray_gpus_per_worker}")


@dataclass(frozen=True)
class ConsoleOptions:
    """How much a run says: quiet (errors only), verbose (a line per image), debug (tracebacks)."""

    quiet: bool = False
    verbose: bool = False
    debug: bool = False

    @property
    def level(self) -> int:
        import logging

        return logging.DEBUG if self.debug else logging.WARNING if self.quiet else logging.INFO


@dataclass(frozen=True)
class Job:
    """A whole batch as every front end hands it to the core: what to do, with which models, on which
    inputs, into which output (a folder, or a URI for the Ray engine), on which engine."""

    run: RunOptions
    output: Path | str
    models: ModelOptions = field(default_factory=ModelOptions)
    images: tuple[str, ...] = ()
    images_from: str | None = None  # a file of paths, "-" = stdin
    recursive: bool = False
    engine: EngineOptions = field(default_factory=EngineOptions)
    console: ConsoleOptions = field(default_factory=ConsoleOptions)

    def __post_init__(self) -> None:
        check_together(self.run, self.models)
        if not self.images and not self.images_from:
            raise SettingError("images", "no input images; pass {images} PATH (files, folders or globs) or "
                                         "{images_from} FILE")
        if isinstance(self.output, str) and self.engine.engine != "ray":
            raise SettingError("output", f"{{output}} {self.output}: a URI output needs {{engine}} ray; give a "
                                         "folder")


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
