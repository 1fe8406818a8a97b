"""SAM 3 concept segmentation: every instance of a text phrase, through transformers' ``Sam3Model``.

The settings, the default model id and the errors import without torch; the model code is loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import SAM3ModelNotFoundError, SAM3SettingsError
from .settings import DEFAULT_SAM3_MODEL, SAM3Settings

_LAZY = {
    "LoadedSAM3": "loading",
    "load_sam3": "loading",
    "PhraseResult": "segmenter",
    "SAM3Instance": "segmenter",
    "SAM3Result": "segmenter",
    "SAM3Segmenter": "segmenter",
    "upsample_mask": "masks",
}

__all__ = ["DEFAULT_SAM3_MODEL", "SAM3ModelNotFoundError", "SAM3Settings", "SAM3SettingsError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value
