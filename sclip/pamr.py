"""Pixel-Adaptive Mask Refinement (Araslanov & Roth, CVPR 2020), SCLIP's optional post-processing.

Each iteration replaces every pixel's scores by an affinity-weighted average of its neighbours at
the given dilations; the affinities come from local colour differences scaled by the local
colour spread, so scores spread within regions of similar colour and stop at edges.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

DEFAULT_DILATIONS = (8, 16)


def _offsets(dilations: Sequence[int]) -> list[tuple[int, int, int]]:
    """(dilation, dy, dx) of the 8 neighbours at each dilation."""
    return [(d, dy * d, dx * d) for d in dilations for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def _shifted(padded: torch.Tensor, pad: int, dy: int, dx: int, height: int, width: int) -> torch.Tensor:
    """The neighbour at (dy, dx) of every pixel, read from a replicate-padded tensor. -> (B, C, H, W)."""
    return padded[..., pad + dy : pad + dy + height, pad + dx : pad + dx + width]


@torch.inference_mode()
def pamr(
    image: torch.Tensor, scores: torch.Tensor, iterations: int, dilations: Sequence[int] = DEFAULT_DILATIONS
) -> torch.Tensor:
    """image (B, 3, H, W) float, scores (B, Q, H, W) -> refined scores (B, Q, H, W)."""
    if iterations <= 0:
        return scores
    height, width = image.shape[-2:]
    pad = max(dilations)
    offsets = _offsets(dilations)
    padded_image = F.pad(image, (pad,) * 4, mode="replicate")
    neighbours = torch.stack([_shifted(padded_image, pad, dy, dx, height, width) for _, dy, dx in offsets], 2)
    # Local spread over each dilation's 3x3 neighbourhood, centre included once per dilation.
    centre = image.unsqueeze(2)  # (B, 3, 1, H, W)
    window = torch.cat([centre.expand(-1, -1, len(dilations), -1, -1), neighbours], dim=2)
    spread = window.std(dim=2, keepdim=True)  # (B, 3, 1, H, W)
    affinity = -(centre - neighbours).abs() / (1e-8 + 0.1 * spread)  # (B, 3, P, H, W)
    affinity = affinity.mean(dim=1).softmax(dim=1)  # (B, P, H, W)

    refined = scores
    for _ in range(iterations):
        padded = F.pad(refined, (pad,) * 4, mode="replicate")
        refined = sum(
            _shifted(padded, pad, dy, dx, height, width) * affinity[:, index : index + 1]
            for index, (_, dy, dx) in enumerate(offsets)
        )
    return refined
