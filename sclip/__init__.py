"""Stage 1: SCLIP dense open-vocabulary segmentation on an open_clip ViT.

Settings, presets, vocabularies and errors import no torch; the model names load on first use
(PEP 562), so flag parsing and usage errors stay fast.
"""
from importlib import import_module

from .errors import SCLIPSettingsError, VocabularyError, WeightsNotFoundError
from .settings import (
    DEFAULT_MODEL, PIXEL_MEAN, PIXEL_STD, SCLIPSettings, check_feature_layers, default_cache_dir, preset_settings,
)
from .vocabulary import BACKGROUND_NAMES, Preset, Vocabulary, VocabularyPlan, build_vocabulary, load_preset, preset_names

_HEAVY = {
    "CSAImageEncoder": ".model",
    "LoadedCLIP": ".model",
    "correlative_self_attention": ".model",
    "load_clip": ".model",
    "SCLIPPrediction": ".segmenter",
    "SCLIPSegmenter": ".segmenter",
    "TextClassifier": ".text",
}


def __getattr__(name: str):
    if name in _HEAVY:
        value = getattr(import_module(_HEAVY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BACKGROUND_NAMES", "DEFAULT_MODEL", "PIXEL_MEAN", "PIXEL_STD", "Preset", "SCLIPSettings", "SCLIPSettingsError",
    "Vocabulary", "VocabularyError", "VocabularyPlan", "WeightsNotFoundError", "build_vocabulary",
    "check_feature_layers", "default_cache_dir", "load_preset", "preset_names", "preset_settings", *_HEAVY,
]

