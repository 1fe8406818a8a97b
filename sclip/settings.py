"""SCLIP's settings and light constants; imports no torch, so parsing flags and usage errors stay fast."""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import platformdirs

from .errors import SCLIPSettingsError
from .vocabulary import load_preset

DEFAULT_MODEL = "ViT-L-14"
PRETRAINED_TAG = "openai"

# CLIP's normalisation in 0-255 units (OpenAI mean/std × 255), as SCLIP's data preprocessor uses.
PIXEL_MEAN = (122.771, 116.746, 104.094)
PIXEL_STD = (68.501, 66.632, 70.323)


def default_cache_dir() -> Path:
    """Per-user text-embedding cache folder; platformdirs honours XDG_CACHE_HOME on Linux."""
    return Path(platformdirs.user_cache_dir("sclip-edit")) / "text-embeddings"


@dataclass(frozen=True)
class SCLIPSettings:
    """Inference settings; defaults are SCLIP's generic ones (presets override some)."""

    short_side: int = 336
    slide_crop: int = 224
    slide_stride: int = 112
    logit_scale: float = 40.0
    prob_thd: float = 0.0
    area_thd: float | None = None
    pamr_steps: int = 0
    window_batch: int = 16

    def __post_init__(self):
        if not (_is_number(self.logit_scale) and math.isfinite(self.logit_scale) and self.logit_scale > 0):
            raise SCLIPSettingsError(
                "logit_scale", f"logit scale must be a finite number > 0, got {self.logit_scale!r}"
            )
        if not (_is_number(self.prob_thd) and 0 <= self.prob_thd <= 1):  # NaN fails the comparison too
            raise SCLIPSettingsError("prob_thd", f"probability threshold must lie in [0, 1], got {self.prob_thd!r}")
        if self.area_thd is not None and not (_is_number(self.area_thd) and 0 <= self.area_thd <= 1):
            raise SCLIPSettingsError(
                "area_thd", f"area threshold must lie in [0, 1] or be unset, got {self.area_thd!r}"
            )
        for name in ("short_side", "slide_crop", "slide_stride", "window_batch"):
            _require_int(name, getattr(self, name), minimum=1)
        _require_int("pamr_steps", self.pamr_steps, minimum=0)

    def to_json(self) -> dict:
        return asdict(self)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _require_int(name: str, value, minimum: int) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise SCLIPSettingsError(name, f"{name.replace('_', ' ')} must be an integer >= {minimum}, got {value!r}")


def preset_settings(name: str, **overrides) -> SCLIPSettings:
    """A benchmark preset's settings with every override that is not None applied on top."""
    preset = load_preset(name)
    values = dict(
        short_side=preset.short_side, logit_scale=preset.logit_scale, prob_thd=preset.prob_thd,
        area_thd=preset.area_thd,
    )
    values.update({key: value for key, value in overrides.items() if value is not None})
    return SCLIPSettings(**values)


def check_feature_layers(
    feature_layers: Sequence[int] | None, model_name: str | None = None, depth: int | None = None
) -> list[int]:
    """Sorted, de-duplicated 1-based block indices, checked before any weights load.

    The upper bound is ``depth`` when given, else the vision depth of the named open_clip model;
    for a name open_clip does not know (a checkpoint file decides the architecture) only >= 1 is checked.
    Returns [] for None or an empty list (meaning: the last block).
    """
    if not feature_layers:
        return []
    layers = sorted(set(feature_layers))
    if any(not isinstance(layer, numbers.Integral) or isinstance(layer, bool) for layer in layers):
        raise SCLIPSettingsError("feature_layers", f"feature layers must be integers, got {list(feature_layers)}")
    if depth is None and model_name is not None:
        depth = _vision_depth(model_name)
    if layers[0] < 1 or (depth is not None and layers[-1] > depth):
        bound = f"1..{depth}" if depth is not None else ">= 1"
        where = f" for {model_name}" if model_name else ""
        raise SCLIPSettingsError(
            "feature_layers", f"feature layers must lie in {bound}{where}, got {list(feature_layers)}"
        )
    return layers


def _vision_depth(model_name: str) -> int | None:
    import open_clip  # only after flag parsing; its config table is local and cheap

    if model_name not in open_clip.list_models():  # hub / local-dir schemas would need I/O
        return None
    layers = (open_clip.get_model_config(model_name) or {}).get("vision_cfg", {}).get("layers")
    return layers if isinstance(layers, int) else None
