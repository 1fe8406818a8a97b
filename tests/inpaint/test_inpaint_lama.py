"""LaMa removal through the user's loader path, with a tiny TorchScript model of the same calling convention."""

from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import numpy as np
import pytest
from tiny_lama import save_tiny_lama

import inpaint.lama
from inpaint import (
    DEFAULT_LAMA_WEIGHTS,
    InpainterOptions,
    InpaintSettings,
    LamaRemover,
    SettingsError,
    UnsupportedModelError,
    WeightsNotFoundError,
    build_inpainter,
    feather_mask,
)


@pytest.fixture(scope="module")
def lama_file(tmp_path_factory) -> Path:
    return save_tiny_lama(tmp_path_factory.mktemp("lama") / "big-lama.pt")


@pytest.fixture(scope="module")
def remover(lama_file) -> LamaRemover:
    return build_inpainter(InpainterOptions(kind="lama", lama_weights=str(lama_file)), progress=False)


@pytest.fixture
def network_inputs(remover, monkeypatch):
    """Shapes of the (image, mask) pairs the network is called with."""
    seen = []
    network = remover.network

    def spy(image, mask):
        seen.append((tuple(image.shape), tuple(mask.shape)))
        return network(image, mask)

    monkeypatch.setattr(remover, "network", spy)
    return seen


def _image_and_mask(height, width, box, seed=0):
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), bool)
    top, left, bottom, right = box
    mask[top:bottom, left:right] = True
    return image, mask


@pytest.mark.parametrize("dilate, blur", [(5, 8), (0, 0)])
def test_only_region_pixels_change(remover, dilate, blur):
    image, mask = _image_and_mask(96, 128, (30, 40, 60, 90))
    settings = InpaintSettings(mask_dilate=dilate, mask_blur=blur)
    result = remover.edit(image, mask, "remove", "car", settings=settings)
    outside = feather_mask(mask, dilate, blur) == 0
    assert np.array_equal(result.image[outside], image[outside])
    assert np.any(result.image[mask] != image[mask])
    assert (result.inpainter, result.model, result.mode) == ("lama", remover.weights, "remove")
    assert result.prompt is None and result.seed is None and result.steps is None and result.dtype == "float32"


def test_removal_is_deterministic(remover):
    image, mask = _image_and_mask(64, 64, (10, 10, 40, 40))
    first, again = (remover.edit(image, mask, "remove", "car").image for _ in range(2))
    assert np.array_equal(first, again)


