import logging

import huggingface_hub
import numpy as np
import pytest
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

from inpaint import DiffusionInpainter, InpaintSettings, WeightsNotFoundError, feather_mask

FAST = {"steps": 2, "guidance": 7.5}


def _image_and_mask(height, width, box, seed=0):
    """A random image and a rectangular mask; box is (top, left, bottom, right)."""
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), bool)
    top, left, bottom, right = box
    mask[top:bottom, left:right] = True
    return image, mask


def test_result_has_the_input_shape_and_records_the_run(tiny_inpainter, tiny_inpaint_model):
    image, mask = _image_and_mask(64, 64, (20, 20, 40, 44))
    result = tiny_inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=3, **FAST))
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    assert (result.mode, result.model, result.seed) == ("remove", tiny_inpaint_model, 3)
    assert (result.steps, result.guidance, result.strength) == (2, 7.5, 1.0)
    assert result.scheduler == "DDIMScheduler"
    assert result.crop_box == (0, 0, 64, 64)
    assert result.seconds > 0
    assert np.any(result.image[mask] != image[mask])


def test_a_seed_reproduces_the_image_and_another_seed_changes_it(tiny_inpainter):
    image, mask = _image_and_mask(64, 64, (10, 10, 50, 50))
    first, again, other = (
        tiny_inpainter.edit(image, mask, "replace", "car", "a bus", settings=InpaintSettings(seed=seed, **FAST))
        for seed in (11, 11, 12)
    )
    assert np.array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)


def test_a_drawn_seed_is_returned_and_reproduces_the_run(tiny_inpainter):
    image, mask = _image_and_mask(64, 64, (10, 10, 50, 50))
    drawn = tiny_inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(**FAST))
    assert isinstance(drawn.seed, int)
    replay = tiny_inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=drawn.seed, **FAST))
    assert np.array_equal(drawn.image, replay.image)


@pytest.mark.parametrize("dilate, blur", [(5, 8), (0, 0), (2, 3)])
def test_pixels_outside_the_feathered_mask_are_exactly_the_original(tiny_inpainter, dilate, blur):
    image, mask = _image_and_mask(64, 64, (24, 16, 36, 30))
    settings = InpaintSettings(seed=0, mask_dilate=dilate, mask_blur=blur, **FAST)
    result = tiny_inpainter.edit(image, mask, "remove", "car", settings=settings)
    outside = feather_mask(mask, dilate, blur) == 0
    assert np.array_equal(result.image[outside], image[outside])
    assert np.any(result.image[~outside] != image[~outside])


@pytest.mark.parametrize("height, width", [(37, 100), (200, 300), (300, 200), (9, 9)])
def test_any_input_size_comes_back_at_that_size(tiny_inpainter, height, width):
    image, mask = _image_and_mask(height, width, (height // 3, width // 3, height // 3 + 3, width // 3 + 3))
    result = tiny_inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=0, **FAST))
    assert result.image.shape == (height, width, 3)
    outside = feather_mask(mask, 5, 8) == 0
    assert np.array_equal(result.image[outside], image[outside])


def test_a_small_region_in_a_large_image_is_edited_in_a_crop(tiny_inpainter):
    image, mask = _image_and_mask(700, 900, (400, 500, 420, 530))
    result = tiny_inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=0, **FAST))
    x0, y0, x1, y1 = result.crop_box
    assert x1 - x0 == y1 - y0 >= tiny_inpainter.resolution
    assert (x1 - x0) * (y1 - y0) < image.shape[0] * image.shape[1] / 20
    band = feather_mask(mask, 5, 8) > 0
    assert band[y0:y1, x0:x1].sum() == band.sum()  # the crop holds the whole feathered region
    assert np.array_equal(result.image[~band], image[~band])
    assert np.any(result.image[mask] != image[mask])


@pytest.mark.parametrize("mode, edit", [("remove", None), ("replace", "a red bus"), ("style", "oil painting")])
def test_each_mode_returns_its_prompts(tiny_inpainter, mode, edit):
    image, mask = _image_and_mask(64, 64, (20, 20, 40, 40))
    settings = InpaintSettings(seed=0, negative_prompt="cartoon", **FAST)
    result = tiny_inpainter.edit(image, mask, mode, "car", edit, settings=settings)
    assert result.negative_prompt.endswith("cartoon")
    if mode == "remove":
        assert "car" in result.negative_prompt and "car" not in result.prompt
    else:
        assert edit in result.prompt
    assert result.strength == (0.6 if mode == "style" else 1.0)


