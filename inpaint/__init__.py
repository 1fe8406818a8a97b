"""Stage 3: edit a masked region (remove, replace, restyle) with diffusion inpainting, LaMa or OpenCV.

Settings, defaults and errors import nothing heavy, so a command line can build its --help and check its flags
without torch; the inpainters (torch, diffusers, OpenCV) load on first access (PEP 562).
"""

from importlib import import_module

from inpaint.errors import SettingsError, UnsupportedModelError, WeightsNotFoundError
from inpaint.families import (
    FAMILIES,
    FAMILY_NAMES,
    Family,
    resolve_family,
    supported_families,
)
from inpaint.modes import (
    DEFAULT_NEGATIVE_PROMPT,
    DEFAULT_STRENGTH,
    MODES,
    PROMPT_SUFFIXES,
    REMOVE_PROMPT,
    build_prompts,
)
from inpaint.settings import (
    DEFAULT_INPAINT_MODEL,
    DEFAULT_LAMA_WEIGHTS,
    INPAINTERS,
    SCHEDULERS,
    EditResult,
    Inpainter,
    InpainterOptions,
    InpaintSettings,
)

_LAZY = {
    "DiffusionInpainter": "inpaint.diffusion",
    "LamaRemover": "inpaint.lama",
    "build_inpainter": "inpaint.factory",
    "OpenCVRemover": "inpaint.opencv_remover",
    "feather_mask": "inpaint.masks",
    "paste_back": "inpaint.masks",
}

__all__ = [
    "DEFAULT_INPAINT_MODEL",
    "DEFAULT_LAMA_WEIGHTS",
    "DEFAULT_NEGATIVE_PROMPT",
    "DEFAULT_STRENGTH",
    "FAMILIES",
    "FAMILY_NAMES",
    "INPAINTERS",
    "MODES",
    "PROMPT_SUFFIXES",
    "REMOVE_PROMPT",
    "SCHEDULERS",
    "DiffusionInpainter",
    "EditResult",
    "Family",
    "InpaintSettings",
    "Inpainter",
    "InpainterOptions",
    "LamaRemover",
    "OpenCVRemover",
    "SettingsError",
    "UnsupportedModelError",
    "WeightsNotFoundError",
    "build_inpainter",
    "build_prompts",
    "feather_mask",
    "paste_back",
    "resolve_family",
    "supported_families",
]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
