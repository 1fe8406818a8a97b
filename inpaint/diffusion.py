"""Text-guided editing with a diffusers inpainting pipeline of any supported family (SD 2 inpainting by default)."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import cv2
import numpy as np
import torch
from PIL import Image

from inpaint.errors import UnsupportedModelError, WeightsNotFoundError
from inpaint.families import (
    HOW_TO_GET_WEIGHTS,
    Family,
    dtype_for,
    family_of_index,
    first_line,
    read_model_index,
)
from inpaint.masks import check_image_and_mask, crop_around, feather_mask, paste_back
from inpaint.modes import MODES, build_prompts
from inpaint.settings import (
    DEFAULT_INPAINT_MODEL,
    SCHEDULERS,
    EditResult,
    InpaintSettings,
)

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline
    from diffusers.schedulers.scheduling_utils import SchedulerMixin

logger = logging.getLogger(__name__)

# Context around the region's bounding box, as a fraction of its longer side on each side: the model needs to
# see the surroundings to continue them.
CROP_CONTEXT = 0.25

# Stable Diffusion VAEs downsample by 8; other sizes would be silently resized by the pipeline.
_SIZE_MULTIPLE = 8

# Label of the denoising progress bar (the pipeline's own bar has none).
PROGRESS_LABEL = "diffusion steps"


class DiffusionInpainter:
    """Edits a masked region with a diffusers inpainting pipeline: remove, replace or restyle it.

    ``model`` is a Hugging Face hub id or a local directory written by ``save_pretrained``. Its own
    model_index.json decides the family (``inpaint.families``: SD 1.x/2.x, SDXL, SD 3/3.5, FLUX.1 Fill, Qwen-Image,
    FLUX.2 klein) and so the pipeline class, the step and guidance defaults, whether negative prompts apply and the
    GPU precision; the default is ``DEFAULT_INPAINT_MODEL``, a community mirror of the deleted
    stabilityai/stable-diffusion-2-inpainting. ``dtype`` None follows the family (its published GPU precision,
    float32 on the CPU); an explicit dtype loads every sub-model in it, whatever precision its weights were saved in,
    and float16 on the CPU is refused. The model is loaded once: each edit's ``settings.scheduler`` is swapped onto
    the loaded pipeline. ``low_vram`` keeps idle sub-models on the CPU (CUDA only). ``progress`` shows a bar over the
    denoising steps; without it no library draws any bar, loading included.

    The model works at its native resolution (sample size x VAE scale factor: 512 for SD 2, 1024 for XL, SD 3 and
    FLUX) unless ``resolution`` says otherwise: each edit runs on a crop around the region, resized so its longer
    side equals that resolution, and the result is resized back and feathered into the untouched original.
    """

    supported_modes: ClassVar[tuple[str, ...]] = MODES
    kind: ClassVar[str] = "diffusion"

    def __init__(
        self,
        model: str = DEFAULT_INPAINT_MODEL,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        low_vram: bool = False,
        progress: bool = True,
        resolution: int | None = None,
    ) -> None:
        if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating-point torch.dtype such as torch.float16, got {dtype!r}")
        if resolution is not None and resolution < _SIZE_MULTIPLE:
            raise ValueError(f"resolution must be at least {_SIZE_MULTIPLE} pixels, got {resolution}")
        self.model = str(model)
        self.device = torch.device(device)
        self.low_vram = False

        index, _ = read_model_index(self.model)
        self.family = family_of_index(self.model, index)
        self.dtype = dtype_for(self.family, self.device.type, dtype)
        if self.device.type != "cpu" and self.dtype == torch.float16 and self.family.gpu_dtype == "bfloat16":
            logger.warning("%s models are meant to run in bfloat16; float16 may overflow into black or noisy images",
                           self.family.title)
        with _library_progress_bars(progress):
            self.pipeline = _load_pipeline(self.model, self.family, self.dtype)
        self.pipeline_class = type(self.pipeline).__name__
        self.resolution = resolution or _native_resolution(self.pipeline)
        self._size_multiple = max(_SIZE_MULTIPLE, int(self.pipeline.vae_scale_factor) * self.family.patch)
        # Every edit gets a fresh scheduler built from the model's own config, so no state of one edit's
        # scheduler can leak into the next and "no scheduler asked for" always means the model's own.
        self._own_scheduler_class = type(self.pipeline.scheduler)
        self._scheduler_config = self.pipeline.scheduler.config
        self.pipeline.set_progress_bar_config(disable=not progress, desc=PROGRESS_LABEL)

        if low_vram:
            self.enable_low_vram()
        else:
            self.pipeline.to(device=self.device)
        if self.device.type == "cpu":
            logger.warning(
                "Running diffusion inpainting on the CPU: a full-size %s model takes many minutes per image there; "
                "use a CUDA device if you have one.", self.family.title,
            )

    def describe(self) -> dict[str, str]:
        """What result.json records about the method: inpainter kind, model, family, pipeline class and dtype."""
        return {
            "inpainter": self.kind,
            "inpaint_model": self.model,
            "inpaint_family": self.family.name,
            "inpaint_pipeline": self.pipeline_class,
            "inpaint_dtype": str(self.dtype).removeprefix("torch."),
        }

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
        Steps and guidance left as None take the family's defaults. Pixels outside the feathered mask are returned
        unchanged.
        """
        settings = settings or InpaintSettings()
        family = self.family
        steps = settings.steps if settings.steps is not None else family.steps
        guidance = settings.guidance if settings.guidance is not None else family.guidance
        settings.check_mode(mode, default_steps=family.steps, max_strength=family.max_strength)
        check_image_and_mask(image, mask)
        prompts = build_prompts(mode, target, edit, settings.negative_prompt)
        negative_prompt = prompts.negative_prompt if family.negative_prompt else None
        strength = settings.strength_for(mode, family.max_strength)
        seed = settings.seed if settings.seed is not None else secrets.randbits(32)
        if settings.low_vram:
            self.enable_low_vram()
        self.pipeline.scheduler = self._scheduler(settings.scheduler)

        alpha = feather_mask(mask, settings.mask_dilate, settings.mask_blur)
        # The model repaints everything the blend may show, so the feather fades new content into the original
        # rather than into the VAE's copy of it.
        region = alpha > 0
        x0, y0, x1, y1 = crop_around(region, self.resolution, CROP_CONTEXT)
        crop_width, crop_height = x1 - x0, y1 - y0
        width, height = _model_input_size(crop_width, crop_height, self.resolution, self._size_multiple)
        logger.debug("inpainting crop %s resized to %dx%d", (x0, y0, x1, y1), width, height)
        model_image = _resize(image[y0:y1, x0:x1], width, height)
        model_mask = _resize(region[y0:y1, x0:x1].astype(np.float32), width, height) > 0

        arguments = {
            "prompt": prompts.prompt,
            "image": Image.fromarray(model_image),
            "mask_image": Image.fromarray(model_mask.astype(np.uint8) * 255),
            "height": height,
            "width": width,
            "strength": strength,
            "num_inference_steps": steps,
            family.guidance_keyword: guidance,
            # A CPU generator gives the same noise for a seed on every device.
            "generator": torch.Generator(device="cpu").manual_seed(seed),
            "output_type": "np",
        }
        if negative_prompt is not None:
            arguments["negative_prompt"] = negative_prompt
        start = time.perf_counter()
        output = self.pipeline(**arguments)
        if any(getattr(output, "nsfw_content_detected", None) or []):
            logger.warning("the model's safety checker blanked the generated region")
        generated_crop = np.clip(np.rint(np.asarray(output.images[0], dtype=np.float32) * 255), 0, 255)
        generated = image.copy()
        generated[y0:y1, x0:x1] = _resize(generated_crop.astype(np.uint8), crop_width, crop_height)
        edited = paste_back(image, generated, alpha)
        seconds = time.perf_counter() - start

        return EditResult(
            image=edited,
            mode=mode,
            model=self.model,
            prompt=prompts.prompt,
            negative_prompt=negative_prompt,
            seed=seed,
            strength=strength,
            steps=steps,
            guidance=guidance,
            scheduler=type(self.pipeline.scheduler).__name__,
            crop_box=(x0, y0, x1, y1),
            seconds=seconds,
            dtype=str(self.dtype).removeprefix("torch."),
            inpainter=self.kind,
            family=family.name,
            pipeline=self.pipeline_class,
        )

    def _scheduler(self, name: str | None) -> SchedulerMixin:
        """A new scheduler called ``name`` (None: the model's own kind), built from the model's scheduler config."""
        if name is None:
            scheduler_class = self._own_scheduler_class
        else:
            import diffusers

            scheduler_class = getattr(diffusers, SCHEDULERS[name])
        return scheduler_class.from_config(self._scheduler_config)


