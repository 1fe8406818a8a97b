"""Loading DINO for CorrCLIP: DINO-format state dicts (architecture read from the tensors, strict), the hub
route offline, and one-line errors a front end can extend with its flag."""
import pytest
import torch

from sclip.corrclip.dino import DINOCorrelationFeatures, load_dino
from sclip.errors import DINOWeightsNotFoundError, WeightsNotFoundError
from tiny_dino import save_tiny_dino_checkpoint, tiny_dino_state_dict

# The key names of the DINO repository's VisionTransformer without its head (dino_vitb8_pretrain.pth), per block.
DINO_BLOCK_KEYS = [
    "norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
    "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
]


def test_tiny_state_dict_has_exactly_the_dino_repository_keys():
    state = tiny_dino_state_dict(depth=3)
    expected = {"cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias", "norm.weight", "norm.bias"}
    expected |= {f"blocks.{index}.{key}" for index in range(3) for key in DINO_BLOCK_KEYS}
    assert set(state) == expected


def test_architecture_is_read_from_the_tensors(tmp_path):
    path = save_tiny_dino_checkpoint(tmp_path, depth=3, width=192, patch=8, grid=28)
    loaded = load_dino(path)
    vit = loaded.model
    assert len(vit.blocks) == 3 and vit.embed_dim == 192
    assert vit.blocks[0].attn.num_heads == 3  # width / 64
    assert vit.patch_embed.proj.kernel_size == (8, 8)
    assert loaded.name == path.name and loaded.weights_id.startswith("file:")
    state = torch.load(path, weights_only=True)
    assert torch.equal(vit.blocks[2].attn.qkv.weight, state["blocks.2.attn.qkv.weight"])
    features = DINOCorrelationFeatures(vit)(torch.zeros(1, 3, 56, 112))
    assert features.shape == (1, 7 * 14, 192)  # positional grid 28x28 resized to 7x14
    assert torch.allclose(features.norm(dim=-1), torch.ones(1, 98))


def test_missing_and_unexpected_keys_are_named(tmp_path):
    state = tiny_dino_state_dict()
    del state["blocks.1.attn.proj.bias"]
    state["head.weight"] = torch.zeros(2, 2)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(DINOWeightsNotFoundError) as caught:
        load_dino(path)
    message = str(caught.value)
    assert "missing blocks.1.attn.proj.bias" in message and "unexpected head.weight" in message
    assert "\n" not in message


@pytest.mark.parametrize("content", ["missing", "garbage", "clip"])
def test_unusable_files_fail_with_one_line(tmp_path, content):
    path = tmp_path / "dino.pth"
    if content == "garbage":
        path.write_bytes(b"not a checkpoint")
    elif content == "clip":
        torch.save({"visual.conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(DINOWeightsNotFoundError) as caught:
        load_dino(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    # a weights error like CLIP's (exit code 1, ``model`` set) that says which weights were missing
    assert isinstance(caught.value, WeightsNotFoundError) and caught.value.exit_code == 1
    assert caught.value.weights_kind == "dino"


def test_hub_route_offline_fails_fast_with_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DINOWeightsNotFoundError, match="vit_base_patch8_224.dino") as caught:
        load_dino(None)
    assert "\n" not in str(caught.value)
