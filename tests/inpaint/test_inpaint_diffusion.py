import logging
from pathlib import Path

import huggingface_hub
import huggingface_hub.utils
import numpy as np
import pytest
import torch
from diffusers import (
    AutoPipelineForInpainting,
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    StableDiffusionInpaintPipeline,
)
from diffusers.utils import logging as diffusers_logging
from tiny_inpaint import write_clip_tokenizer_files
from transformers.utils import logging as transformers_logging

from inpaint import (
    DiffusionInpainter,
    InpaintSettings,
    SettingsError,
    WeightsNotFoundError,
    feather_mask,
)
from inpaint.diffusion import PROGRESS_LABEL

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
    assert result.dtype == "float32" and result.metadata()["dtype"] == "float32"
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
    with pytest.raises(SettingsError, match="steps") as error:
        tiny_inpainter.edit(image, mask, "style", "car", "x", settings=InpaintSettings(steps=1, strength=0.5))
    assert error.value.setting == "steps"


def test_cpu_run_warns_about_speed_and_ignores_low_vram(tiny_inpaint_model, caplog):
    with caplog.at_level(logging.WARNING, logger="inpaint.diffusion"):
        inpainter = DiffusionInpainter(tiny_inpaint_model, device="cpu", low_vram=True, progress=False)
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "CPU" in messages and "low_vram only applies on CUDA" in messages
    assert inpainter.pipeline.device.type == "cpu"
    image, mask = _image_and_mask(64, 64, (20, 20, 40, 40))
    result = inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=0, **FAST))
    assert result.image.shape == (64, 64, 3)


def test_dtype_must_be_a_torch_floating_point_dtype(tiny_inpaint_model):
    for bad in ("fp16", torch.int8):
        with pytest.raises(TypeError, match="dtype"):
            DiffusionInpainter(tiny_inpaint_model, dtype=bad)


def test_one_load_serves_every_scheduler_and_the_models_own_comes_back(tiny_inpainter, tiny_inpaint_model, monkeypatch):
    loads = []
    monkeypatch.setattr(StableDiffusionInpaintPipeline, "from_pretrained", lambda *args, **kwargs: loads.append(args))
    pipeline, unet = tiny_inpainter.pipeline, tiny_inpainter.pipeline.unet
    image, mask = _image_and_mask(64, 64, (20, 20, 40, 40))

    def edit(scheduler):
        settings = InpaintSettings(seed=5, scheduler=scheduler, **FAST)
        return tiny_inpainter.edit(image, mask, "remove", "car", settings=settings)

    before = edit(None)
    dpm = edit("dpm++")
    dpm_scheduler = tiny_inpainter.pipeline.scheduler
    after = edit(None)
    assert loads == [] and tiny_inpainter.pipeline is pipeline and tiny_inpainter.pipeline.unet is unet
    assert [result.scheduler for result in (before, dpm, after)] == [
        "DDIMScheduler", "DPMSolverMultistepScheduler", "DDIMScheduler"
    ]
    # DPM-Solver++ is built from the model's own noise schedule, and the model's scheduler comes back unchanged.
    assert isinstance(dpm_scheduler, DPMSolverMultistepScheduler)
    assert dpm_scheduler.config.beta_schedule == "scaled_linear" and dpm_scheduler.config.beta_end == 0.012
    saved = DDIMScheduler.from_pretrained(tiny_inpaint_model, subfolder="scheduler")
    assert isinstance(tiny_inpainter.pipeline.scheduler, DDIMScheduler)
    assert dict(tiny_inpainter.pipeline.scheduler.config) == dict(saved.config)
    assert np.array_equal(before.image, after.image)
    assert not np.array_equal(before.image, dpm.image)


@pytest.fixture(scope="module")
def half_precision_copy(tiny_inpaint_model, tmp_path_factory):
    """The tiny pipeline saved with float16 weights: loading it in float32 must upcast every sub-model."""
    folder = tmp_path_factory.mktemp("tiny_inpaint_fp16")
    pipeline = AutoPipelineForInpainting.from_pretrained(tiny_inpaint_model)
    pipeline.to(torch.float16)
    pipeline.save_pretrained(folder)
    write_clip_tokenizer_files(folder / "tokenizer")
    return str(folder)


def _parameter_dtypes(pipeline):
    return {
        (name, parameter.dtype)
        for name, module in pipeline.components.items()
        if isinstance(module, torch.nn.Module)
        for parameter in module.parameters()
    }


