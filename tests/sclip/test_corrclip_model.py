"""CorrCLIP's encoder on tiny random CLIP (6 blocks) and DINO models of the real architectures.

The reference below follows the method description literally (one-hot region matrices, boolean attention masks
through ``nn.MultiheadAttention``, explicit loops over the scope rule), so the encoder's shortcuts (a gather for
the one-hot product, an additive mask, vectorised scope) are checked against the plain reading.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sclip.corrclip.dino import DINOCorrelationFeatures, dino_from_state_dict
from sclip.corrclip.model import CorrCLIPImageEncoder, region_token_mask, spatial_block_indices
from sclip.corrclip.regions import TAU, merge_regions
from tiny_clip import build_tiny_clip
from tiny_dino import tiny_dino_state_dict


@pytest.fixture(scope="module")
def encoder():
    clip = build_tiny_clip(seed=1, layers=6).requires_grad_(False)
    return CorrCLIPImageEncoder(clip, dino_from_state_dict(tiny_dino_state_dict(seed=2)).eval().requires_grad_(False))


def test_spatial_blocks_per_depth():
    assert list(spatial_block_indices(12)) == [5, 6, 7, 8, 9]  # ViT-B/16: outputs of blocks 6-10 counted from 1
    assert list(spatial_block_indices(24)) == list(range(10, 22))
    assert list(spatial_block_indices(32)) == list(range(2, 30))
    assert list(spatial_block_indices(6)) == [2, 3]  # otherwise L - 4 blocks, ending before block L-2
    assert list(spatial_block_indices(5)) == [2]
    with pytest.raises(ValueError, match="at least 5"):
        spatial_block_indices(4)


def test_region_tokens_see_cls_and_their_region_only():
    regions = torch.tensor([[3, 3], [8, 0]])  # CLIP grid 2x2, regions 0 < 3 < 8
    ids, mask = region_token_mask(regions)
    assert ids.tolist() == [0, 3, 8]
    blocked = torch.isinf(mask)
    # sequence: MCT0 MCT3 MCT8 CLS p0 p1 p2 p3
    expected_allowed = torch.tensor([
        [0, 0, 0, 1, 0, 0, 0, 1],
        [0, 0, 0, 1, 1, 1, 0, 0],
        [0, 0, 0, 1, 0, 0, 1, 0],
        *[[0, 0, 0, 1, 1, 1, 1, 1]] * 5,
    ], dtype=torch.bool)
    assert torch.equal(~blocked, expected_allowed)
    assert float(mask[~blocked].abs().max()) == 0.0


@torch.no_grad()
def _reference_features(encoder, image, regions):
    """CorrCLIP's window computation read literally from the method description (sections 5 and 6)."""
    visual, dino = encoder.visual, encoder.dino.vit
    # DINO: hook the last block's qkv during a full forward, as the official code does
    stored = {}
    hook = dino.blocks[-1].attn.qkv.register_forward_hook(lambda module, args, output: stored.update(qkv=output))
    unit = image * torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1) + torch.tensor(
        [0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    dino_input = (unit - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    fh, fw = image.shape[-2] // 8, image.shape[-1] // 8
    x = dino.patch_embed.proj(dino_input).flatten(2).transpose(1, 2)
    x = torch.cat([dino.cls_token, x], dim=1)
    if (fh, fw) != (28, 28):
        patch_pos = dino.pos_embed[:, 1:].reshape(1, 28, 28, -1).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(patch_pos, scale_factor=((fh + 0.1) / 28, (fw + 0.1) / 28), mode="bicubic")
        x = x + torch.cat([dino.pos_embed[:, :1], patch_pos.permute(0, 2, 3, 1).reshape(1, fh * fw, -1)], dim=1)
    else:
        x = x + dino.pos_embed
    for block in dino.blocks:
        x = block(x)
    dino.norm(x)
    hook.remove()
    qkv = stored["qkv"].view(1, 1 + fh * fw, 3, -1)
    feats = F.normalize((qkv[:, :, 0] + qkv[:, :, 1])[0, 1:], dim=-1)  # (N, C)
    N = fh * fw
    S = feats @ feats.T

    m = F.interpolate(regions[None, None].float(), size=(fh, fw), mode="nearest")[0, 0].long().flatten()
    m = merge_regions(m, feats)  # DBSCAN itself is checked by hand cases in test_corrclip_regions
    u0 = m.min()
    allowed = torch.zeros(N, N, dtype=torch.bool)
    mean = S.mean()
    for i in range(N):  # row i: its own segmented region, or any pair with an unsegmented token above the mean
        allowed[i] = ((m[i] != u0) & (m == m[i])) | (((m[i] == u0) | (m == u0)) & (S[i] > mean))
    W = torch.softmax(TAU * S.masked_fill(~allowed, float("-inf")), dim=-1)

    # CLIP tokens
    x = visual.conv1(image)
    gh, gw = x.shape[-2:]
    x = torch.cat([visual.class_embedding.view(1, 1, -1), x.flatten(2).transpose(1, 2)], dim=1)
    pos = visual.positional_embedding
    if pos.shape[0] != x.shape[1]:
        patch_pos = pos[1:].reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(patch_pos, scale_factor=((gh + 0.1) / 14, (gw + 0.1) / 14), mode="bicubic")
        pos = torch.cat([pos[:1], patch_pos.permute(0, 2, 3, 1).reshape(gh * gw, -1)])
    x = visual.ln_pre(x + pos)
    m_g = F.interpolate(m.view(1, 1, fh, fw).float(), size=(gh, gw), mode="nearest")[0, 0].long()
    values = torch.unique(m_g)
    M = len(values)
    L = M + 1 + gh * gw
    blocked = torch.ones(L, L, dtype=torch.bool)  # True = blocked, as a boolean mask means to nn.MultiheadAttention
    blocked[M:, M:] = False
    for k, value in enumerate(values):
        blocked[k, M] = False
        blocked[k, M + 1:] = m_g.flatten() != value
    x = torch.cat([x[:, :1].repeat(1, M, 1), x], dim=1)

    def run_block(block, x):
        h = block.ln_1(x)
        x = x + block.attn(h, h, h, need_weights=False, attn_mask=blocked)[0]
        return x + block.mlp(block.ln_2(x))

    blocks = visual.transformer.resblocks
    depth = len(blocks)
    recorded = []
    for idx, block in enumerate(blocks[:-1]):
        x = run_block(block, x)
        if depth - 2 - (depth - 4) <= idx <= depth - 3:  # NUM_SPATIAL = L - 4 for this depth
            recorded.append(x[:, M:])
    last = blocks[-1]
    E = x.shape[-1]
    outputs = []
    for X in (x[0, M:], torch.stack(recorded).mean(0)[0]):
        v = last.ln_1(X) @ last.attn.in_proj_weight[2 * E:].T + last.attn.in_proj_bias[2 * E:]
        v = v[1:].T.reshape(1, E, gh, gw)
        v = F.interpolate(v, size=(fh, fw), mode="bilinear", align_corners=False)[0].reshape(E, N).T
        outputs.append(last.attn.out_proj(W @ v))
    mct = run_block(last, x)[0, :M]
    region_masks = torch.stack([(m_g == value).float() for value in values])[None]  # (1, M, gh, gw)
    region_masks = F.interpolate(region_masks, size=(fh, fw), mode="nearest")[0].reshape(M, N)
    outputs.append(region_masks.T @ mct)
    branches = visual.ln_post(torch.stack(outputs))
    fused = branches[0] + 1.0 * branches[1] + 0.5 * branches[2]
    return F.normalize(fused @ visual.proj, dim=-1).view(fh, fw, -1)


def _random_regions(height, width, seed):
    rng = np.random.default_rng(seed)
    regions = np.zeros((height, width), np.int64)
    for region_id in range(1, 6):
        y, x = rng.integers(0, height - 16), rng.integers(0, width - 16)
        regions[y:y + rng.integers(16, 60), x:x + rng.integers(16, 60)] = region_id
    return torch.from_numpy(regions)


@pytest.mark.parametrize("size", [(112, 112), (112, 168)])
def test_encoder_matches_the_literal_reading_of_the_method(encoder, size):
    torch.manual_seed(0)
    image = torch.randn(1, 3, *size)
    regions = _random_regions(*size, seed=size[1])
    result = encoder(image, regions)
    expected = _reference_features(encoder, image, regions)
    assert result.shape == (size[0] // 8, size[1] // 8, 64)
    torch.testing.assert_close(result, expected, rtol=0, atol=2e-5)


def test_dino_features_are_the_last_blocks_q_plus_k_at_the_trained_size(encoder):
    torch.manual_seed(3)
    image = torch.randn(2, 3, 224, 224)
    stored = {}
    vit = encoder.dino.vit
    hook = vit.blocks[-1].attn.qkv.register_forward_hook(lambda module, args, output: stored.update(qkv=output))
    vit(encoder.dino.renormalise(image))  # timm's own forward: no positional resize at 224
    hook.remove()
    q, k, _ = stored["qkv"].chunk(3, dim=-1)
    expected = F.normalize((q + k)[:, 1:], dim=-1)
    torch.testing.assert_close(encoder.dino(image), expected, rtol=0, atol=1e-5)
    assert isinstance(encoder.dino, DINOCorrelationFeatures)
