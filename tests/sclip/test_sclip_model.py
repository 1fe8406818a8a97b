"""CSA image encoder against the published formula, computed independently with plain tensor ops."""
import pytest
import torch
import torch.nn.functional as F

from sclip.errors import SCLIPSettingsError
from sclip.model import CSAImageEncoder, correlative_self_attention, load_clip
from tiny_clip import build_tiny_clip


@pytest.fixture(scope="module")
def clip_model():
    return build_tiny_clip(seed=1)


def _csa_by_formula(x, attn):
    """softmax(q qᵀ/√d) + softmax(k kᵀ/√d), per head, written out without reshaping tricks."""
    D = x.shape[-1]
    heads = attn.num_heads
    d = D // heads
    w_q, w_k, w_v = attn.in_proj_weight.split(D)
    b_q, b_k, b_v = attn.in_proj_bias.split(D)
    q, k, v = x @ w_q.T + b_q, x @ w_k.T + b_k, x @ w_v.T + b_v
    outputs, weights = [], []
    for h in range(heads):
        sl = slice(h * d, (h + 1) * d)
        qh, kh, vh = q[..., sl], k[..., sl], v[..., sl]
        a = torch.softmax(qh @ qh.transpose(-1, -2) / d**0.5, -1) + torch.softmax(kh @ kh.transpose(-1, -2) / d**0.5, -1)
        weights.append(a)
        outputs.append(a @ vh)
    merged = torch.cat(outputs, dim=-1)
    return merged @ attn.out_proj.weight.T + attn.out_proj.bias, weights


def test_csa_matches_formula_and_rows_sum_to_two(clip_model):
    torch.manual_seed(0)
    block = clip_model.visual.transformer.resblocks[-1]
    x = torch.randn(2, 197, 128)
    expected, weights = _csa_by_formula(x, block.attn)
    assert torch.allclose(correlative_self_attention(x, block.attn), expected, atol=1e-5)
    for a in weights:
        assert torch.allclose(a.sum(-1), torch.full(a.shape[:-1], 2.0), atol=1e-5)


def test_csa_differs_from_ordinary_attention(clip_model):
    block = clip_model.visual.transformer.resblocks[-1]
    x = torch.randn(1, 197, 128)
    ordinary = block.attn(x, x, x, need_weights=False)[0]
    assert not torch.allclose(correlative_self_attention(x, block.attn), ordinary, atol=1e-3)


def test_encoder_keeps_residual_and_mlp_and_projects_all_tokens(clip_model):
    torch.manual_seed(0)
    visual = clip_model.visual
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        # independent reference: embed, run blocks 0..L-2 as open_clip does, then CSA block by hand
        x = visual.conv1(images).flatten(2).transpose(1, 2)
        x = torch.cat([visual.class_embedding.expand(2, 1, -1), x], 1) + visual.positional_embedding
        x = visual.ln_pre(x)
        for block in visual.transformer.resblocks[:-1]:
            x = block(x)
        last = visual.transformer.resblocks[-1]
        x = x + _csa_by_formula(last.ln_1(x), last.attn)[0]
        x = x + last.mlp(last.ln_2(x))
        expected = F.normalize((visual.ln_post(x) @ visual.proj)[:, 1:], dim=-1).reshape(2, 14, 14, -1)
        features = CSAImageEncoder(clip_model)(images)
    assert features.shape == (2, 14, 14, 64)
    assert torch.allclose(features, expected, atol=1e-5)
    assert torch.allclose(features.norm(dim=-1), torch.ones(2, 14, 14), atol=1e-5)


