"""A tiny random DINO ViT state dict in the DINO repository's own format (its key names and layout)."""
from pathlib import Path

import torch

# Width 128 = 2 heads of 64, as every released DINO ViT has 64-wide heads; patch 8 and the 28x28 grid of DINO
# ViT-B/8 at 224, so positional-embedding resizing happens exactly where it does for the real model.
TINY_DINO_WIDTH = 128


def tiny_dino_state_dict(seed: int = 0, depth: int = 2, width: int = TINY_DINO_WIDTH, patch: int = 8,
                         grid: int = 28) -> dict[str, torch.Tensor]:
    """The tensors DINO's ``VisionTransformer`` (no head) saves, random; LayerNorms get non-trivial affines."""
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape, scale=0.02):
        return torch.randn(*shape, generator=generator) * scale

    state = {
        "cls_token": randn(1, 1, width, scale=1.0),
        "pos_embed": randn(1, 1 + grid * grid, width, scale=0.5),
        "patch_embed.proj.weight": randn(width, 3, patch, patch, scale=0.1),
        "patch_embed.proj.bias": randn(width),
    }
    for index in range(depth):
        prefix = f"blocks.{index}."
        state.update({
            prefix + "norm1.weight": 1 + randn(width, scale=0.1), prefix + "norm1.bias": randn(width, scale=0.1),
            prefix + "attn.qkv.weight": randn(3 * width, width, scale=0.1), prefix + "attn.qkv.bias": randn(3 * width, scale=0.1),
            prefix + "attn.proj.weight": randn(width, width, scale=0.1), prefix + "attn.proj.bias": randn(width),
            prefix + "norm2.weight": 1 + randn(width, scale=0.1), prefix + "norm2.bias": randn(width, scale=0.1),
            prefix + "mlp.fc1.weight": randn(4 * width, width, scale=0.1), prefix + "mlp.fc1.bias": randn(4 * width),
            prefix + "mlp.fc2.weight": randn(width, 4 * width, scale=0.1), prefix + "mlp.fc2.bias": randn(width),
        })
    state.update({"norm.weight": 1 + randn(width, scale=0.1), "norm.bias": randn(width, scale=0.1)})
    return state


def save_tiny_dino_checkpoint(directory: Path, seed: int = 0, **kwargs) -> Path:
    """A plain state dict file, like the DINO repository's ``dino_vitb8_pretrain.pth``."""
    path = Path(directory) / "tiny-dino-vit-8.pth"
    torch.save(tiny_dino_state_dict(seed, **kwargs), path)
    return path
