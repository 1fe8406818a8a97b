"""A randomly initialised SAM 2.1 Hiera-tiny checkpoint for tests, laid out like Meta's releases."""

from pathlib import Path

import torch
from sam2.build_sam import build_sam2

TINY_SAM2_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"


def build_tiny_sam2_checkpoint(directory: str | Path, seed: int = 0) -> tuple[Path, str]:
    """Write ``sam2.1_hiera_tiny_random.pt`` into ``directory``; returns (checkpoint path, config name).

    The file holds ``{"model": state_dict}`` so it loads through ``load_sam2(checkpoint=..., config=...)``,
    the same path as real weights given with ``--sam2-checkpoint`` / ``--sam2-config``.
    """
    torch.manual_seed(seed)
    model = build_sam2(TINY_SAM2_CONFIG, ckpt_path=None, device="cpu")
    path = Path(directory) / "sam2.1_hiera_tiny_random.pt"
    torch.save({"model": model.state_dict()}, path)
    return path, TINY_SAM2_CONFIG
