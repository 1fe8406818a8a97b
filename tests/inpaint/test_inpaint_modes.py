import json

import numpy as np
import pytest

from inpaint import (
    DEFAULT_STRENGTH,
    MODES,
    DiffusionInpainter,
    EditResult,
    InpaintSettings,
    OpenCVRemover,
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


@pytest.mark.parametrize(
    "bad",
    [
        {"steps": 0},
        {"guidance": -1.0},
        {"strength": 0.0},
        {"strength": 1.5},
        {"seed": -1},
        {"mask_dilate": -2},
        {"mask_blur": -1},
        {"scheduler": "euler-turbo"},
    ],
)
def test_settings_refuse_bad_values(bad):
    with pytest.raises(ValueError):
        InpaintSettings(**bad)


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
    )
    record = json.loads(json.dumps(result.metadata()))
    assert "image" not in record
    assert record["seed"] == 7 and record["crop_box"] == [0, 1, 4, 4] and record["prompt"] == "p"
