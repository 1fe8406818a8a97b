"""Text-guided editing with a diffusers inpainting pipeline (Stable Diffusion 2 inpainting by default)."""

from __future__ import annotations

import logging
import re
import secrets
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import cv2
import numpy as np
import torch
from PIL import Image

from inpaint.errors import WeightsNotFoundError
from inpaint.masks import check_image_and_mask, crop_around, feather_mask, paste_back
from inpaint.modes import MODES, build_prompts
from inpaint.settings import SCHEDULERS, EditResult, InpaintSettings

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline
    from diffusers.schedulers.scheduling_utils import SchedulerMixin

logger = logging.getLogger(__name__)

# stabilityai/stable-diffusion-2-inpainting was deleted from the Hugging Face hub in November 2025; this
# community mirror holds the same weights and is what other projects switched to.
DEFAULT_INPAINT_MODEL = "sd2-community/stable-diffusion-2-inpainting"

# Context around the region's bounding box, as a fraction of its longer side on each side: the model needs to
# see the surroundings to continue them.
CROP_CONTEXT = 0.25

# Stable Diffusion VAEs downsample by 8; other sizes would be silently resized by the pipeline.
_SIZE_MULTIPLE = 8

_HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")

_DTYPES = {
    "fp16": torch.float16,
    "float16": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp32": torch.float32,
    "float32": torch.float32,
}


class DiffusionInpainter:
    """Edits a masked region with a diffusers inpainting pipeline: remove, replace or restyle it.

    ``model`` is a Hugging Face hub id or a local directory written by ``save_pretrained``. It is loaded with
    ``AutoPipelineForInpainting``, so Stable Diffusion 1.x, 2.x and XL inpainting checkpoints all work; the
    default is ``DEFAULT_INPAINT_MODEL``, a community mirror of the deleted stabilityai/stable-diffusion-2-inpainting.
    ``dtype`` None means float16 on CUDA (attention runs through PyTorch's SDPA, diffusers' default) and float32
    elsewhere. ``scheduler`` names an entry of ``SCHEDULERS`` (None keeps the model's own). ``low_vram`` keeps
    idle sub-models on the CPU (CUDA only). ``progress`` shows a bar over the denoising steps.

    The model works at its native resolution (UNet sample size x VAE scale factor: 512 for SD 2, 1024 for XL):
    each edit runs on a crop around the region, resized so its longer side equals that resolution, and the result
    is resized back and feathered into the untouched original.
    """

    supported_modes: ClassVar[tuple[str, ...]] = MODES

    def __init__(
        self,
        model: str = DEFAULT_INPAINT_MODEL,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | str | None = None,
        scheduler: str | None = None,
        low_vram: bool = False,
        progress: bool = True,
    ) -> None:
        if scheduler is not None and scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {scheduler!r}; expected one of: {', '.join(SCHEDULERS)}")
        self.model = str(model)
        self.device = torch.device(device)
        self.dtype = _resolve_dtype(dtype, self.device)
        self.scheduler_name = scheduler
        self.low_vram = False

        self.pipeline = _load_pipeline(self.model, self.dtype)
        unet = getattr(self.pipeline, "unet", None)
        if unet is None:
            raise ValueError(
                f"{self.model} loads as {type(self.pipeline).__name__}, which has no UNet; "
                "use a Stable Diffusion (1.x, 2.x or XL) inpainting model"
            )
        self.resolution = int(unet.config.sample_size) * int(self.pipeline.vae_scale_factor)
        self._schedulers: dict[str | None, SchedulerMixin] = {None: self.pipeline.scheduler}
        self.pipeline.scheduler = self._scheduler(scheduler)
        self.pipeline.set_progress_bar_config(disable=not progress)

        if low_vram:
            self.enable_low_vram()
        else:
            self.pipeline.to(device=self.device)
        if self.device.type == "cpu":
            logger.warning(
                "Running diffusion inpainting on the CPU: a full-size Stable Diffusion model takes many minutes "
                "per image there; use a CUDA device if you have one."
            )

    def enable_low_vram(self) -> None:
        """Keep each sub-model on the CPU until it runs (CUDA only); saves several GB of GPU memory."""
        if self.low_vram:
            return
        self.low_vram = True
        if self.device.type == "cuda":
            self.pipeline.enable_model_cpu_offload(device=self.device)
        else:
            logger.warning("low_vram only applies on CUDA; ignored on %s", self.device)
            self.pipeline.to(device=self.device)

    def edit(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        mode: str,
        target: str,
        edit: str | None = None,
        settings: InpaintSettings | None = None,
    ) -> EditResult:
        """Edit the ``mask`` region of ``image`` (uint8 (H, W, 3)), which shows ``target``, and return the result.

        ``mode`` is remove, replace or style; ``edit`` describes the new content (required for replace and style).
        Pixels outside the feathered mask are returned unchanged.
        """
        settings = settings or InpaintSettings()
        check_image_and_mask(image, mask)
        prompts = build_prompts(mode, target, edit, settings.negative_prompt)
        strength = settings.strength_for(mode)
        if int(settings.steps * strength) < 1:
            raise ValueError(f"{settings.steps} steps at strength {strength} leave no denoising step; raise steps")
        seed = settings.seed if settings.seed is not None else secrets.randbits(32)
        if settings.low_vram:
            self.enable_low_vram()
        scheduler_name = settings.scheduler if settings.scheduler is not None else self.scheduler_name
        self.pipeline.scheduler = self._scheduler(scheduler_name)

        alpha = feather_mask(mask, settings.mask_dilate, settings.mask_blur)
        # The model repaints everything the blend may show, so the feather fades new content into the original
        # rather than into the VAE's copy of it.
        region = alpha > 0
        x0, y0, x1, y1 = crop_around(region, self.resolution, CROP_CONTEXT)
        crop_width, crop_height = x1 - x0, y1 - y0
        width, height = _model_input_size(crop_width, crop_height, self.resolution)
        logger.debug("inpainting crop %s resized to %dx%d", (x0, y0, x1, y1), width, height)
        model_image = _resize(image[y0:y1, x0:x1], width, height)
        model_mask = _resize(region[y0:y1, x0:x1].astype(np.float32), width, height) > 0

        start = time.perf_counter()
        output = self.pipeline(
            prompt=prompts.prompt,
            negative_prompt=prompts.negative_prompt,
            image=Image.fromarray(model_image),
            mask_image=Image.fromarray(model_mask.astype(np.uint8) * 255),
            height=height,
            width=width,
            strength=strength,
            num_inference_steps=settings.steps,
            guidance_scale=settings.guidance,
            # A CPU generator gives the same noise for a seed on every device.
            generator=torch.Generator(device="cpu").manual_seed(seed),
            output_type="np",
        )
        if any(getattr(output, "nsfw_content_detected", None) or []):
            logger.warning("the model's safety checker blanked the generated region")
        generated_crop = np.clip(np.rint(output.images[0] * 255), 0, 255).astype(np.uint8)
        generated = image.copy()
        generated[y0:y1, x0:x1] = _resize(generated_crop, crop_width, crop_height)
        edited = paste_back(image, generated, alpha)
        seconds = time.perf_counter() - start

        return EditResult(
            image=edited,
            mode=mode,
            model=self.model,
            prompt=prompts.prompt,
            negative_prompt=prompts.negative_prompt,
            seed=seed,
            strength=strength,
            steps=settings.steps,
            guidance=settings.guidance,
            scheduler=type(self.pipeline.scheduler).__name__,
            crop_box=(x0, y0, x1, y1),
            seconds=seconds,
        )

    def _scheduler(self, name: str | None) -> SchedulerMixin:
        """The scheduler called ``name`` (None: the model's own), built once from the model's scheduler config."""
        if name not in self._schedulers:
            import diffusers

            scheduler_class = getattr(diffusers, SCHEDULERS[name])
            self._schedulers[name] = scheduler_class.from_config(self._schedulers[None].config)
        return self._schedulers[name]


