"""Models with random weights of the real architectures, and the photos the benchmark runs on.

Speed does not depend on weight values, so nothing is downloaded. Every builder seeds torch first: two
builds with the same seed have identical weights, which the precision comparison relies on.
"""
from __future__ import annotations

import importlib.util
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import open_clip
import torch

from sclip import LoadedCLIP
from segedit.images import as_rgb_array

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"
TINY_MODEL = "tiny"
SAM2_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"  # Hiera-tiny, the tool's default SAM2


def clip_models() -> list[str]:
    return [TINY_MODEL, *open_clip.list_models()]


def build_clip(model: str, device: torch.device, dtype: torch.dtype, seed: int = 0) -> LoadedCLIP:
    """A random open_clip ViT (``tiny``: the test suite's toy ViT) on ``device`` in ``dtype``."""
    torch.manual_seed(seed)
    if model == TINY_MODEL:
        clip = _tiny_clip_builder()(seed)
    else:
        # OpenAI's CLIP weights, which the tool loads, were trained with QuickGELU.
        clip = open_clip.create_model(model, pretrained=None, force_quick_gelu=True)
    return LoadedCLIP(model=clip.to(device=device, dtype=dtype).eval(), name=model, weights_id=f"random:{model}:{seed}")


def _tiny_clip_builder():
    return test_helper("tiny_clip.py", "build_tiny_clip", f"--model {TINY_MODEL}")


def test_helper(file_name: str, attribute: str, needed_by: str):
    """``attribute`` of the test suite's ``tests/FILE_NAME`` (toy models live with the tests); loading it by path
    works for a source checkout, installed or not."""
    path = REPO_ROOT / "tests" / file_name
    if not path.is_file():
        raise ValueError(f"{needed_by} needs the source checkout's {path.relative_to(REPO_ROOT)}")
    spec = importlib.util.spec_from_file_location(f"benchmark_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attribute)


def build_sam2(device: torch.device, seed: int = 0) -> torch.nn.Module:
    from sam2.build_sam import build_sam2 as build

    torch.manual_seed(seed)
    return build(SAM2_CONFIG, ckpt_path=None, device=str(device)).eval()


@dataclass
class InpaintModels:
    """Stable Diffusion 2 inpainting's three networks (text encoder, 9-channel UNet, KL autoencoder)."""

    text_encoder: torch.nn.Module
    unet: torch.nn.Module
    vae: torch.nn.Module

    @property
    def resolution(self) -> int:
        return self.unet.config.sample_size * 2 ** (len(self.vae.config.block_out_channels) - 1)


def build_sd2_inpainting(device: torch.device, dtype: torch.dtype, seed: int = 0) -> InpaintModels:
    """The networks of stabilityai/stable-diffusion-2-inpainting (configs as released), randomly initialised."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    with torch.device(device):  # initialise in place: the UNet alone is 3.5 GB in fp32
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=49408, hidden_size=1024, intermediate_size=4096, num_hidden_layers=23,
                num_attention_heads=16, max_position_embeddings=77, hidden_act="gelu", projection_dim=512,
            )
        )
        unet = UNet2DConditionModel(
            sample_size=64, in_channels=9, out_channels=4, block_out_channels=(320, 640, 1280, 1280),
            cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20), use_linear_projection=True,
        )
        vae = AutoencoderKL(
            block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4, sample_size=512,
        )
    # diffusers warns on every cast that from_pretrained(torch_dtype=...) would keep some modules in fp32;
    # it lists none for these models.
    diffusers_logger = logging.getLogger("diffusers")
    level = diffusers_logger.level
    diffusers_logger.setLevel(logging.ERROR)
    try:
        return InpaintModels(*(model.to(dtype=dtype).eval() for model in (text_encoder, unet, vae)))
    finally:
        diffusers_logger.setLevel(level)


def photo(name: str, width: int | None = None, height: int | None = None) -> np.ndarray:
    """A real photo from ``examples/`` as RGB uint8, centre-cropped to the aspect of and resized to width x height."""
    path = EXAMPLES / f"{name}.jpg"
    if not path.is_file():
        raise ValueError(f"benchmark photo {path} is missing; run the benchmark from a source checkout")
    image = as_rgb_array(path)
    if width is None or height is None:
        return image
    h, w = image.shape[:2]
    if w * height > h * width:  # too wide: keep the full height
        crop_w = round(h * width / height)
        image = image[:, (w - crop_w) // 2 : (w - crop_w) // 2 + crop_w]
    else:
        crop_h = round(w * height / width)
        image = image[(h - crop_h) // 2 : (h - crop_h) // 2 + crop_h]
    shrinking = width * height < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(image, (width, height), interpolation=interpolation))


def alternating(image: np.ndarray) -> Iterator[np.ndarray]:
    """The photo and its mirror image in turn, forever.

    SCLIPSegmenter reuses the window logits of the image it saw last; two different images of the same size
    (the same work) make every timed call compute them.
    """
    return itertools.cycle([image, np.ascontiguousarray(image[:, ::-1])])
