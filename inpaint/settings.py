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

# Scheduler choices by name -> diffusers class, built from the model's own scheduler config.
# DPM-Solver++ reaches comparable quality in about 20-25 steps instead of 50.
SCHEDULERS: dict[str, str] = {"dpm++": "DPMSolverMultistepScheduler"}


@dataclass
class InpaintSettings:
    """How to run one edit.

    ``strength`` None picks the mode's default (1.0 for remove/replace, 0.6 for style). ``seed`` None draws a
    fresh seed, which the result reports so the run can be repeated. ``negative_prompt`` is appended to the
    mode's own negative prompt. The mask is grown by ``mask_dilate`` pixels and its edge feathered over
    ``mask_blur`` pixels. ``scheduler`` None runs the model's own scheduler; ``"dpm++"`` allows fewer steps
    (the loaded pipeline swaps schedulers per edit, nothing is reloaded). ``low_vram`` offloads idle sub-models to
    the CPU on CUDA (switched on at the first edit that asks); OpenCV removal ignores all but the mask settings.
    """

    steps: int = 50
    guidance: float = 7.5
    strength: float | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    mask_dilate: int = 5
    mask_blur: int = 8
    scheduler: str | None = None
    low_vram: bool = False

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise SettingsError("steps", f"steps must be at least 1, got {self.steps}")
        if not math.isfinite(self.guidance) or self.guidance < 0:
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

    def check_mode(self, mode: str) -> None:
        """Raise before any image is touched if the diffusion inpainter cannot edit in ``mode`` with these settings.

        Diffusers' inpainting pipelines (``get_timesteps``) run only the last ``min(int(steps * strength), steps)``
        of the ``steps`` timesteps; where that is 0 every image would fail, so the error names ``steps``.
        """
        check_mode(mode, MODES, "the diffusion inpainter")
        strength = self.strength_for(mode)
        if _denoising_steps(self.steps, strength) < 1:
            needed = math.ceil(1 / strength)
            while _denoising_steps(needed, strength) < 1:  # int() of a float product may fall just short
                needed += 1
            raise SettingsError(
                "steps",
                f"{self.steps} steps at strength {strength} ({mode}) leave no denoising step, since only "
                f"int(steps * strength) of them run; use at least {needed} steps",
            )

    def strength_for(self, mode: str) -> float:
        return self.strength if self.strength is not None else DEFAULT_STRENGTH[mode]


def _denoising_steps(steps: int, strength: float) -> int:
    return min(int(steps * strength), steps)


@dataclass
class EditResult:
    """An edited image plus everything needed to record and reproduce the edit.

    Fields that do not apply to a method (prompts, seed, steps... for OpenCV removal) are None.
    ``crop_box`` is the (x0, y0, x1, y1) window the method worked on, in input pixels.
    """

    image: np.ndarray
    mode: str
    model: str
    prompt: str | None
    negative_prompt: str | None
    seed: int | None
    strength: float | None
    steps: int | None
    guidance: float | None
    scheduler: str | None
    crop_box: tuple[int, int, int, int]
    seconds: float
    dtype: str | None = None  # torch dtype the model ran in ("float16", "float32", ...); None without a model

    def metadata(self) -> dict[str, Any]:
        """Every field but the image, as JSON-ready values."""
        record = {field.name: getattr(self, field.name) for field in fields(self) if field.name != "image"}
        record["crop_box"] = list(self.crop_box)
        return record


class Inpainter(Protocol):
    """What the orchestration needs from an editing method."""

    supported_modes: ClassVar[tuple[str, ...]]

    def edit(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        mode: str,
        target: str,
        edit: str | None = None,
        settings: InpaintSettings | None = None,
    ) -> EditResult: ...
