"""Stage 1: SCLIP dense open-vocabulary segmentation on an open_clip ViT."""
from .errors import WeightsNotFoundError
from .model import DEFAULT_MODEL, CSAImageEncoder, LoadedCLIP, correlative_self_attention, load_clip
from .segmenter import SCLIPPrediction, SCLIPSegmenter, SCLIPSettings
from .text import TextClassifier, default_cache_dir
from .windows import PIXEL_MEAN, PIXEL_STD
from .vocabulary import BACKGROUND_NAMES, Preset, Vocabulary, load_preset, preset_names

__all__ = [
    "BACKGROUND_NAMES", "PIXEL_MEAN", "PIXEL_STD", "CSAImageEncoder", "DEFAULT_MODEL", "LoadedCLIP", "Preset", "SCLIPPrediction",
    "SCLIPSegmenter", "SCLIPSettings", "TextClassifier", "Vocabulary", "WeightsNotFoundError",
    "correlative_self_attention", "default_cache_dir", "load_clip", "load_preset", "preset_names",
]


# INTERIM until the sclip-stage branch lands
def preset_settings(name, **overrides):
    preset = load_preset(name)
    values = dict(short_side=preset.short_side, logit_scale=preset.logit_scale, prob_thd=preset.prob_thd,
                  area_thd=preset.area_thd)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SCLIPSettings(**values)


def check_feature_layers(model, layers):
    if any(layer < 1 for layer in layers):
        error = ValueError(f"feature_layers: block numbers start at 1, got {layers}")
        error.setting = "feature_layers"
        raise error


def build_vocabulary(prompts, vocabulary=None, preset=None):
    from segedit.api import build_vocabulary as build

    return build(prompts, vocabulary, preset)
