"""CorrCLIP's dense CLIP features: the last block's correlations rebuilt from DINO features and region masks.

Per window (batch 1; the region tokens differ per window):

* DINO q+k features give the cosine correlation ``S`` of the DINO patches (``N = f_h·f_w`` tokens, patch 8);
* the region map at the DINO grid is merged (DBSCAN) and scopes ``S``; ``W = softmax(TAU·S)`` is one N×N map
  shared by every channel (regions.py);
* CLIP runs its blocks 0..L-2 unchanged for CLS and patches, with one extra token per region (a "mask class
  token", MCT: a copy of CLS that sees only CLS and its region's patches);
* the last block is replaced by three branches, each at the DINO resolution (N tokens):
  - main: ``out_proj(W · up(v(ln_1(x))))`` on the tokens leaving block L-2 (no q/k, no residual, no MLP),
  - spatial: the same on the mean of the outputs of the NUM_SPATIAL blocks before that,
  - semantic: the whole last block on the full sequence; every token takes its region's MCT;
* ``ln_post`` on each branch, ``main + ALPHA·spatial + BETA·semantic``, then ``proj``.

Tensor shapes in comments use E = CLIP width, D = embedding dim, g = CLIP grid (patch P), f = DINO grid,
G = g_h·g_w, N = f_h·f_w, M = region tokens.
"""
from __future__ import annotations

import open_clip
import torch
import torch.nn.functional as F
from torch import nn

from ..model import resample_positions
from .dino import DINOCorrelationFeatures
from .regions import merge_regions, resize_regions, scoped_correlation

ALPHA = 1.0  # weight of the spatial branch
BETA = 0.5  # weight of the semantic (region token) branch


def spatial_block_indices(depth: int) -> range:
    """0-based CLIP blocks whose outputs the spatial branch averages: the NUM_SPATIAL blocks before block L-2.

    NUM_SPATIAL is CorrCLIP's per-depth constant (12 -> 5, 24 -> 12, 32 -> 28, otherwise L-4), so ViT-B/16
    averages blocks 5..9. A CLIP with fewer than 5 blocks would average nothing.
    """
    num_spatial = {12: 5, 24: 12, 32: 28}.get(depth, depth - 4)
    if depth < 5:
        raise ValueError(f"CorrCLIP needs a CLIP with at least 5 vision blocks, this one has {depth}")
    return range(depth - 2 - num_spatial, depth - 2)


