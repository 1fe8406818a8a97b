"""Orchestration shared by the command lines, and the Python API built on the stage packages.

Importing this package is cheap: the API's classes (and torch with them) load on first use.
"""
from __future__ import annotations

import importlib

from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE

__version__ = "0.2.0"

_LAZY = {
    "Instance": ".api",
    "SegmentationResult": ".api",
    "Segmenter": ".api",
    "TargetResult": ".api",
    "SAM2Options": ".options",
    "ModelOptions": ".options",
    "RunOptions": ".options",
    "Job": ".options",
    "ResultRecord": ".record",
}

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_USAGE", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