def _native_resolution(pipeline: DiffusionPipeline) -> int:
    """Sample size (latent pixels) x VAE scale factor: the resolution the model was trained at."""
    sample = getattr(pipeline, "default_sample_size", None)
    if sample is None:
        sample = pipeline.unet.config.sample_size
    return int(sample) * int(pipeline.vae_scale_factor)


def _load_pipeline(model: str, family: Family, dtype: torch.dtype) -> DiffusionPipeline:
    # diffusers takes seconds to import; only pay for it when a model is actually loaded.
    import diffusers

    pipeline_class = getattr(diffusers, family.pipeline)
    # diffusers 0.42 renamed from_pretrained's torch_dtype to dtype and warns on the old name; older releases only
    # know torch_dtype. Casting after loading instead would skip the modules a model keeps in float32.
    major_minor = tuple(int(part) for part in diffusers.__version__.split(".")[:2])
    dtype_keyword = "dtype" if major_minor >= (0, 42) else "torch_dtype"
    local = Path(model).expanduser()
    source = str(local) if local.exists() else model
    try:
        with warnings.catch_warnings():
            # diffusers hands huggingface_hub an argument it deprecated; nothing a user can act on
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*", category=UserWarning)
            return pipeline_class.from_pretrained(source, **{dtype_keyword: dtype})
    except OSError as error:
        if local.exists():
            where = f"the pipeline in {local} is incomplete"
        else:
            where = f"inpainting model {model!r} is neither a local directory nor fetchable from the Hugging Face hub"
        raise WeightsNotFoundError(model, f"{where} ({first_line(error)}); {HOW_TO_GET_WEIGHTS}") from error
    except (ValueError, TypeError) as error:  # components that do not fit the family's pipeline
        raise UnsupportedModelError(
            model, f"{model} does not load as {family.pipeline} ({first_line(error)})"
        ) from error