def region_token_mask(clip_regions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Region ids and the additive attention mask of ``[MCT_1..MCT_M, CLS, patches]``. (g_h, g_w) -> (M,), (L, L).

    CLS and patches see exactly CLS and the patches (so they follow stock CLIP); MCT_k sees CLS and the patches
    of region k, not itself nor the other MCTs. Blocked entries are -inf: a float mask means the same to every
    open_clip version (some cast boolean masks to float, which would turn "blocked" into +1).
    """
    region_ids, patch_region = torch.unique(clip_regions.flatten(), sorted=True, return_inverse=True)  # (M,), (G,)
    num_regions, num_patches = len(region_ids), clip_regions.numel()
    length = num_regions + 1 + num_patches
    allowed = torch.zeros(length, length, dtype=torch.bool, device=clip_regions.device)
    allowed[num_regions:, num_regions:] = True  # CLS + patches among themselves
    allowed[:num_regions, num_regions] = True  # every MCT sees CLS
    allowed[:num_regions, num_regions + 1 :] = patch_region[None, :] == torch.arange(num_regions, device=allowed.device)[:, None]
    mask = torch.zeros(length, length, device=clip_regions.device).masked_fill_(~allowed, float("-inf"))
    return region_ids, mask


class CorrCLIPImageEncoder(nn.Module):
    """Dense CorrCLIP features of one window at the DINO resolution."""

    def __init__(self, clip_model: open_clip.model.CLIP, dino: nn.Module):
        super().__init__()
        self.visual = clip_model.visual
        self.dino = DINOCorrelationFeatures(dino)
        self.patch_size = self.visual.patch_size[0]
        self.spatial_blocks = spatial_block_indices(len(self.visual.transformer.resblocks))

    @property
    def dtype(self) -> torch.dtype:
        return self.visual.conv1.weight.dtype

    def tokens(self, image: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Patchify, add CLS and positions, ``ln_pre``. (1, 3, h, w) -> (1, 1+G, E) and the grid g."""
        visual = self.visual
        x = visual.conv1(image.to(self.dtype))  # (1, E, g_h, g_w); sides that are not multiples of P are floored
        grid = tuple(x.shape[-2:])
        x = x.flatten(2).transpose(1, 2)  # (1, G, E)
        x = torch.cat([visual.class_embedding.to(x.dtype).expand(1, 1, -1), x], dim=1)  # (1, 1+G, E)
        pos = visual.positional_embedding
        # CorrCLIP keeps the trained embedding whenever the token count matches, whatever the grid's shape
        if pos.shape[0] != x.shape[1]:
            pos = torch.cat([pos[:1], resample_positions(pos[1:], tuple(visual.grid_size), grid)], dim=0)
        return visual.ln_pre(x + pos.to(x.dtype)), grid

    def value_branch(self, x: torch.Tensor, attention: torch.Tensor, grid, dino_grid) -> torch.Tensor:
        """Main/spatial branch: the last block's V, upsampled to the DINO grid, mixed by W, ``out_proj``.

        x: (B, 1+G, E) tokens entering the last block; attention W: (N, N) -> (B, N, E).
        """
        block = self.visual.transformer.resblocks[-1]
        width = x.shape[-1]
        value = F.linear(block.ln_1(x), block.attn.in_proj_weight[2 * width :], block.attn.in_proj_bias[2 * width :])
        value = value[:, 1:].transpose(1, 2).reshape(x.shape[0], width, *grid)  # (B, E, g_h, g_w), CLS dropped
        value = F.interpolate(value, size=dino_grid, mode="bilinear", align_corners=False)  # (B, E, f_h, f_w)
        value = value.flatten(2).transpose(1, 2)  # (B, N, E)
        return block.attn.out_proj(attention.to(value.dtype) @ value)

    def forward(self, image: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        """One padded window -> unit features at the DINO grid.

        image: (1, 3, h, w) CLIP-normalised; regions: (h, w) int region map of the window -> (f_h, f_w, D).
        """
        features = self.dino(image)[0]  # (N, C) unit q+k
        dino_grid = (image.shape[-2] // self.dino.patch_size, image.shape[-1] // self.dino.patch_size)
        similarity = features @ features.T  # (N, N) cosines, before any masking

        dino_regions = merge_regions(resize_regions(regions, dino_grid).flatten(), features)  # (N,)
        attention = scoped_correlation(similarity, dino_regions)  # (N, N) rows sum to 1

        x, grid = self.tokens(image)  # (1, 1+G, E)
        clip_regions = resize_regions(dino_regions.view(dino_grid), grid)  # (g_h, g_w), merged ids
        region_ids, mask = region_token_mask(clip_regions)  # (M,), (L, L)
        num_regions = len(region_ids)
        x = torch.cat([x[:, :1].expand(1, num_regions, -1), x], dim=1)  # (1, M+1+G, E): MCTs start as CLS

        blocks = self.visual.transformer.resblocks
        recorded = []
        for index, block in enumerate(blocks[:-1]):
            x = block(x, attn_mask=mask.to(x.dtype))
            if index in self.spatial_blocks:
                recorded.append(x[:, num_regions:])  # (1, 1+G, E)
        spatial_in = torch.stack(recorded).mean(dim=0)  # (1, 1+G, E)
        main_in = x[:, num_regions:]  # (1, 1+G, E) tokens leaving block L-2
        main, spatial = self.value_branch(torch.cat([main_in, spatial_in]), attention, grid, dino_grid)  # (N, E) each

        region_tokens = blocks[-1](x, attn_mask=mask.to(x.dtype))[0, :num_regions]  # (M, E)
        # each DINO-grid token takes the MCT of the region its CLIP cell belongs to
        token_region = torch.searchsorted(region_ids, resize_regions(clip_regions, dino_grid).flatten())  # (N,)
        semantic = region_tokens[token_region]  # (N, E)

        ln_post = self.visual.ln_post
        fused = ln_post(main) + ALPHA * ln_post(spatial) + BETA * ln_post(semantic)  # (N, E)
        projected = (fused @ self.visual.proj).float()  # (N, D)
        return F.normalize(projected, dim=-1).view(*dino_grid, -1)
