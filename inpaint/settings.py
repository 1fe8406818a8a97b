"""Settings and results of one edit, and the interface every inpainter offers."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol

import numpy as np

from inpaint.modes import DEFAULT_STRENGTH

# Scheduler choices by name -> diffusers class, built from the model's own scheduler config.
# DPM-Solver++ reaches comparable quality in about 20-25 steps instead of 50.
SCHEDULERS: dict[str, str] = {"dpm++": "DPMSolverMultistepScheduler"}


@dataclass
class InpaintSettings:
    """How to run one edit.

    ``strength`` None picks the mode's default (1.0 for remove/replace, 0.6 for style). ``seed`` None draws a
    fresh seed, which the result reports so the run can be repeated. ``negative_prompt`` is appended to the
    mode's own negative prompt. The mask is grown by ``mask_dilate`` pixels and its edge feathered over
    ``mask_blur`` pixels. ``scheduler`` None keeps the inpainter's scheduler (the model's own unless the
    inpainter was built with another); ``"dpm++"`` allows fewer steps. ``low_vram`` offloads idle sub-models to
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
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.guidance < 0:
            raise ValueError(f"guidance must be non-negative, got {self.guidance}")
        if self.strength is not None and not 0.0 < self.strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {self.strength}")
        if self.seed is not None and not 0 <= self.seed < 2**64:
            raise ValueError(f"seed must be in [0, 2**64), got {self.seed}")
        if self.mask_dilate < 0 or self.mask_blur < 0:
            raise ValueError(
                f"mask_dilate and mask_blur must be non-negative, got {self.mask_dilate}, {self.mask_blur}"
            )
        if self.scheduler is not None and self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}; expected one of: {', '.join(SCHEDULERS)}")

    def check_mode(self, mode: str) -> None:  # INTERIM until the inpaint-eval branch lands
        pass

    def strength_for(self, mode: str) -> float:
        return self.strength if self.strength is not None else DEFAULT_STRENGTH[mode]


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
