"""Inpainting model families: which diffusers pipeline drives a model, and what that family needs to run well.

A model names its own pipeline class in ``model_index.json`` (``_class_name``). Text-to-image checkpoints (SD 3.5,
Qwen-Image, FLUX.2 klein) are saved with their text-to-image class and inpaint through the family's inpainting
pipeline, which takes the same components. One table entry per family keeps every per-family choice in one place:
defaults, the keyword that carries guidance, whether a negative prompt exists, the GPU precision the authors run it in.

This module imports nothing heavy: a command line can name the families in its help without torch or diffusers.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inpaint.errors import SettingsError, UnsupportedModelError, WeightsNotFoundError

HOW_TO_GET_WEIGHTS = "give a local diffusers directory (save_pretrained layout) or allow network access on first use"

_HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")


@dataclass(frozen=True)
class Family:
    """One family of inpainting models and how to run it.

    ``sources`` are the ``_class_name`` values of model_index.json that belong to the family; ``pipeline`` is the
    diffusers class that inpaints with them. ``guidance_keyword`` is the pipeline argument the guidance setting
    feeds: for guidance-distilled models (FLUX.1 Fill) it is an embedded conditioning value, not a classifier-free
    guidance weight, so its scale differs (30 rather than 7.5). ``negative_prompt`` says whether the pipeline takes
    negative text at all. ``gpu_dtype`` is the precision the authors publish and run the family in on GPUs;
    ``large`` families (over ~10 GB of weights) are the ones model CPU offload (low_vram) is meant for.
    ``max_strength`` caps the strength of full repaints where the model card asks for it (SDXL inpainting degrades
    at exactly 1.0). ``patch`` is how many latent pixels a transformer token covers per side: model input sides
    must be multiples of VAE scale factor x patch.
    """

    name: str
    title: str
    pipeline: str
    sources: tuple[str, ...]
    steps: int
    guidance: float
    guidance_keyword: str = "guidance_scale"
    negative_prompt: bool = True
    gpu_dtype: str = "float16"
    large: bool = False
    max_strength: float = 1.0
    patch: int = 1
    # model_index.json entries that must hold for this family, beyond the class name (FLUX.2 klein's step-wise
    # distilled and base models share one pipeline class and differ in their defaults).
    requires: tuple[tuple[str, Any], ...] = ()

    def supported(self) -> bool:
        """Whether the installed diffusers has this family's pipeline."""
        import diffusers

        return hasattr(diffusers, self.pipeline)


# Defaults follow each family's model card / diffusers' documented usage.
FAMILIES: tuple[Family, ...] = (
    Family("sd", "Stable Diffusion 1.x / 2.x", "StableDiffusionInpaintPipeline",
           ("StableDiffusionInpaintPipeline", "StableDiffusionPipeline"), steps=50, guidance=7.5),
    Family("sdxl", "Stable Diffusion XL", "StableDiffusionXLInpaintPipeline",
           ("StableDiffusionXLInpaintPipeline", "StableDiffusionXLPipeline"), steps=30, guidance=8.0,
           max_strength=0.99),
    Family("sd3", "Stable Diffusion 3 / 3.5", "StableDiffusion3InpaintPipeline",
           ("StableDiffusion3Pipeline", "StableDiffusion3InpaintPipeline"), steps=28, guidance=7.0,
           gpu_dtype="bfloat16", large=True, patch=2),
    Family("flux-fill", "FLUX.1 Fill", "FluxFillPipeline", ("FluxFillPipeline",), steps=50, guidance=30.0,
           negative_prompt=False, gpu_dtype="bfloat16", large=True, patch=2),
    Family("qwen-image", "Qwen-Image", "QwenImageInpaintPipeline", ("QwenImagePipeline", "QwenImageInpaintPipeline"),
           steps=50, guidance=4.0, guidance_keyword="true_cfg_scale", gpu_dtype="bfloat16", large=True, patch=2),
    Family("flux2-klein", "FLUX.2 klein (step-distilled)", "Flux2KleinInpaintPipeline",
           ("Flux2KleinPipeline", "Flux2KleinInpaintPipeline"), steps=4, guidance=1.0, negative_prompt=False,
           gpu_dtype="bfloat16", large=True, patch=2, requires=(("is_distilled", True),)),
    Family("flux2-klein-base", "FLUX.2 klein base", "Flux2KleinInpaintPipeline",
           ("Flux2KleinPipeline", "Flux2KleinInpaintPipeline"), steps=50, guidance=4.0, negative_prompt=False,
           gpu_dtype="bfloat16", large=True, patch=2),
)

FAMILY_NAMES: tuple[str, ...] = tuple(family.name for family in FAMILIES)


