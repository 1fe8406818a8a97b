"""Orchestration shared by the command lines, and the Python API built on the stage packages.

The API names load on first access (PEP 562), so importing a light part such as ``segedit.errors`` or
``segedit.evaluation`` does not import torch and the models.
"""
from importlib import import_module

from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE

_API_NAMES = (
    "Instance", "ProposalResult", "SAM2Options", "SegmentationResult", "Segmenter", "TargetResult",
    "build_vocabulary", "preset_settings",
)

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_USAGE", *_API_NAMES]


def __getattr__(name: str):
    if name not in _API_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(".api", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
