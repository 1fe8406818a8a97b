"""Stage 2: SAM2 masks, majority-vote refinement and proposal scoring.

Settings, model names and errors import without torch; everything else is loaded on first use
(PEP 562), so usage errors and ``--help`` never pay for torch or sam2.
"""

from importlib import import_module

from .errors import (
    CheckpointMismatchError,
    CheckpointReadError,
    SAM2SettingsError,
    SAM2WeightsError,
    WeightsNotFoundError,
)
from .settings import (
    DEFAULT_MARGIN,
    DEFAULT_SAM2_MODEL,
    GRID_SETTINGS,
    POINTS_MODES,
    SAM2_MODELS,
    MaskGeneratorSettings,
    PointPrompts,
    SAM2Release,
)

# Public name -> module that defines it, imported when the name is first used.
_LAZY = {
    "PromptRecord": "guided",
    "mask_bbox": "instances",
    "mask_to_coco_rle": "instances",
    "SAM2MaskSource": "masks",
    "ProposalSelection": "proposals",
    "score_proposals": "proposals",
    "square_crops": "proposals",
    "SAM2Masks": "sam2_masks",
    "available_sam2_configs": "sam2_model",
    "infer_sam2_config": "sam2_model",
    "load_sam2": "sam2_model",
    "resolve_sam2_config": "sam2_model",
    "VoteResult": "vote",
    "majority_vote": "vote",
    "refine_label_map": "vote",
}

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_SAM2_MODEL",
    "GRID_SETTINGS",
    "POINTS_MODES",
    "SAM2_MODELS",
    "CheckpointMismatchError",
    "CheckpointReadError",
    "MaskGeneratorSettings",
    "PointPrompts",
    "SAM2Release",
    "SAM2SettingsError",
    "SAM2WeightsError",
    "WeightsNotFoundError",
    *_LAZY,
]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
