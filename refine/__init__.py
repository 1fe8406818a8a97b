"""Stage 2: SAM2 masks, majority-vote refinement and proposal scoring."""

from .errors import CheckpointMismatchError, WeightsNotFoundError
from .instances import mask_bbox, mask_to_coco_rle
from .masks import MaskGeneratorSettings, SAM2Masks, SAM2MaskSource
from .proposals import ProposalSelection, score_proposals, square_crops
from .sam2_model import (
    DEFAULT_SAM2_MODEL,
    SAM2_MODELS,
    SAM2Release,
    available_sam2_configs,
    infer_sam2_config,
    load_sam2,
    resolve_sam2_config,
)
from .vote import VoteResult, majority_vote, refine_label_map

__all__ = [
    "DEFAULT_SAM2_MODEL",
    "SAM2_MODELS",
    "CheckpointMismatchError",
    "MaskGeneratorSettings",
    "ProposalSelection",
    "SAM2MaskSource",
    "SAM2Masks",
    "SAM2Release",
    "VoteResult",
    "WeightsNotFoundError",
    "available_sam2_configs",
    "infer_sam2_config",
    "load_sam2",
    "majority_vote",
    "mask_bbox",
    "mask_to_coco_rle",
    "refine_label_map",
    "resolve_sam2_config",
    "score_proposals",
    "square_crops",
]