@pytest.mark.parametrize("grid", [(10, 16), (21, 21), (1, 3)])
def test_positional_embedding_uses_sclips_scale_factor_resize(clip_model, grid):
    """SCLIP (after DINO) resizes by scale_factor=(grid + 0.1) / 14, which samples differently from size=grid."""
    grid_h, grid_w = grid
    encoder = CSAImageEncoder(clip_model)
    pos = encoder.positional_embedding(grid_h, grid_w)
    assert pos.shape == (1 + grid_h * grid_w, 128)
    assert torch.equal(pos[0], clip_model.visual.positional_embedding[0])  # CLS position kept
    trained = clip_model.visual.positional_embedding[1:].reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
    expected = F.interpolate(trained, scale_factor=((grid_h + 0.1) / 14, (grid_w + 0.1) / 14), mode="bicubic")
    expected = expected.permute(0, 2, 3, 1).reshape(grid_h * grid_w, -1)
    assert torch.equal(pos[1:], expected)
    by_size = F.interpolate(trained, size=grid, mode="bicubic", align_corners=False)
    assert not torch.allclose(pos[1:], by_size.permute(0, 2, 3, 1).reshape(grid_h * grid_w, -1), atol=1e-3)
    # a non-square crop runs end to end
    assert encoder(torch.randn(1, 3, 16 * grid_h, 16 * grid_w)).shape == (1, grid_h, grid_w, 64)


def test_feature_layers_average_normalised_csa_features(clip_model):
    images = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        last = CSAImageEncoder(clip_model)(images)
        explicit_last = CSAImageEncoder(clip_model, feature_layers=[3])(images)
        mixed = CSAImageEncoder(clip_model, feature_layers=[2, 3])(images)
        second = CSAImageEncoder(clip_model, feature_layers=[2])(images)
    assert torch.allclose(last, explicit_last)
    assert torch.allclose(mixed, F.normalize(last + second, dim=-1), atol=1e-5)
    with pytest.raises(SCLIPSettingsError, match="feature layers must lie in 1..3") as info:
        CSAImageEncoder(clip_model, feature_layers=[0, 7])
    assert info.value.setting == "feature_layers" and "--" not in str(info.value)


def test_load_clip_reads_openai_checkpoint_and_reports_missing_file(tiny_clip_checkpoint, tmp_path):
    loaded = load_clip("ViT-B-16", tiny_clip_checkpoint)
    assert loaded.model.visual.patch_size == (16, 16)
    assert loaded.weights_id.startswith("file:")
    reference = build_tiny_clip(seed=0)
    # open_clip's OpenAI loader stores weights in fp16 (as OpenAI released them), then upcasts
    assert torch.equal(loaded.model.visual.proj, reference.visual.proj.half().float())

    from sclip import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError, match="CLIP weights file not found") as info:
        load_clip("ViT-B-16", tmp_path / "absent.pt")
    assert info.value.model == str(tmp_path / "absent.pt") and "--" not in str(info.value)  # the CLI adds flags
    garbage = tmp_path / "garbage.pt"
    garbage.write_text("not a checkpoint")
    with pytest.raises(WeightsNotFoundError, match="not an OpenAI-format CLIP checkpoint"):
        load_clip("ViT-B-16", garbage)


def test_hub_route_fails_with_one_clear_line_offline():
    from sclip import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError) as info:
        load_clip("ViT-B-16")
    message = str(info.value)
    assert "\n" not in message and "ViT-B-16" in message and info.value.model == "ViT-B-16"


def test_hub_route_builds_quickgelu_like_openai_trained(monkeypatch):
    """OpenAI's weights were trained with QuickGELU; open_clip 3 only warns if the plain config is used."""
    import open_clip
    from open_clip.transformer import QuickGELU

    real_create = open_clip.create_model

    def create_without_download(name, pretrained=None, **kwargs):
        assert pretrained == "openai"
        return real_create(name, pretrained=None, **kwargs)

    monkeypatch.setattr(open_clip, "create_model", create_without_download)
    loaded = load_clip("ViT-B-16")
    assert isinstance(loaded.model.visual.transformer.resblocks[0].mlp.gelu, QuickGELU)
    assert isinstance(loaded.model.transformer.resblocks[0].mlp.gelu, QuickGELU)
    assert loaded.weights_id == "open_clip:ViT-B-16:openai"
