"""CorrCLIP (ICCV 2025) as a second Stage-1 method: CLIP whose last block's correlations are rebuilt from DINO
features and region masks. Implemented from a description of the official code's computation.

Settings and presets import no torch; the model names load on first use (PEP 562), as in ``sclip``.
"""
from importlib import import_module

from .settings import (
    DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED, CorrCLIPPreset, CorrCLIPSettings, corrclip_preset_names,
    corrclip_preset_settings, load_corrclip_preset, split_corrclip_names,
)

_HEAVY = {
    "CorrCLIPImageEncoder": ".model",
    "CorrCLIPSegmenter": ".segmenter",
    "DINOCorrelationFeatures": ".dino",
    "LoadedDINO": ".dino",
    "dino_from_state_dict": ".dino",
    "load_dino": ".dino",
    "map_correction": ".regions",
    "merge_regions": ".regions",
    "region_map_from_masks": ".regions",
    "scoped_correlation": ".regions",
}


def __getattr__(name: str):
    if name in _HEAVY:
        value = getattr(import_module(_HEAVY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_CLIP_MODEL", "DEFAULT_CLIP_PRETRAINED", "CorrCLIPPreset", "CorrCLIPSettings", "corrclip_preset_names",
    "corrclip_preset_settings", "load_corrclip_preset", "split_corrclip_names", *_HEAVY,
]