@pytest.mark.parametrize("height, width", [(37, 100), (9, 9), (2, 3), (300, 200)])
def test_any_size_is_padded_to_multiples_of_8_and_comes_back_at_its_size(remover, network_inputs, height, width):
    # The tiny model raises on sides that are not multiples of 8, on pixels outside [0, 1] and on a soft mask.
    image, mask = _image_and_mask(height, width, (height // 3, width // 3, height // 3 + 1, width // 3 + 1))
    result = remover.edit(image, mask, "remove", "car")
    assert result.image.shape == (height, width, 3)
    ((image_shape, mask_shape),) = network_inputs
    assert image_shape[2] % 8 == 0 and image_shape[3] % 8 == 0 and mask_shape[1] == 1
    outside = feather_mask(mask, 5, 8) == 0
    assert np.array_equal(result.image[outside], image[outside])


def test_a_small_region_in_a_large_photo_costs_what_its_region_costs(remover, network_inputs):
    # 3000 x 4000 is a 12-MP photo; the network sees a window of about MIN_SIDE around the region, never the photo.
    image = np.zeros((3000, 4000, 3), np.uint8)
    image[..., 1] = 120
    mask = np.zeros((3000, 4000), bool)
    mask[1500:1560, 2000:2080] = True
    result = remover.edit(image, mask, "remove", "car")
    ((image_shape, _),) = network_inputs
    assert max(image_shape[2:]) <= inpaint.lama.MIN_SIDE
    x0, y0, x1, y1 = result.crop_box
    assert (x1 - x0) * (y1 - y0) <= inpaint.lama.MIN_SIDE**2
    band = feather_mask(mask, 5, 8) > 0
    changed = np.any(result.image != image, axis=2)
    assert changed[mask].any() and not changed[~band].any()


def test_a_large_region_is_shrunk_to_max_side_and_pasted_back_exactly(lama_file):
    remover = LamaRemover(str(lama_file), max_side=inpaint.lama.MIN_SIDE, progress=False)
    seen = []
    network = remover.network
    remover.network = lambda image, mask: seen.append(tuple(image.shape)) or network(image, mask)
    image, mask = _image_and_mask(700, 600, (50, 50, 650, 550))
    result = remover.edit(image, mask, "remove", "car", settings=InpaintSettings(mask_dilate=0, mask_blur=0))
    ((_, _, height, width),) = seen
    assert max(height, width) <= remover.max_side + 7 and height % 8 == 0 and width % 8 == 0
    assert result.image.shape == image.shape
    assert np.array_equal(result.image[~mask], image[~mask])


@pytest.mark.parametrize("mode", ["replace", "style"])
def test_lama_only_removes(remover, mode):
    image, mask = _image_and_mask(32, 32, (8, 8, 16, 16))
    with pytest.raises(ValueError, match="only: remove") as error:
        remover.edit(image, mask, mode, "car", "a bus")
    assert "\n" not in str(error.value)
    with pytest.raises(SettingsError) as usage:
        InpainterOptions(kind="lama").check_mode(mode)
    assert usage.value.setting == "kind" and "remove" in str(usage.value) and "\n" not in str(usage.value)


def test_a_folder_holding_the_weights_loads_the_same_model(lama_file, remover):
    from_folder = LamaRemover(str(lama_file.parent), progress=False)
    assert from_folder.path == lama_file
    image, mask = _image_and_mask(64, 64, (10, 10, 40, 40))
    assert np.array_equal(from_folder.edit(image, mask, "remove", "x").image, remover.edit(image, mask, "remove", "x").image)


def test_a_hub_repository_is_read_from_the_standard_cache_offline(lama_file, tmp_path, monkeypatch):
    # The hub's cache layout: refs/main names the snapshot that holds the file, as after a first download.
    repository = tmp_path / "models--someone--big-lama"
    (repository / "refs").mkdir(parents=True)
    (repository / "refs" / "main").write_text("0" * 40)
    snapshot = repository / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "big-lama.pt").write_bytes(lama_file.read_bytes())
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    remover = LamaRemover("someone/big-lama", progress=False)
    assert remover.path.resolve() == (snapshot / "big-lama.pt").resolve() and remover.weights == "someone/big-lama"


def _assert_one_line(error, setting="lama_weights"):
    message = str(error.value)
    assert "\n" not in message and "--" not in message  # the CLI, not the stage, names its flags
    assert error.value.setting == setting and error.value.exit_code == 1


def test_missing_weights_are_one_line_errors_naming_the_setting(tmp_path):
    for missing in (str(tmp_path / "nowhere" / "big-lama.pt"), str(tmp_path / "no-such-folder")):
        with pytest.raises(WeightsNotFoundError) as error:
            LamaRemover(missing)
        _assert_one_line(error)
    with pytest.raises(WeightsNotFoundError) as error:
        LamaRemover(str(tmp_path))  # a folder without weights
    _assert_one_line(error)
    assert "no TorchScript file" in str(error.value)


def test_an_uncached_hub_repository_offline_is_weights_not_found():
    assert huggingface_hub.constants.HF_HUB_OFFLINE  # tests/conftest.py; a real miss would wait on the network
    with pytest.raises(WeightsNotFoundError) as error:
        LamaRemover("sclip-edit-tests/no-such-lama")
    _assert_one_line(error)
    assert "sclip-edit-tests/no-such-lama" in str(error.value) and "network" in str(error.value)


def test_a_file_that_is_not_torchscript_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "big-lama.pt"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(UnsupportedModelError) as error:
        LamaRemover(str(bad))
    _assert_one_line(error)
    assert "TorchScript" in str(error.value)


def test_options_default_to_the_published_weights():
    options = InpainterOptions(kind="lama")
    assert options.weights == DEFAULT_LAMA_WEIGHTS and DEFAULT_LAMA_WEIGHTS.count("/") == 1
