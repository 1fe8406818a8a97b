"""Orchestration shared by the command lines, and the Python API built on the stage packages."""
from .api import (
    Instance,
    ProposalResult,
    SAM2Options,
    SegmentationResult,
    Segmenter,
    TargetResult,
    build_vocabulary,
    preset_settings,
)
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE

__all__ = [
    "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_USAGE", "Instance", "ProposalResult",
    "SAM2Options", "SegmentationResult", "Segmenter", "TargetResult", "build_vocabulary", "preset_settings",
]
