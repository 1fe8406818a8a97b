import subprocess
import sys
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
import torch

from refine import (
    SAM2_MODELS,
    CheckpointMismatchError,
    CheckpointReadError,
    SAM2SettingsError,
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


def test_random_checkpoint_loads_through_the_user_path(tiny_sam2_checkpoint, saved_state_dict):
    checkpoint, _ = tiny_sam2_checkpoint
    model = load_sam2(checkpoint=checkpoint)  # config inferred from the file name
    assert not model.training and model.image_size == 1024  # the released configs' input size
    loaded = model.state_dict()
    assert loaded.keys() == saved_state_dict.keys()
    assert all(torch.equal(loaded[key], saved_state_dict[key]) for key in saved_state_dict)
    assert {parameter.device.type for parameter in model.parameters()} == {"cpu"}
    assert {parameter.dtype for parameter in model.parameters()} == {torch.float32}


def _save(state_dict, path):
    torch.save({"model": state_dict}, path)
    return path


def _assert_one_line_without_flags(error):
    message = str(error)
    assert "\n" not in message and "--" not in message and "weights_only" not in message
    assert error.exit_code == 1


def test_missing_unexpected_and_wrongly_shaped_keys_are_named(tmp_path, tiny_sam2_checkpoint, saved_state_dict):
    _, config = tiny_sam2_checkpoint
    dropped = "image_encoder.neck.convs.0.conv.weight"
    reshaped = "image_encoder.neck.convs.0.conv.bias"
    broken = {key: value for key, value in saved_state_dict.items() if key != dropped}
    broken["head.extra_weight"] = torch.zeros(3)
    broken[reshaped] = torch.zeros(saved_state_dict[reshaped].numel() + 1)
    with pytest.raises(CheckpointMismatchError) as caught:
        load_sam2(checkpoint=_save(broken, tmp_path / "tiny.pt"), config=config)
    error = caught.value
    assert (error.missing, error.unexpected, error.mismatched_shapes) == ([dropped], ["head.extra_weight"], [reshaped])
    message = str(error)
    assert "1 missing key" in message and "1 unexpected key" in message and "1 wrongly shaped key" in message
    assert dropped in message and reshaped in message and config in message
    _assert_one_line_without_flags(error)


def test_wrong_size_config_lists_counts_and_only_a_few_keys(tiny_sam2_checkpoint):
    checkpoint, _ = tiny_sam2_checkpoint
    with pytest.raises(CheckpointMismatchError) as caught:
        load_sam2(checkpoint=checkpoint, config="sam2.1_hiera_s")
    error = caught.value
    assert error.missing and "more)" in str(error)
    assert str(error).count("image_encoder") < len(error.missing) + len(error.unexpected)
    _assert_one_line_without_flags(error)


def test_missing_checkpoint_file(tmp_path):
    missing = tmp_path / "nowhere.pt"
    with pytest.raises(WeightsNotFoundError) as caught:
        load_sam2(checkpoint=missing)
    assert str(missing) in str(caught.value) and caught.value.model == str(missing)
    _assert_one_line_without_flags(caught.value)


def test_offline_hub_download_is_a_one_line_weights_error(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as caught:
        load_sam2("facebook/sam2.1-hiera-tiny")
    assert "facebook/sam2.1-hiera-tiny" in str(caught.value) and caught.value.model == "facebook/sam2.1-hiera-tiny"
    _assert_one_line_without_flags(caught.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (lambda path: path.write_bytes(np.random.default_rng(0).bytes(4096)), "corrupt"),
        (lambda path: path.write_bytes(b""), "truncated"),
        (lambda path: torch.save(torch.nn.Linear(2, 2), path), "Python objects"),
        (lambda path: torch.save([torch.zeros(1)], path), "'model'"),
        (lambda path: torch.save({"weight": torch.zeros(1)}, path), "'model'"),
        (lambda path: torch.save({"model": {"weight": 1.0}}, path), "not tensors"),
    ],
    ids=["random-bytes", "empty", "pickled-module", "list", "no-model-entry", "not-tensors"],
)
def test_unreadable_checkpoint_is_a_weights_error(tmp_path, content, problem):
    path = tmp_path / "broken.pt"
    content(path)
    with pytest.raises(CheckpointReadError, match=problem) as caught:
        load_sam2(checkpoint=path, config="sam2.1_hiera_t")
    assert str(caught.value).startswith(f"cannot read SAM2 checkpoint {path}")
    _assert_one_line_without_flags(caught.value)


def test_unknown_names_are_settings_errors_listing_the_valid_ones(tiny_sam2_checkpoint):
    checkpoint, _ = tiny_sam2_checkpoint
    with pytest.raises(SAM2SettingsError, match="configs/sam2.1/sam2.1_hiera_t.yaml") as caught:
        load_sam2(checkpoint=checkpoint, config="sam2.1_hiera_huge")
    assert caught.value.setting == "config" and caught.value.exit_code == 2
    with pytest.raises(SAM2SettingsError, match="facebook/sam2.1-hiera-large") as caught:
        load_sam2("facebook/sam3-hiera-huge")
    assert caught.value.setting == "model"
    with pytest.raises(SAM2SettingsError, match="local checkpoint") as caught:
        load_sam2(config="sam2.1_hiera_t")
    assert caught.value.setting == "config" and "--" not in str(caught.value)


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


def test_settings_and_model_names_import_without_torch():
    code = (
        "import sys, refine; refine.MaskGeneratorSettings(); refine.SAM2_MODELS; refine.DEFAULT_SAM2_MODEL; "
        "print(sorted(name for name in ('torch', 'sam2', 'cv2', 'pycocotools') if name in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert done.stdout.strip() == "[]"
