"""DINO ViT (CorrCLIP's second backbone): loading, and the q+k features of its last block.

The architecture is timm's ``VisionTransformer``, whose state-dict keys are exactly the DINO repository's, so
one class serves both routes:

* ``weights=None``: timm's ``vit_base_patch8_224.dino`` from the Hugging Face hub (the DINO authors' ViT-B/8
  weights, re-hosted by timm; cached and honouring offline mode like every other hub model of this tool, and
  no repository code is fetched and run, unlike ``torch.hub.load``);
* ``weights=FILE``: a state dict in the DINO repository's format (``dino_vitb8_pretrain.pth``). Patch size,
  width, depth, MLP width and trained grid are read from the tensors; heads = width / 64 as in every released
  DINO ViT. Loading is strict.

Only the positional-embedding resize is DINO's own (timm resamples differently): see ``resample_positions``.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DINOWeightsNotFoundError
from ..model import _root_logger_silenced, resample_positions

DINO_HUB_MODEL = "vit_base_patch8_224.dino"
HEAD_WIDTH = 64  # every released DINO ViT has 64-wide heads

# DINO normalises with ImageNet statistics; CorrCLIP gets there from CLIP-normalised crops by undoing CLIP's
# 0-1 normalisation first. 122.771/255 is not exactly 0.48145466, so this is not bit-equal to pixel/255.
CLIP_MEAN_01 = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD_01 = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class LoadedDINO:
    """A DINO ViT on its device, plus a string that identifies its weights (for caches and logs)."""

    model: nn.Module
    name: str
    weights_id: str


def load_dino(
    weights: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> LoadedDINO:
    """DINO ViT from the hub (``weights=None``) or from a DINO-format state dict file."""
    if weights is None:
        model = _dino_from_hub()
        name, weights_id = DINO_HUB_MODEL, f"timm:{DINO_HUB_MODEL}"
    else:
        path = os.fspath(weights)
        model = dino_from_state_dict(_read_state_dict(path), path)
        stat = os.stat(path)
        name = os.path.basename(path)
        weights_id = f"file:{os.path.abspath(path)}:{stat.st_size}:{stat.st_mtime_ns}"
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return LoadedDINO(model=model, name=name, weights_id=weights_id)


def _dino_from_hub() -> nn.Module:
    import timm
    from huggingface_hub import hf_hub_download

    try:
        with _root_logger_silenced():
            # the file first: offline or unreachable fails at once, before timm builds an 86M-parameter model
            path = hf_hub_download(f"timm/{DINO_HUB_MODEL}", "model.safetensors")
            return timm.create_model(
                DINO_HUB_MODEL, pretrained=True, num_classes=0, pretrained_cfg_overlay=dict(file=path)
            )
    except Exception as exc:  # hub / network failures surface as many different exception types
        raise DINOWeightsNotFoundError(
            DINO_HUB_MODEL, f"could not load DINO '{DINO_HUB_MODEL}' weights from the hub cache or network "
            f"({type(exc).__name__})"
        ) from exc


def _read_state_dict(path: str) -> dict[str, torch.Tensor]:
    if not os.path.isfile(path):
        raise DINOWeightsNotFoundError(path, f"DINO weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickles, archives and garbage fail in many ways
        raise DINOWeightsNotFoundError(
            path, f"{path} is not a DINO state dict ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]})"
        ) from exc
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise DINOWeightsNotFoundError(path, f"{path} is not a DINO state dict (expected a dict of tensors)")
    return state


def dino_from_state_dict(state: dict[str, torch.Tensor], source: str = "state dict") -> nn.Module:
    """timm ``VisionTransformer`` with the architecture the tensors describe, loaded strictly."""
    from timm.models.vision_transformer import VisionTransformer

    required = ("patch_embed.proj.weight", "pos_embed", "blocks.0.mlp.fc1.weight")
    missing = [key for key in required if key not in state]
    if missing:
        raise DINOWeightsNotFoundError(source, f"{source} is not a DINO ViT state dict (no {', '.join(missing)})")
    width, _, patch, _ = state["patch_embed.proj.weight"].shape  # (width, 3, patch, patch)
    depth = 1 + max(int(match.group(1)) for key in state if (match := re.match(r"blocks\.(\d+)\.", key)))
    grid = math.isqrt(state["pos_embed"].shape[1] - 1)  # (1, 1 + grid², width), square as DINO trains
    mlp_ratio = state["blocks.0.mlp.fc1.weight"].shape[0] / width
    if width % HEAD_WIDTH:
        raise DINOWeightsNotFoundError(source, f"{source}: width {width} is not a multiple of {HEAD_WIDTH}")
    model = VisionTransformer(
        img_size=grid * patch, patch_size=patch, embed_dim=width, depth=depth, num_heads=width // HEAD_WIDTH,
        mlp_ratio=mlp_ratio, qkv_bias=True, num_classes=0,
    )
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        problems = []
        if result.missing_keys:
            problems.append(f"missing {_listed(result.missing_keys)}")
        if result.unexpected_keys:
            problems.append(f"unexpected {_listed(result.unexpected_keys)}")
        raise DINOWeightsNotFoundError(source, f"{source} does not fit a DINO ViT: {'; '.join(problems)}")
    return model


def _listed(keys: list[str], shown: int = 4) -> str:
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


class DINOCorrelationFeatures(nn.Module):
    """Unit q+k features of DINO's last block, one per DINO patch: what CorrCLIP correlates.

    Only the input of the last block's qkv Linear is needed, so the last block's attention, MLP and the final
    norm are not run (their outputs are never used).
    """

    def __init__(self, vit: nn.Module):
        super().__init__()
        self.vit = vit
        self.patch_size = vit.patch_embed.proj.kernel_size[0]
        self.trained_grid = (math.isqrt(vit.pos_embed.shape[1] - 1),) * 2
        clip_mean, clip_std = torch.tensor(CLIP_MEAN_01), torch.tensor(CLIP_STD_01)
        net_mean, net_std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        for name, value in dict(clip_mean=clip_mean, clip_std=clip_std, net_mean=net_mean, net_std=net_std).items():
            self.register_buffer(name, value.view(1, 3, 1, 1), persistent=False)

    @property
    def dtype(self) -> torch.dtype:
        return self.vit.patch_embed.proj.weight.dtype

    def renormalise(self, clip_images: torch.Tensor) -> torch.Tensor:
        """CLIP-normalised crops -> ImageNet-normalised, in CorrCLIP's two steps. (B, 3, h, w) -> same."""
        unit = clip_images * self.clip_std.to(clip_images) + self.clip_mean.to(clip_images)  # back to the 0-1 scale
        return (unit - self.net_mean.to(clip_images)) / self.net_std.to(clip_images)

    def positional_embedding(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """(1, 1 + grid_h*grid_w, width): DINO's resize ("+0.1" scale factor), CLS row kept."""
        pos = self.vit.pos_embed
        if (grid_h, grid_w) == self.trained_grid:
            return pos
        patch_pos = resample_positions(pos[0, 1:], self.trained_grid, (grid_h, grid_w))
        return torch.cat([pos[:, :1], patch_pos[None]], dim=1)

    def forward(self, clip_images: torch.Tensor) -> torch.Tensor:
        """CLIP-normalised crops (B, 3, h, w) -> (B, h//p * w//p, width) unit q+k features, row-major."""
        vit = self.vit
        x = vit.patch_embed.proj(self.renormalise(clip_images.float()).to(self.dtype))  # (B, W, fh, fw)
        grid_h, grid_w = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)  # (B, N, W)
        x = torch.cat([vit.cls_token.expand(x.shape[0], -1, -1), x], dim=1)  # (B, 1+N, W)
        x = x + self.positional_embedding(grid_h, grid_w)
        for block in vit.blocks[:-1]:
            x = block(x)
        last = vit.blocks[-1]
        qkv = last.attn.qkv(last.norm1(x))  # (B, 1+N, 3W): q, k, v with the heads concatenated, bias included
        width = qkv.shape[-1] // 3
        q_plus_k = qkv[..., :width] + qkv[..., width : 2 * width]
        return F.normalize(q_plus_k[:, 1:].float(), dim=-1)  # (B, N, W), CLS dropped