@pytest.mark.parametrize("mode", ["replace", "style"])
def test_replace_and_style_without_edit_fail_before_running(tiny_inpainter, mode):
    image, mask = _image_and_mask(64, 64, (20, 20, 40, 40))
    with pytest.raises(ValueError, match="edit"):
        tiny_inpainter.edit(image, mask, mode, "car", None, settings=InpaintSettings(**FAST))


def test_bad_inputs_are_value_errors(tiny_inpainter):
    image, mask = _image_and_mask(64, 64, (20, 20, 40, 40))
    with pytest.raises(ValueError, match="mask"):
        tiny_inpainter.edit(image, mask[:32], "remove", "car", settings=InpaintSettings(**FAST))
    with pytest.raises(ValueError, match="empty"):
        tiny_inpainter.edit(image, np.zeros_like(mask), "remove", "car", settings=InpaintSettings(**FAST))
    with pytest.raises(ValueError, match="steps"):
        tiny_inpainter.edit(image, mask, "style", "car", "x", settings=InpaintSettings(steps=1, strength=0.5))


def test_dpm_scheduler_is_built_from_the_models_scheduler_config(tiny_inpaint_model):
    inpainter = DiffusionInpainter(tiny_inpaint_model, scheduler="dpm++", progress=False)
    scheduler = inpainter.pipeline.scheduler
    assert isinstance(scheduler, DPMSolverMultistepScheduler)
    assert scheduler.config.beta_schedule == "scaled_linear" and scheduler.config.beta_end == 0.012
    image, mask = _image_and_mask(64, 64, (20, 20, 40, 40))
    result = inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=0, **FAST))
    assert result.scheduler == "DPMSolverMultistepScheduler"


def test_settings_can_pick_the_scheduler_for_one_edit(tiny_inpainter):
    image, mask = _image_and_mask(64, 64, (20, 20, 40, 40))
    dpm = tiny_inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=0, scheduler="dpm++", **FAST))
    own = tiny_inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=0, **FAST))
    assert dpm.scheduler == "DPMSolverMultistepScheduler"
    assert own.scheduler == "DDIMScheduler" and isinstance(tiny_inpainter.pipeline.scheduler, DDIMScheduler)
    assert not np.array_equal(dpm.image, own.image)


def test_cpu_run_warns_about_speed_and_ignores_low_vram(tiny_inpaint_model, caplog):
    with caplog.at_level(logging.WARNING, logger="inpaint.diffusion"):
        inpainter = DiffusionInpainter(tiny_inpaint_model, device="cpu", low_vram=True, progress=False)
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "CPU" in messages and "low_vram only applies on CUDA" in messages
    assert inpainter.pipeline.device.type == "cpu"
    image, mask = _image_and_mask(64, 64, (20, 20, 40, 40))
    result = inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=0, **FAST))
    assert result.image.shape == (64, 64, 3)


def test_bad_constructor_arguments_fail_before_loading(tiny_inpaint_model):
    with pytest.raises(ValueError, match="dtype"):
        DiffusionInpainter(tiny_inpaint_model, dtype="fp12")
    with pytest.raises(ValueError, match="scheduler"):
        DiffusionInpainter(tiny_inpaint_model, scheduler="turbo")


def _assert_one_line_naming(error, *words):
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert isinstance(error.value, FileNotFoundError)


def test_missing_directory_is_weights_not_found(tmp_path):
    missing = tmp_path / "no_model_here"
    with pytest.raises(WeightsNotFoundError) as error:
        DiffusionInpainter(str(missing))
    _assert_one_line_naming(error, str(missing), "--inpaint-model")


def test_directory_that_is_not_a_pipeline_is_weights_not_found(tmp_path):
    (tmp_path / "unet").mkdir()
    with pytest.raises(WeightsNotFoundError) as error:
        DiffusionInpainter(str(tmp_path))
    _assert_one_line_naming(error, "model_index.json", "--inpaint-model")


def test_uncached_hub_id_offline_is_weights_not_found():
    # Without offline mode a hub miss takes ~46 s to time out; tests/conftest.py turns it on.
    assert huggingface_hub.constants.HF_HUB_OFFLINE
    hub_id = "sclip-edit-tests/no-such-inpainting-model"
    with pytest.raises(WeightsNotFoundError) as error:
        DiffusionInpainter(hub_id)
    _assert_one_line_naming(error, hub_id, "--inpaint-model", "network")
