"""A tiny random CLIP ViT of the real open_clip architecture, saved as an OpenAI-format checkpoint."""
from pathlib import Path

import torch
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

TINY_EMBED_DIM = 64


def build_tiny_clip(seed: int = 0, layers: int = 3) -> CLIP:
    """ViT with patch 16 at 224 (a 14x14 grid like ViT-B/16), width 128 = 2 heads of 64 as OpenAI's layout infers.

    CorrCLIP needs ``layers`` >= 5 (its spatial branch averages the blocks before the last four)."""
    torch.manual_seed(seed)
    vision = CLIPVisionCfg(layers=layers, width=128, patch_size=16, image_size=224)
    text = CLIPTextCfg(context_length=77, vocab_size=49408, width=128, heads=2, layers=2)
    return CLIP(TINY_EMBED_DIM, vision_cfg=vision, text_cfg=text, quick_gelu=True).eval()


def save_tiny_clip_checkpoint(directory: Path, seed: int = 0, layers: int = 3) -> Path:
    """A plain state dict, as open_clip.load_openai_model reads it."""
    path = Path(directory) / ("tiny-clip-vit-16.pt" if layers == 3 else f"tiny-clip-vit-16-{layers}l.pt")
    torch.save(build_tiny_clip(seed, layers).state_dict(), path)
    return path
