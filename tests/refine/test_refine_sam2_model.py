import huggingface_hub.constants
import pytest
import torch

from refine import (
    SAM2_MODELS,
    CheckpointMismatchError,
    WeightsNotFoundError,
    available_sam2_configs,
    infer_sam2_config,
    load_sam2,
    resolve_sam2_config,
)


@pytest.fixture(scope="module")
def saved_state_dict(tiny_sam2_checkpoint):
    checkpoint, _ = tiny_sam2_checkpoint
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]


def test_random_checkpoint_loads_through_the_user_path(tiny_sam2, saved_state_dict):
    assert not tiny_sam2.training
    loaded = tiny_sam2.state_dict()
    assert loaded.keys() == saved_state_dict.keys()
    assert all(torch.equal(loaded[key], saved_state_dict[key]) for key in saved_state_dict)
    assert {parameter.device.type for parameter in tiny_sam2.parameters()} == {"cpu"}


def test_config_is_inferred_from_the_checkpoint_name(tiny_sam2_checkpoint, saved_state_dict):
    checkpoint, _ = tiny_sam2_checkpoint
    model = load_sam2(checkpoint=checkpoint)
    first_key = next(iter(saved_state_dict))
    assert torch.equal(model.state_dict()[first_key], saved_state_dict[first_key])


def _save(state_dict, path):
    torch.save({"model": state_dict}, path)
    return path


def test_missing_key_is_named(tmp_path, tiny_sam2_checkpoint, saved_state_dict):
    _, config = tiny_sam2_checkpoint
    dropped = "image_encoder.neck.convs.0.conv.weight"
    partial = {key: value for key, value in saved_state_dict.items() if key != dropped}
    with pytest.raises(CheckpointMismatchError) as caught:
        load_sam2(checkpoint=_save(partial, tmp_path / "tiny.pt"), config=config)
    message = str(caught.value)
    assert dropped in message and "1 missing key" in message
    assert "\n" not in message
    assert caught.value.missing == [dropped] and caught.value.unexpected == []


def test_unexpected_key_is_named(tmp_path, tiny_sam2_checkpoint, saved_state_dict):
    _, config = tiny_sam2_checkpoint
    extra = dict(saved_state_dict, **{"head.extra_weight": torch.zeros(3)})
    with pytest.raises(CheckpointMismatchError) as caught:
        load_sam2(checkpoint=_save(extra, tmp_path / "tiny.pt"), config=config)
    assert "head.extra_weight" in str(caught.value) and "1 unexpected key" in str(caught.value)
    assert caught.value.unexpected == ["head.extra_weight"] and caught.value.missing == []


def test_wrongly_shaped_key_is_a_mismatch(tmp_path, tiny_sam2_checkpoint, saved_state_dict):
    _, config = tiny_sam2_checkpoint
    key = "image_encoder.neck.convs.0.conv.bias"
    reshaped = dict(saved_state_dict, **{key: torch.zeros(saved_state_dict[key].numel() + 1)})
    with pytest.raises(CheckpointMismatchError, match=key.replace(".", r"\.")):
        load_sam2(checkpoint=_save(reshaped, tmp_path / "tiny.pt"), config=config)


def test_wrong_size_config_lists_counts_and_only_a_few_keys(tiny_sam2_checkpoint):
    checkpoint, _ = tiny_sam2_checkpoint
    with pytest.raises(CheckpointMismatchError) as caught:
        load_sam2(checkpoint=checkpoint, config="sam2.1_hiera_s")
    error = caught.value
    assert error.missing and "more)" in str(error)
    assert str(error).count("image_encoder") < len(error.missing) + len(error.unexpected)


def test_missing_checkpoint_file(tmp_path):
    missing = tmp_path / "nowhere.pt"
    with pytest.raises(WeightsNotFoundError) as caught:
        load_sam2(checkpoint=missing)
    message = str(caught.value)
    assert str(missing) in message and "--sam2-checkpoint" in message and "\n" not in message


def test_offline_hub_download_is_a_one_line_weights_error(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as caught:
        load_sam2("facebook/sam2.1-hiera-tiny")
    message = str(caught.value)
    assert "facebook/sam2.1-hiera-tiny" in message and "--sam2-checkpoint" in message
    assert "\n" not in message


def test_unreadable_checkpoint_is_a_value_error(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read SAM2 checkpoint"):
        load_sam2(checkpoint=broken)
    bare = tmp_path / "bare.pt"
    torch.save({"weight": torch.zeros(1)}, bare)
    with pytest.raises(ValueError, match="'model' entry"):
        load_sam2(checkpoint=bare)


def test_unknown_names_list_the_valid_ones(tiny_sam2_checkpoint):
    checkpoint, _ = tiny_sam2_checkpoint
    with pytest.raises(ValueError, match="configs/sam2.1/sam2.1_hiera_t.yaml") as caught:
        load_sam2(checkpoint=checkpoint, config="sam2.1_hiera_huge")
    assert not isinstance(caught.value, CheckpointMismatchError)
    with pytest.raises(ValueError, match="facebook/sam2.1-hiera-large"):
        load_sam2("facebook/sam3-hiera-huge")
    with pytest.raises(ValueError, match="--sam2-checkpoint"):
        load_sam2(config="sam2.1_hiera_t")


def test_model_table_points_at_shipped_configs():
    shipped = set(available_sam2_configs())
    assert {release.config for release in SAM2_MODELS.values()} <= shipped
    assert {name.split("-")[-1] for name in SAM2_MODELS} == {"tiny", "small", "plus", "large"}


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("configs/sam2.1/sam2.1_hiera_l.yaml", "configs/sam2.1/sam2.1_hiera_l.yaml"),
        ("sam2.1_hiera_b+.yaml", "configs/sam2.1/sam2.1_hiera_b+.yaml"),
        ("sam2_hiera_s", "configs/sam2/sam2_hiera_s.yaml"),
    ],
)
def test_config_names_resolve(name, config):
    assert resolve_sam2_config(name) == config


@pytest.mark.parametrize(
    ("file_name", "config"),
    [
        ("sam2.1_hiera_tiny.pt", "configs/sam2.1/sam2.1_hiera_t.yaml"),
        ("sam2.1_hiera_small.pt", "configs/sam2.1/sam2.1_hiera_s.yaml"),
        ("sam2.1_hiera_base_plus.pt", "configs/sam2.1/sam2.1_hiera_b+.yaml"),
        ("sam2.1_hiera_b+.pt", "configs/sam2.1/sam2.1_hiera_b+.yaml"),
        ("my-finetuned-large.pt", "configs/sam2.1/sam2.1_hiera_l.yaml"),
        ("sam2_hiera_large.pt", "configs/sam2/sam2_hiera_l.yaml"),
        ("segmenter_s.pth", "configs/sam2.1/sam2.1_hiera_s.yaml"),
        ("weights.pt", "configs/sam2.1/sam2.1_hiera_t.yaml"),
    ],
)
def test_config_inferred_from_file_name(file_name, config):
    assert infer_sam2_config(f"/models/{file_name}") == config