def _load_pipeline(model: str, dtype: torch.dtype) -> DiffusionPipeline:
    # diffusers takes seconds to import; only pay for it when a model is actually loaded.
    import diffusers
    from diffusers import AutoPipelineForInpainting

    # diffusers 0.42 renamed from_pretrained's torch_dtype to dtype and warns on the old name; older releases only
    # know torch_dtype. Casting after loading instead would skip the modules a model keeps in float32.
    major_minor = tuple(int(part) for part in diffusers.__version__.split(".")[:2])
    dtype_keyword = "dtype" if major_minor >= (0, 42) else "torch_dtype"

    path = Path(model).expanduser()
    how_to = "pass --inpaint-model DIR (a local diffusers directory) or allow network access on first use"
    local = path.exists()
    if local and not (path / "model_index.json").is_file():
        raise WeightsNotFoundError(f"{path} is not a diffusers pipeline directory (no model_index.json); {how_to}")
    if not local and not _HUB_ID.fullmatch(model):
        raise WeightsNotFoundError(f"inpainting model directory {path} does not exist; {how_to}")
    try:
        with warnings.catch_warnings():
            # diffusers hands huggingface_hub an argument it deprecated; nothing a user can act on
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*", category=UserWarning)
            return AutoPipelineForInpainting.from_pretrained(str(path) if local else model, **{dtype_keyword: dtype})
    except OSError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if local:
            where = f"the pipeline in {path} is incomplete"
        else:
            where = f"inpainting model {model!r} is neither a local directory nor fetchable from the Hugging Face hub"
        raise WeightsNotFoundError(f"{where} ({reason}); {how_to}") from error


def _resolve_dtype(dtype: torch.dtype | str | None, device: torch.device) -> torch.dtype:
    if dtype is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of: {', '.join(_DTYPES)}")
    return _DTYPES[dtype]


def _model_input_size(width: int, height: int, resolution: int) -> tuple[int, int]:
    """Scale (width, height) so the longer side is ``resolution``, each side a multiple of 8.

    Small crops are enlarged too: Stable Diffusion makes poor pictures far below its training resolution.
    """
    scale = resolution / max(width, height)

    def fit(side: int) -> int:
        return max(_SIZE_MULTIPLE, round(side * scale / _SIZE_MULTIPLE) * _SIZE_MULTIPLE)

    return fit(width), fit(height)


def _resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    if array.shape[1] == width and array.shape[0] == height:
        return array
    shrinking = width * height < array.shape[0] * array.shape[1]
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
