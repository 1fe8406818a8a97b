"""One way in for front ends: settings in, a ready inpainter out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inpaint.settings import InpainterOptions

if TYPE_CHECKING:
    import torch

    from inpaint.settings import Inpainter


def build_inpainter(
    options: InpainterOptions,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    progress: bool = True,
    resolution: int | None = None,
) -> Inpainter:
    """Load the editing method ``options`` names onto ``device``.

    ``dtype`` applies to the diffusion inpainter only (None: the model family's own precision on GPUs, float32 on
    the CPU; float16 on the CPU is a SettingsError); LaMa always runs in float32 and OpenCV has no model. Missing
    weights raise WeightsNotFoundError, weights of no supported kind UnsupportedModelError; both carry the
    ``InpainterOptions`` field at fault in ``setting`` and a one-line message. ``resolution`` (diffusion only)
    overrides the model's native working resolution (the longer side of the crop it sees), e.g. to save memory.
    """
    if options.kind == "opencv":
        from inpaint.opencv_remover import OpenCVRemover

        return OpenCVRemover()
    if options.kind == "lama":
        from inpaint.lama import LamaRemover

        return LamaRemover(options.lama_weights, device=device, progress=progress)
    from inpaint.diffusion import DiffusionInpainter

    return DiffusionInpainter(options.weights, device=device, dtype=dtype, low_vram=options.low_vram, progress=progress,
                              resolution=resolution)