def family_named(name: str) -> Family:
    for family in FAMILIES:
        if family.name == name:
            return family
    raise KeyError(name)


def supported_families() -> tuple[Family, ...]:
    """The families whose pipeline the installed diffusers has."""
    return tuple(family for family in FAMILIES if family.supported())


def family_of_index(model: str, index: dict[str, Any]) -> Family:
    """The family a parsed model_index.json belongs to; UnsupportedModelError (one line) if none."""
    class_name = index.get("_class_name")
    for family in FAMILIES:
        if class_name in family.sources and all(index.get(key) == value for key, value in family.requires):
            if not family.supported():
                import diffusers

                raise UnsupportedModelError(
                    model, f"{model} is a {family.title} model, but diffusers {diffusers.__version__} has no "
                    f"{family.pipeline}; upgrade diffusers",
                )
            return family
    names = ", ".join(f"{family.title} ({family.name})" for family in supported_families())
    raise UnsupportedModelError(
        model, f"{model} is a {class_name or 'model without _class_name'}, not an inpainting family this tool runs; "
        f"supported: {names}",
    )


def read_model_index(model: str) -> tuple[dict[str, Any], Path | None]:
    """model_index.json of ``model`` (a local pipeline directory or a hub id) and the local directory, if any.

    A hub id's index is fetched into the standard Hugging Face cache (or read from it offline). Every failure is a
    one-line WeightsNotFoundError naming what was asked for.
    """
    path = Path(model).expanduser()
    if path.exists():
        check_pipeline_directory(model, path)
        return _parse_index(model, path / "model_index.json"), path
    if not _HUB_ID.fullmatch(model):
        raise WeightsNotFoundError(model, f"inpainting model directory {path} does not exist; {HOW_TO_GET_WEIGHTS}")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
    )

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the hub's deprecation chatter is nothing a user can act on
            index_file = hf_hub_download(model, "model_index.json")
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, HfHubHTTPError, OSError, ValueError) as error:
        raise WeightsNotFoundError(
            model, f"inpainting model {model!r} is neither a local directory nor fetchable from the Hugging Face hub "
            f"({first_line(error)}); {HOW_TO_GET_WEIGHTS}",
        ) from error
    return _parse_index(model, Path(index_file)), None


def _parse_index(model: str, index_path: Path) -> dict[str, Any]:
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsNotFoundError(model, f"{index_path} cannot be read ({first_line(error)})") from error
    if not isinstance(index, dict):
        raise WeightsNotFoundError(model, f"{index_path} is not a diffusers model index (not a JSON object)")
    return index


def check_pipeline_directory(model: str, path: Path) -> None:
    """Name the first missing piece of a local pipeline directory, before diffusers fails somewhere inside."""
    index_path = path / "model_index.json"
    if not index_path.is_file():
        raise WeightsNotFoundError(
            model, f"{path} is not a diffusers pipeline directory (no model_index.json); give a save_pretrained folder"
        )
    index = _parse_index(model, index_path)
    # Components are [library, class] pairs; [null, null] marks one the pipeline was saved without.
    components = [
        name
        for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list) and len(value) == 2 and None not in value
    ]
    missing = [name for name in components if not (path / name).is_dir()]
    if missing:
        folders = ", ".join(f"{name}/" for name in missing)
        raise WeightsNotFoundError(
            model, f"the pipeline in {path} is incomplete: no {folders} (model_index.json lists {', '.join(missing)})"
        )


def resolve_family(model: str) -> Family:
    """The family of ``model`` (local directory or hub id), from its own model_index.json."""
    index, _ = read_model_index(model)
    return family_of_index(model, index)


def dtype_for(family: Family, device_type: str, requested: Any = None) -> Any:
    """The torch dtype to load ``family`` in on a device of ``device_type`` ("cpu", "cuda", "mps").

    ``requested`` None follows the family: its published GPU precision on accelerators, float32 on the CPU.
    float16 on the CPU is refused (one line, naming the setting ``dtype``): CPU kernels for half precision are
    missing or far slower than float32, and diffusion models produce garbage or fail with them.
    """
    import torch

    if requested is not None:
        if not isinstance(requested, torch.dtype) or not requested.is_floating_point:
            raise TypeError(f"dtype must be a floating-point torch.dtype such as torch.float16, got {requested!r}")
        if requested == torch.float16 and device_type == "cpu":
            raise SettingsError("dtype", "float16 is not supported on the CPU; use bfloat16 or float32")
        return requested
    if device_type == "cpu":
        return torch.float32
    preferred = getattr(torch, family.gpu_dtype)
    if preferred == torch.bfloat16 and device_type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float32  # fp16 overflows in these families' activations (black or NaN images)
    return preferred


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