# bfloat16 stands for any precision other than the saved one: float16 is refused on the CPU (next test).
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_every_sub_model_runs_in_the_callers_dtype(half_precision_copy, dtype):
    inpainter = DiffusionInpainter(half_precision_copy, dtype=dtype, progress=False)
    names = {name for name, _ in _parameter_dtypes(inpainter.pipeline)}
    assert names == {"unet", "vae", "text_encoder"}
    assert {found for _, found in _parameter_dtypes(inpainter.pipeline)} == {dtype}
    if dtype == torch.float32:
        image, mask = _image_and_mask(64, 64, (20, 20, 40, 40))
        result = inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=0, **FAST))
        assert result.dtype == "float32"


def test_float16_on_the_cpu_is_a_one_line_settings_error_before_loading(tiny_inpaint_model, monkeypatch):
    monkeypatch.setattr(StableDiffusionInpaintPipeline, "from_pretrained", lambda *args, **kwargs: pytest.fail("loaded"))
    with pytest.raises(SettingsError) as error:
        DiffusionInpainter(tiny_inpaint_model, device="cpu", dtype=torch.float16)
    assert error.value.setting == "dtype" and error.value.exit_code == 2
    assert "\n" not in str(error.value) and "CPU" in str(error.value) and "float16" in str(error.value)


def test_without_a_dtype_the_cpu_runs_float32(tiny_inpainter):
    assert tiny_inpainter.dtype == torch.float32
    assert {found for _, found in _parameter_dtypes(tiny_inpainter.pipeline)} == {torch.float32}


def _bar_free(text):
    return "%|" not in text and "it/s" not in text and "Loading" not in text


def test_without_progress_no_library_draws_a_bar(tiny_inpaint_model, capfd):
    switches = (diffusers_logging.is_progress_bar_enabled(), transformers_logging.is_progress_bar_enabled(),
                huggingface_hub.utils.are_progress_bars_disabled())
    inpainter = DiffusionInpainter(tiny_inpaint_model, progress=False)
    image, mask = _image_and_mask(64, 64, (20, 20, 40, 40))
    inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=0, **FAST))
    captured = capfd.readouterr()
    assert _bar_free(captured.err) and _bar_free(captured.out)
    # The libraries' global switches are as they were: other code may well want its bars.
    assert switches == (diffusers_logging.is_progress_bar_enabled(), transformers_logging.is_progress_bar_enabled(),
                        huggingface_hub.utils.are_progress_bars_disabled())


def test_with_progress_the_denoising_bar_is_labelled(tiny_inpaint_model, capfd):
    inpainter = DiffusionInpainter(tiny_inpaint_model, progress=True)
    capfd.readouterr()  # the loading bars
    image, mask = _image_and_mask(64, 64, (20, 20, 40, 40))
    inpainter.edit(image, mask, "remove", "car", settings=InpaintSettings(seed=0, **FAST))
    assert f"{PROGRESS_LABEL}: 100%" in capfd.readouterr().err


def _assert_one_line_naming(error, model, *words):
    message = str(error.value)
    assert "\n" not in message and "--" not in message  # the CLI, not the stage, names its flags
    for word in words:
        assert word in message
    assert isinstance(error.value, FileNotFoundError)
    assert error.value.exit_code == 1 and error.value.model == model


def test_missing_directory_is_weights_not_found(tmp_path):
    missing = tmp_path / "no_model_here"
    with pytest.raises(WeightsNotFoundError) as error:
        DiffusionInpainter(str(missing))
    _assert_one_line_naming(error, str(missing), str(missing))


def test_directory_that_is_not_a_pipeline_is_weights_not_found(tmp_path):
    (tmp_path / "unet").mkdir()
    with pytest.raises(WeightsNotFoundError) as error:
        DiffusionInpainter(str(tmp_path))
    _assert_one_line_naming(error, str(tmp_path), "model_index.json")


@pytest.mark.parametrize("part", ["unet", "vae", "text_encoder", "tokenizer", "scheduler"])
def test_a_pipeline_folder_missing_a_part_names_it(tiny_inpaint_model, tmp_path, part):
    for entry in Path(tiny_inpaint_model).iterdir():
        if entry.name != part:
            (tmp_path / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    with pytest.raises(WeightsNotFoundError) as error:
        DiffusionInpainter(str(tmp_path))
    _assert_one_line_naming(error, str(tmp_path), f"no {part}/", str(tmp_path))


def test_uncached_hub_id_offline_is_weights_not_found():
    # Without offline mode a hub miss takes ~46 s to time out; tests/conftest.py turns it on.
    assert huggingface_hub.constants.HF_HUB_OFFLINE
    hub_id = "sclip-edit-tests/no-such-inpainting-model"
    with pytest.raises(WeightsNotFoundError) as error:
        DiffusionInpainter(hub_id)
    _assert_one_line_naming(error, hub_id, hub_id, "network")
