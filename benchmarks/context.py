"""What every stage gets (device, precision, repeat policy, shared models) and what it hands back."""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from sclip import LoadedCLIP
from segedit.devices import precision_name

from .models import build_clip
from .timing import Timing, time_interleaved


def reduced_precision(device: torch.device) -> torch.dtype:
    """The precision a device runs fast: bf16 on the CPU (no fp16 kernels there), fp16 on GPUs."""
    return torch.bfloat16 if device.type == "cpu" else torch.float16


@dataclass(frozen=True)
class Target:
    """A pass/fail goal on one metric, e.g. ``sam_fast_speedup >= 4``."""

    key: str
    limit: float
    at_least: bool  # True: value >= limit passes; False: value <= limit passes

    def met(self, value: float) -> bool:
        return value >= self.limit if self.at_least else value <= self.limit

    @property
    def rule(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.limit:g}"


@dataclass
class StageResult:
    name: str
    timings: dict[str, tuple[Timing, str]] = field(default_factory=dict)  # name -> (timing, its precision)
    metrics: dict[str, object] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, timings: Mapping[str, Timing], precision: str | Mapping[str, str]) -> None:
        for name, timing in timings.items():
            self.timings[name] = (timing, precision if isinstance(precision, str) else precision[name])


@dataclass
class BenchContext:
    device: torch.device
    dtype: torch.dtype  # the precision asked for with --precision
    model: str
    repeat: int
    max_seconds: float
    work_dir: Path  # scratch space of this run (text cache), deleted afterwards
    seed: int = 0
    text_baseline_names: int = 16  # names the full-context text baseline encodes (see stage_text)
    finished: dict[str, StageResult] = field(default_factory=dict, repr=False)  # stages run so far, by name
    _clips: dict[torch.dtype, LoadedCLIP] = field(default_factory=dict, repr=False)

    @property
    def text_cache_dir(self) -> Path:
        return self.work_dir / "text-cache"

    def clip(self, dtype: torch.dtype | None = None) -> LoadedCLIP:
        """The CLIP model in ``dtype`` (default: the run's precision), built once; all precisions share weights."""
        dtype = dtype or self.dtype
        if dtype not in self._clips:
            if not self._clips:
                self._clips[torch.float32] = build_clip(self.model, self.device, torch.float32, self.seed)
            if dtype not in self._clips:
                base = self._clips[torch.float32]
                self._clips[dtype] = dataclasses.replace(base, model=copy.deepcopy(base.model).to(dtype))
        return self._clips[dtype]

    def time(self, tasks: Mapping[str, Callable[[], object]], warmup: bool = True) -> dict[str, Timing]:
        return time_interleaved(tasks, self.device, self.repeat, self.max_seconds, warmup)

    @property
    def precision(self) -> str:
        return precision_name(self.dtype)
