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
