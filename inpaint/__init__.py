"""Stage 3: edit a masked region (remove, replace, restyle) with diffusion inpainting or OpenCV."""

from inpaint.diffusion import DEFAULT_INPAINT_MODEL, DiffusionInpainter
from inpaint.errors import WeightsNotFoundError
from inpaint.masks import feather_mask, paste_back
from inpaint.modes import DEFAULT_STRENGTH, MODES, build_prompts
from inpaint.opencv_remover import OpenCVRemover
from inpaint.settings import SCHEDULERS, EditResult, Inpainter, InpaintSettings

__all__ = [
    "DEFAULT_INPAINT_MODEL",
    "DEFAULT_STRENGTH",
    "MODES",
    "SCHEDULERS",
    "DiffusionInpainter",
    "EditResult",
    "InpaintSettings",
    "Inpainter",
    "OpenCVRemover",
    "WeightsNotFoundError",
    "build_prompts",
    "feather_mask",
    "paste_back",
]
