"""Settings and results of one edit, and the interface every inpainter offers."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol

import numpy as np

from inpaint.errors import SettingsError
from inpaint.modes import DEFAULT_STRENGTH, MODES, check_mode

# stabilityai/stable-diffusion-2-inpainting was deleted from the Hugging Face hub in November 2025; this
# community mirror holds the same weights and is what other projects switched to.
DEFAULT_INPAINT_MODEL = "sd2-community/stable-diffusion-2-inpainting"

# LaMa (big-lama, Apache-2.0) as TorchScript on the Hugging Face hub: repository and the file names tried in it.
DEFAULT_LAMA_WEIGHTS = "JosephCatrambone/big-lama-torchscript"
LAMA_FILE_NAMES: tuple[str, ...] = ("big-lama.pt", "lama.pt")

# Editing methods: diffusion (any supported family; every mode), lama and opencv (remove only, no prompt).
INPAINTERS: tuple[str, ...] = ("diffusion", "lama", "opencv")
REMOVE_ONLY: tuple[str, ...] = ("lama", "opencv")

# Stable Diffusion's step count, used where no model family is known yet.
DEFAULT_STEPS = 50

# Scheduler choices by name -> diffusers class, built from the model's own scheduler config.
# DPM-Solver++ reaches comparable quality in about 20-25 steps instead of 50.
SCHEDULERS: dict[str, str] = {"dpm++": "DPMSolverMultistepScheduler"}


@dataclass
class InpaintSettings:
    """How to run one edit.

    ``steps`` and ``guidance`` None take the model family's defaults (Stable Diffusion: 50 steps, guidance 7.5;
    FLUX.1 Fill: 50 steps, guidance 30, an embedded value rather than a classifier-free weight; see
    ``inpaint.families``), and the result records what ran. ``strength`` None picks the mode's default (1.0 for remove/replace, 0.6 for style). ``seed`` None draws a
    fresh seed, which the result reports so the run can be repeated. ``negative_prompt`` is appended to the
    mode's own negative prompt. The mask is grown by ``mask_dilate`` pixels and its edge feathered over
    ``mask_blur`` pixels. ``scheduler`` None runs the model's own scheduler; ``"dpm++"`` allows fewer steps
    (the loaded pipeline swaps schedulers per edit, nothing is reloaded). ``low_vram`` offloads idle sub-models to
    the CPU on CUDA (switched on at the first edit that asks); OpenCV removal ignores all but the mask settings.
    """

    steps: int | None = None
    guidance: float | None = None
    strength: float | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    mask_dilate: int = 5
    mask_blur: int = 8
    scheduler: str | None = None
    low_vram: bool = False

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise SettingsError("steps", f"steps must be at least 1, got {self.steps}")
        if self.guidance is not None and (not math.isfinite(self.guidance) or self.guidance < 0):
            raise SettingsError("guidance", f"guidance must be a finite number >= 0, got {self.guidance}")
        if self.strength is not None and not 0.0 < self.strength <= 1.0:
            raise SettingsError("strength", f"strength must be in (0, 1], got {self.strength}")
        if self.seed is not None and not 0 <= self.seed < 2**64:
            raise SettingsError("seed", f"seed must be in [0, 2**64), got {self.seed}")
        for name in ("mask_dilate", "mask_blur"):
            if getattr(self, name) < 0:
                raise SettingsError(name, f"{name} must be 0 or more pixels, got {getattr(self, name)}")
        if self.scheduler is not None and self.scheduler not in SCHEDULERS:
            raise SettingsError(
                "scheduler", f"unknown scheduler {self.scheduler!r}; expected one of: {', '.join(SCHEDULERS)}"
            )

    def check_mode(self, mode: str, default_steps: int = DEFAULT_STEPS, max_strength: float = 1.0) -> None:
        """Raise before any image is touched if the diffusion inpainter cannot edit in ``mode`` with these settings.

        Diffusers' inpainting pipelines (``get_timesteps``) run only the last ``min(int(steps * strength), steps)``
        of the ``steps`` timesteps; where that is 0 every image would fail, so the error names ``steps``.
        ``default_steps`` stands in for ``steps`` None and ``max_strength`` caps a default strength (the family's
        values; Stable Diffusion's before a model is known).
        """
        check_mode(mode, MODES, "the diffusion inpainter")
        strength = self.strength_for(mode, max_strength)
        steps = self.steps if self.steps is not None else default_steps
        if _denoising_steps(steps, strength) < 1:
            needed = math.ceil(1 / strength)
            while _denoising_steps(needed, strength) < 1:  # int() of a float product may fall just short
                needed += 1
            raise SettingsError(
                "steps",
                f"{steps} steps at strength {strength} ({mode}) leave no denoising step, since only "
                f"int(steps * strength) of them run; use at least {needed} steps",
            )

    def strength_for(self, mode: str, max_strength: float = 1.0) -> float:
        """The strength to run: the explicit one, else the mode's default capped at the family's ``max_strength``."""
        return self.strength if self.strength is not None else min(DEFAULT_STRENGTH[mode], max_strength)


def _denoising_steps(steps: int, strength: float) -> int:
    return min(int(steps * strength), steps)


@dataclass(kw_only=True)  # keyword-only, so the fields a method has no use for can default to None
class EditResult:
    """An edited image plus everything needed to record and reproduce the edit.

    Fields that do not apply to a method (prompts, seed, steps... for OpenCV removal) are None.
    ``crop_box`` is the (x0, y0, x1, y1) window the method worked on, in input pixels.
    """

    image: np.ndarray
    mode: str
    model: str
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    strength: float | None = None
    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None
    crop_box: tuple[int, int, int, int]
    seconds: float
    dtype: str | None = None  # torch dtype the model ran in ("float16", "float32", ...); None without a model
    inpainter: str | None = None  # "diffusion", "lama" or "opencv"
    family: str | None = None  # diffusion model family ("sd", "flux-fill", ...; see inpaint.families)
    pipeline: str | None = None  # diffusers pipeline class that ran, e.g. "FluxFillPipeline"

    def metadata(self) -> dict[str, Any]:
        """Every field but the image, as JSON-ready values."""
        record = {field.name: getattr(self, field.name) for field in fields(self) if field.name != "image"}
        record["crop_box"] = list(self.crop_box)
        return record


@dataclass(frozen=True)
class InpainterOptions:
    """Which editing method to build, from which weights: what a front end turns its flags into.

    ``kind`` is one of ``INPAINTERS``. ``model`` (diffusion only) is a hub id or a local save_pretrained folder,
    None meaning ``DEFAULT_INPAINT_MODEL``; ``lama_weights`` (lama only) is a TorchScript file, a folder holding
    one, or a hub repository holding one, None meaning ``DEFAULT_LAMA_WEIGHTS``. ``low_vram`` (diffusion only)
    offloads idle sub-models to the CPU on CUDA. Every refusal is a one-line SettingsError naming the field.
    """

    kind: str = "diffusion"
    model: str | None = None
    lama_weights: str | None = None
    low_vram: bool = False

    def __post_init__(self) -> None:
        if self.kind not in INPAINTERS:
            raise SettingsError("kind", f"unknown inpainter {self.kind!r}; expected one of: {', '.join(INPAINTERS)}")
        for name, owner in (("model", "diffusion"), ("lama_weights", "lama")):
            value = getattr(self, name)
            if value is not None and not str(value).strip():
                raise SettingsError(name, f"{name} is empty; give a path or a hub id, or leave it unset")
            if value is not None and self.kind != owner:
                raise SettingsError(name, f"{name} applies only to the {owner} inpainter, not to {self.kind}")
        if self.low_vram and self.kind != "diffusion":
            raise SettingsError("low_vram", f"low_vram applies only to the diffusion inpainter, not to {self.kind}")

    def check_mode(self, mode: str) -> None:
        """Raise SettingsError (one line, field ``kind``) if this method cannot edit in ``mode``."""
        if mode not in MODES:
            raise SettingsError("mode", f"unknown edit mode {mode!r}; expected one of: {', '.join(MODES)}")
        if self.kind in REMOVE_ONLY and mode != "remove":
            raise SettingsError(
                "kind", f"the {self.kind} inpainter can only remove (it takes no prompt); use diffusion for {mode}"
            )

    @property
    def weights(self) -> str | None:
        """The model or weights this method loads, defaults filled in (None for OpenCV, which needs none)."""
        if self.kind == "diffusion":
            return self.model or DEFAULT_INPAINT_MODEL
        if self.kind == "lama":
            return self.lama_weights or DEFAULT_LAMA_WEIGHTS
        return None


class Inpainter(Protocol):
    """What the orchestration needs from an editing method."""

    supported_modes: ClassVar[tuple[str, ...]]

    def describe(self) -> dict[str, Any]:
        """The method's identity for result.json (inpainter, inpaint_model, and the family/pipeline if any)."""
        ...

    def edit(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        mode: str,
        target: str,
        edit: str | None = None,
        settings: InpaintSettings | None = None,
    ) -> EditResult: ...
