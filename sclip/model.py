"""CLIP ViT with SCLIP's Correlative Self-Attention (CSA) in its last block.

The backbone is an unmodified open_clip ``CLIP`` model; this module only changes how its visual
tower is run for dense prediction:

* every block but the last runs unchanged;
* the last block becomes ``x = x + csa(ln_1(x)); x = x + mlp(ln_2(x))`` where ``csa`` reuses the
  block's own pretrained in/out projections but attends with
  ``softmax(q qᵀ·s) + softmax(k kᵀ·s)`` (rows sum to 2) instead of ``softmax(q kᵀ·s)``;
* ``ln_post`` and ``proj`` are applied to *all* tokens, the CLS token is dropped and the patch
  features are L2-normalised.
"""
from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass
from typing import Iterator, Sequence

import open_clip
import torch
import torch.nn.functional as F
from torch import nn

from .errors import SCLIPSettingsError, WeightsNotFoundError
from .settings import DEFAULT_MODEL, PRETRAINED_TAG, check_feature_layers



@dataclass(frozen=True)
class LoadedCLIP:
    """A CLIP model on its device, plus a string that identifies its weights (for caches and logs)."""

    model: open_clip.model.CLIP
    name: str
    weights_id: str


def load_clip(
    model_name: str = DEFAULT_MODEL,
    weights: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    pretrained: str = PRETRAINED_TAG,
) -> LoadedCLIP:
    """Load CLIP weights into open_clip.

    ``weights=None`` uses open_clip's ``pretrained`` tag (default ``openai``; CorrCLIP uses ``metaclip_fullcc``),
    downloaded once into the hub cache.
    ``weights=PATH`` reads an OpenAI-format checkpoint (JIT archive or plain state dict); the
    architecture is inferred from the file, so ``model_name`` is only used for the hub route.
    """
    if weights is not None:
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise WeightsNotFoundError(path, f"CLIP weights file not found: {path}")
        try:
            with warnings.catch_warnings():
                # open_clip first tries torch.jit.load, deprecated in recent torch; irrelevant to users
                warnings.simplefilter("ignore", FutureWarning)
                model = open_clip.load_openai_model(path, precision="fp32", device="cpu")
        except Exception as exc:  # the loader raises many types for a file that is not a CLIP checkpoint
            detail = (str(exc).splitlines() or [""])[0]
            if "weights_only" in detail:  # torch's advice to unpickle an untrusted file must not reach users
                detail = "neither a TorchScript archive nor a plain state dict"
            raise WeightsNotFoundError(
                path, f"{path} is not an OpenAI-format CLIP checkpoint ({type(exc).__name__}: {detail[:200]})"
            ) from exc
        stat = os.stat(path)
        weights_id = f"file:{os.path.abspath(path)}:{stat.st_size}:{stat.st_mtime_ns}"
        name = f"{os.path.basename(path)}"
    else:
        if model_name not in open_clip.list_models():
            raise SCLIPSettingsError("model", f"unknown CLIP model '{model_name}'; try ViT-B-16 or ViT-L-14")
        try:
            with _root_logger_silenced():
                # OpenAI trained with QuickGELU; open_clip only warns when the plain config (GELU) gets those weights
                model = open_clip.create_model(
                    model_name, pretrained=pretrained, device="cpu", force_quick_gelu=True
                )
        except Exception as exc:  # hub / network failures surface as many different exception types
            raise WeightsNotFoundError(
                model_name, f"could not load CLIP '{model_name}' weights (pretrained='{pretrained}') from the hub "
                f"cache or network ({type(exc).__name__})"
            ) from exc
        weights_id = f"open_clip:{model_name}:{pretrained}"
        name = model_name
    _check_supported(model, name)
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return LoadedCLIP(model=model, name=name, weights_id=weights_id)


@contextlib.contextmanager
def _root_logger_silenced() -> Iterator[None]:
    """open_clip reports a failed download with ``logging.error`` on the root logger, which also installs a
    default handler as a side effect; the caller turns the failure into one clear line instead."""
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    saved_level = root.level
    root.addHandler(placeholder)  # a root logger with a handler is not given basicConfig's default one
    root.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        root.removeHandler(placeholder)
        root.setLevel(saved_level)


def _check_supported(model: nn.Module, name: str) -> None:
    visual = getattr(model, "visual", None)
    blocks = getattr(getattr(visual, "transformer", None), "resblocks", None)
    if blocks is None or not isinstance(blocks[-1].attn, nn.MultiheadAttention):
        raise ValueError(f"CLIP model {name} is not a plain ViT; SCLIP needs a ViT with standard multi-head attention")
    if not visual.transformer.batch_first:
        raise ValueError(f"CLIP model {name} uses sequence-first blocks, which this open_clip version does not expect")


