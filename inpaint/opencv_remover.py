"""Weight-free object removal with OpenCV's Telea inpainting."""

from __future__ import annotations

import time
from typing import ClassVar

import cv2
import numpy as np

from inpaint.masks import check_image_and_mask, feather_mask, paste_back
from inpaint.modes import check_mode
from inpaint.settings import EditResult, InpaintSettings


class OpenCVRemover:
    """Removes the masked region by propagating the surrounding pixels inward (Telea's fast marching method).

    Needs no weights and runs in milliseconds, but only fills smooth or simple textures convincingly; it cannot
    paint new content, so replace and style need the diffusion inpainter. ``radius`` is the neighbourhood, in
    pixels, each filled pixel draws from.
    """

    supported_modes: ClassVar[tuple[str, ...]] = ("remove",)
    model: ClassVar[str] = "opencv-telea"
    kind: ClassVar[str] = "opencv"

    def __init__(self, radius: int = 5) -> None:
        if radius < 1:
            raise ValueError(f"radius must be at least 1 pixel, got {radius}")
        self.radius = radius

    def describe(self) -> dict[str, str | None]:
        return {"inpainter": self.kind, "inpaint_model": self.model, "inpaint_family": None,
                "inpaint_pipeline": None, "inpaint_dtype": None}

    def edit(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        mode: str,
        target: str,
        edit: str | None = None,
        settings: InpaintSettings | None = None,
    ) -> EditResult:
        """Fill the ``mask`` region of ``image`` (uint8 (H, W, 3)) from its surroundings; ``mode`` must be remove.

        Only ``mask_dilate`` and ``mask_blur`` of ``settings`` apply. Pixels outside the feathered mask are
        returned unchanged.
        """
        check_mode(mode, self.supported_modes, "the OpenCV remover")
        check_image_and_mask(image, mask)
        settings = settings or InpaintSettings()
        alpha = feather_mask(mask, settings.mask_dilate, settings.mask_blur)
        start = time.perf_counter()
        # Fill the whole feather band, as the diffusion inpainter does, so the blend fades fill into original.
        fill_region = (alpha > 0).astype(np.uint8)
        filled = cv2.inpaint(np.ascontiguousarray(image), fill_region, self.radius, cv2.INPAINT_TELEA)
        edited = paste_back(image, filled, alpha)
        height, width = mask.shape
        return EditResult(
            image=edited,
            mode=mode,
            model=self.model,
            crop_box=(0, 0, width, height),
            seconds=time.perf_counter() - start,
            inpainter=self.kind,
        )
