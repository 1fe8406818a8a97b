import json

import numpy as np
import pytest
from loaded_modules import heavy_modules, loaded_modules

import inpaint
from inpaint import (
    DEFAULT_NEGATIVE_PROMPT,
    DEFAULT_STRENGTH,
    MODES,
    PROMPT_SUFFIXES,
    REMOVE_PROMPT,
    DiffusionInpainter,
    EditResult,
    InpaintSettings,
    OpenCVRemover,
    SettingsError,
    build_prompts,
)


def test_remove_names_the_target_only_in_the_negative_prompt():
    prompts = build_prompts("remove", "traffic cone", None)
    assert "traffic cone" in prompts.negative_prompt
    assert "traffic cone" not in prompts.prompt


def test_replace_paints_the_edit_description():
    prompts = build_prompts("replace", "car", "a red vintage bus")
    assert "a red vintage bus" in prompts.prompt
    assert "car" not in prompts.negative_prompt  # the replacement may well be a car


def test_style_keeps_the_subject_and_adds_the_style():
    prompts = build_prompts("style", "sky", "dramatic sunset with purple clouds")
    assert "sky" in prompts.prompt and "dramatic sunset with purple clouds" in prompts.prompt


@pytest.mark.parametrize("mode", ["remove", "replace", "style"])
def test_user_negative_prompt_is_appended_to_the_modes_own(mode):
    plain = build_prompts(mode, "dog", "a cat")
    extended = build_prompts(mode, "dog", "a cat", extra_negative="  cartoon  ")
    assert extended.negative_prompt == f"{plain.negative_prompt}, cartoon"
    assert extended.prompt == plain.prompt


@pytest.mark.parametrize("mode, edit", [("replace", None), ("replace", "   "), ("style", None), ("style", "")])
def test_replace_and_style_need_an_edit_description(mode, edit):
    with pytest.raises(ValueError, match="edit"):
        build_prompts(mode, "car", edit)


def test_remove_needs_a_target_and_unknown_modes_are_refused():
    with pytest.raises(ValueError, match="target"):
        build_prompts("remove", " ", None)
    with pytest.raises(ValueError, match="unknown edit mode"):
        build_prompts("segment", "car", None)


def test_strength_defaults_per_mode_and_explicit_strength_wins():
    settings = InpaintSettings()
    assert [settings.strength_for(mode) for mode in MODES] == [DEFAULT_STRENGTH[mode] for mode in MODES]
    assert settings.strength_for("remove") == 1.0 and settings.strength_for("style") < 1.0
    assert InpaintSettings(strength=0.3).strength_for("remove") == 0.3


def test_prompts_are_built_from_the_public_wording():
    assert build_prompts("remove", "car", None).prompt == REMOVE_PROMPT
    replace = build_prompts("replace", "car", "a bus")
    assert replace.prompt == f"a bus, {PROMPT_SUFFIXES['replace']}" and replace.negative_prompt == DEFAULT_NEGATIVE_PROMPT
    assert build_prompts("style", "sky", "van Gogh").prompt == f"sky, van Gogh, {PROMPT_SUFFIXES['style']}"
    assert "photorealistic, highly detailed" in PROMPT_SUFFIXES["replace"]


@pytest.mark.parametrize(
    "bad",
    [
        {"steps": 0},
        {"guidance": -1.0},
        {"guidance": float("nan")},
        {"guidance": float("inf")},
        {"strength": 0.0},
        {"strength": 1.5},
        {"strength": -0.2},
        {"seed": -1},
        {"seed": 2**64},
        {"mask_dilate": -2},
        {"mask_blur": -1},
        {"scheduler": "euler-turbo"},
    ],
)
def test_settings_refuse_bad_values_naming_the_field(bad):
    with pytest.raises(SettingsError) as error:
        InpaintSettings(**bad)
    (field,) = bad
    assert error.value.setting == field and error.value.exit_code == 2
    assert isinstance(error.value, ValueError)
    message = str(error.value)
    assert "\n" not in message and "--" not in message and field in message


@pytest.mark.parametrize(
    "mode, values",
    [("style", {"steps": 1, "strength": 0.5}), ("style", {"steps": 1}), ("replace", {"steps": 3, "strength": 0.3})],
)
def test_a_mode_left_without_denoising_steps_fails_up_front(mode, values):
    settings = InpaintSettings(**values)
    with pytest.raises(SettingsError) as error:
        settings.check_mode(mode)
    assert error.value.setting == "steps" and "--" not in str(error.value)
    needed = int(str(error.value).rsplit("at least ", 1)[1].split()[0])
    InpaintSettings(**{**values, "steps": needed}).check_mode(mode)  # the advice given works
    with pytest.raises(SettingsError):
        InpaintSettings(**{**values, "steps": needed - 1}).check_mode(mode)


def test_check_mode_agrees_with_diffusers_inpainting_timesteps(tiny_inpainter):
    pipeline = tiny_inpainter.pipeline
    for steps in (1, 2, 3, 5, 10):
        for strength in (0.05, 0.1, 0.3, 0.5, 0.6, 0.7, 0.99, 1.0):
            pipeline.scheduler.set_timesteps(steps)
            _, denoising_steps = pipeline.get_timesteps(steps, strength, "cpu")
            settings = InpaintSettings(steps=steps, strength=strength)
            if denoising_steps >= 1:
                settings.check_mode("style")
            else:
                with pytest.raises(SettingsError):
                    settings.check_mode("style")


def test_check_mode_refuses_unknown_modes():
    with pytest.raises(ValueError, match="unknown edit mode"):
        InpaintSettings().check_mode("segment")


def test_light_names_import_without_torch_or_diffusers():
    modules = loaded_modules(
        "from inpaint import (InpaintSettings, SettingsError, WeightsNotFoundError, DEFAULT_INPAINT_MODEL, MODES,\n"
        "    DEFAULT_STRENGTH, SCHEDULERS, PROMPT_SUFFIXES, REMOVE_PROMPT, DEFAULT_NEGATIVE_PROMPT)\n"
        "InpaintSettings(steps=1).check_mode('remove')"
    )
    assert "inpaint.settings" in modules
    assert heavy_modules(modules) == set() and "cv2" not in modules


def test_heavy_names_load_on_first_access():
    from inpaint.diffusion import DiffusionInpainter as defined

    assert inpaint.DiffusionInpainter is defined
    assert "DiffusionInpainter" in dir(inpaint)
    with pytest.raises(AttributeError, match="no_such_name"):
        inpaint.no_such_name  # noqa: B018


def test_supported_modes_are_known_before_any_model_is_loaded():
    assert DiffusionInpainter.supported_modes == MODES
    assert OpenCVRemover.supported_modes == ("remove",)


def test_result_metadata_is_json_ready_and_leaves_out_the_image():
    result = EditResult(
        image=np.zeros((4, 4, 3), np.uint8),
        mode="replace",
        model="some/model",
        prompt="p",
        negative_prompt="n",
        seed=7,
        strength=1.0,
        steps=20,
        guidance=7.5,
        scheduler="DDIMScheduler",
        crop_box=(0, 1, 4, 4),
        seconds=0.5,
        dtype="float16",
    )
    record = json.loads(json.dumps(result.metadata()))
    assert "image" not in record
    assert record["seed"] == 7 and record["crop_box"] == [0, 1, 4, 4] and record["prompt"] == "p"
    assert record["dtype"] == "float16"
