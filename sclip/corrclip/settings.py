"""CorrCLIP's settings, weights defaults and benchmark presets; imports no torch, so flag parsing stays fast."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import SCLIPSettingsError
from ..settings import _is_number, _require_int
from ..vocabulary import Vocabulary

# CorrCLIP's defaults: MetaCLIP (2.5B, "fullcc") ViT-B/16 with QuickGELU, as every one of its configs uses.
DEFAULT_CLIP_MODEL = "ViT-B-16-quickgelu"
DEFAULT_CLIP_PRETRAINED = "metaclip_fullcc"
PAD_MULTIPLE = 56  # windows are padded to multiples of 56 (a common multiple of DINO's 8 and 14·4)

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets" / "corrclip"
NAME_SEPARATOR = "; "  # CorrCLIP splits a class line on "; " only: a comma inside a name does not separate


@dataclass(frozen=True)
class CorrCLIPSettings:
    """Inference settings; defaults are CorrCLIP's (no config sets logit_scale: 40 everywhere)."""

    short_side: int = 336
    slide_crop: int = 336
    slide_stride: int = 112
    logit_scale: float = 40.0
    prob_thd: float = 0.0

    def __post_init__(self):
        if not (_is_number(self.logit_scale) and math.isfinite(self.logit_scale) and self.logit_scale > 0):
            raise SCLIPSettingsError("logit_scale", f"logit scale must be a finite number > 0, got {self.logit_scale!r}")
        if not (_is_number(self.prob_thd) and 0 <= self.prob_thd <= 1):  # NaN fails the comparison too
            raise SCLIPSettingsError("prob_thd", f"probability threshold must lie in [0, 1], got {self.prob_thd!r}")
        for name in ("short_side", "slide_crop", "slide_stride"):
            _require_int(name, getattr(self, name), minimum=1)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CorrCLIPPreset:
    name: str
    vocabulary: Vocabulary
    settings: CorrCLIPSettings


@lru_cache(maxsize=None)
def _preset_table() -> dict:
    table = json.loads((PRESET_DIR / "presets.json").read_text())
    table.pop("_comment", None)
    return table


def corrclip_preset_names() -> list[str]:
    return sorted(_preset_table())


def split_corrclip_names(line: str) -> tuple[str, ...]:
    """A class line as CorrCLIP reads it: split on '; ', nothing stripped but the line break."""
    return tuple(line.rstrip("\n").split(NAME_SEPARATOR))


def load_corrclip_preset(name: str) -> CorrCLIPPreset:
    """A benchmark's CorrCLIP class names and settings (``--preset NAME`` with the CorrCLIP method)."""
    table = _preset_table()
    if name not in table:
        raise SCLIPSettingsError("preset", f"unknown preset '{name}'; available: {', '.join(corrclip_preset_names())}")
    values = dict(table[name])
    background = values.pop("background", False)
    # split("\n"), not splitlines(): the files keep CorrCLIP's exact names, trailing spaces included ("wood ")
    lines = (PRESET_DIR / f"{name}.txt").read_text().split("\n")
    vocabulary = Vocabulary(tuple(split_corrclip_names(line) for line in lines), background)
    return CorrCLIPPreset(name=name, vocabulary=vocabulary, settings=CorrCLIPSettings(**values))


def corrclip_preset_settings(name: str, **overrides) -> CorrCLIPSettings:
    """A preset's settings with every override that is not None applied on top."""
    values = asdict(load_corrclip_preset(name).settings)
    values.update({key: value for key, value in overrides.items() if value is not None})
    return CorrCLIPSettings(**values)