@contextlib.contextmanager
def _library_progress_bars(show: bool) -> Iterator[None]:
    """Let diffusers and transformers (and huggingface_hub, which transformers switches along) draw their loading
    and download bars only if ``show``; their global switches are put back afterwards."""
    if show:
        yield
        return
    import huggingface_hub.utils
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_on = diffusers_logging.is_progress_bar_enabled()
    transformers_on = transformers_logging.is_progress_bar_enabled()
    hub_off = huggingface_hub.utils.are_progress_bars_disabled()
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if diffusers_on:
            diffusers_logging.enable_progress_bar()
        with warnings.catch_warnings():
            # Enabling the hub's bars warns where HF_HUB_DISABLE_PROGRESS_BARS holds; they then stay off anyway.
            warnings.filterwarnings("ignore", message="Cannot enable progress bars")
            if transformers_on:
                transformers_logging.enable_progress_bar()  # switches the hub's bars on too
            if hub_off:
                huggingface_hub.utils.disable_progress_bars()
            elif huggingface_hub.utils.are_progress_bars_disabled():
                huggingface_hub.utils.enable_progress_bars()


def _model_input_size(width: int, height: int, resolution: int, multiple: int = _SIZE_MULTIPLE) -> tuple[int, int]:
    """Scale (width, height) so the longer side is ``resolution``, each side a multiple of ``multiple``.

    Small crops are enlarged too: Stable Diffusion makes poor pictures far below its training resolution.
    """
    scale = resolution / max(width, height)

    def fit(side: int) -> int:
        return max(multiple, round(side * scale / multiple) * multiple)

    return fit(width), fit(height)


def _resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    if array.shape[1] == width and array.shape[0] == height:
        return array
    shrinking = width * height < array.shape[0] * array.shape[1]
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