def resample_positions(
    patch_pos: torch.Tensor, trained: tuple[int, int], grid: tuple[int, int]
) -> torch.Tensor:
    """Patch positional embeddings of a ViT resized to another grid. (th*tw, D) -> (gh*gw, D).

    As in SCLIP, CorrCLIP and DINO, the resize is bicubic and given as a scale factor of (grid + 0.1) / trained
    grid, not as an output size: the small offset only makes the floor of the output size land on the grid, but
    the scale factor itself sets where bicubic samples, so results differ from ``size=``.
    """
    (trained_h, trained_w), (grid_h, grid_w) = trained, grid
    grid_pos = patch_pos.reshape(1, trained_h, trained_w, -1).permute(0, 3, 1, 2)  # (1, D, th, tw)
    scale = ((grid_h + 0.1) / trained_h, (grid_w + 0.1) / trained_w)
    grid_pos = F.interpolate(grid_pos.float(), scale_factor=scale, mode="bicubic")  # (1, D, gh, gw)
    if grid_pos.shape[-2:] != (grid_h, grid_w):
        raise RuntimeError(f"positional grid {tuple(grid_pos.shape[-2:])} != {(grid_h, grid_w)}")
    return grid_pos.to(patch_pos.dtype).permute(0, 2, 3, 1).reshape(grid_h * grid_w, -1)


def correlative_self_attention(x: torch.Tensor, attn: nn.MultiheadAttention) -> torch.Tensor:
    """CSA with the pretrained projections of ``attn``. x: (B, N, D) -> (B, N, D).

    ``softmax(q qᵀ·s) v + softmax(k kᵀ·s) v`` equals ``(softmax(q qᵀ·s) + softmax(k kᵀ·s)) v``; written as two
    fused attention calls it uses PyTorch's flash / memory-efficient kernels (s = head_dim ** -0.5, their default).
    """
    B, N, D = x.shape
    heads = attn.num_heads
    head_dim = D // heads
    qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias)  # (B, N, 3D)
    q, k, v = qkv.view(B, N, 3, heads, head_dim).permute(2, 0, 3, 1, 4)  # each (B, heads, N, d)
    out = F.scaled_dot_product_attention(q, q, v) + F.scaled_dot_product_attention(k, k, v)  # (B, heads, N, d)
    out = out.transpose(1, 2).reshape(B, N, D)
    return attn.out_proj(out)


class CSAImageEncoder(nn.Module):
    """Dense, L2-normalised patch features from a CLIP ViT run with CSA in its last block.

    ``feature_layers`` lists 1-based block indices whose output feeds the CSA block (default: the
    last block only, i.e. official SCLIP). For index l, the tokens leaving block l-1 go through the
    CSA version of the last block, ``ln_post`` and ``proj``; the features of all listed layers are
    averaged and re-normalised.
    """

    def __init__(self, clip_model: open_clip.model.CLIP, feature_layers: Sequence[int] | None = None):
        super().__init__()
        self.visual = clip_model.visual
        depth = len(self.visual.transformer.resblocks)
        self.feature_layers = check_feature_layers(feature_layers, depth=depth) or [depth]
        self.patch_size = self.visual.patch_size[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.visual.conv1.weight.dtype

    def positional_embedding(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """(1 + grid_h*grid_w, D), patch part resized when the grid differs from training (see resample_positions)."""
        pos = self.visual.positional_embedding
        trained = tuple(self.visual.grid_size)
        if (grid_h, grid_w) == trained:
            return pos
        return torch.cat([pos[:1], resample_positions(pos[1:], trained, (grid_h, grid_w))], dim=0)

    def csa_head(self, x: torch.Tensor) -> torch.Tensor:
        """Last block with CSA, then ln_post and proj on every token. (B, N, D) -> (B, N, E)."""
        block = self.visual.transformer.resblocks[-1]
        x = x + block.ls_1(correlative_self_attention(block.ln_1(x), block.attn))
        x = x + block.ls_2(block.mlp(block.ln_2(x)))
        return self.visual.ln_post(x) @ self.visual.proj

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (B, 3, H, W) normalised -> patch features (B, H//p, W//p, E), unit length."""
        visual = self.visual
        x = visual.conv1(images.to(self.dtype))  # (B, D, gh, gw)
        grid_h, grid_w = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)  # (B, gh*gw, D)
        cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding(grid_h, grid_w).to(x.dtype)  # (B, N, D)
        x = visual.ln_pre(x)

        wanted_inputs = {layer - 1 for layer in self.feature_layers}  # 0-based blocks whose *input* feeds CSA
        features = None
        for index, block in enumerate(visual.transformer.resblocks[: max(wanted_inputs) + 1]):
            if index in wanted_inputs:
                patch = F.normalize(self.csa_head(x)[:, 1:].float(), dim=-1)  # (B, gh*gw, E)
                features = patch if features is None else features + patch
            if index < max(wanted_inputs):
                x = block(x)
        if len(self.feature_layers) > 1:
            features = F.normalize(features, dim=-1)
        return features.reshape(x.shape[0], grid_h, grid_w, -1)


def encode_image_global(clip_model: open_clip.model.CLIP, images: torch.Tensor) -> torch.Tensor:
    """Plain CLIP image embeddings (no CSA), unit length. (B, 3, H, W) -> (B, E)."""
    dtype = clip_model.visual.conv1.weight.dtype
    return F.normalize(clip_model.encode_image(images.to(dtype)).float(), dim=-1)
