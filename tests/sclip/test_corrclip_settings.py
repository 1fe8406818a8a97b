"""CorrCLIP's settings (frozen, self-validating) and its per-benchmark presets (section 2 of the description)."""
import dataclasses

import pytest

from sclip import SCLIPSettingsError
from sclip.corrclip import (
    CorrCLIPSettings, corrclip_preset_names, corrclip_preset_settings, load_corrclip_preset, split_corrclip_names,
)


def test_defaults_are_corrclips():
    assert CorrCLIPSettings() == CorrCLIPSettings(short_side=336, slide_crop=336, slide_stride=112, logit_scale=40.0,
                                                  prob_thd=0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        CorrCLIPSettings().prob_thd = 0.5


@pytest.mark.parametrize("field, value", [
    ("prob_thd", 1.5), ("prob_thd", float("nan")), ("logit_scale", 0), ("logit_scale", True), ("short_side", 0),
    ("slide_crop", 2.5), ("slide_stride", -1),
])
def test_invalid_values_name_their_setting_in_one_line(field, value):
    with pytest.raises(SCLIPSettingsError) as caught:
        CorrCLIPSettings(**{field: value})
    assert caught.value.setting == field and "\n" not in str(caught.value)


def test_names_split_on_semicolon_space_only():
    assert split_corrclip_names("sky; wall; traffic light") == ("sky", "wall", "traffic light")
    assert split_corrclip_names("cat, kitten") == ("cat, kitten",)  # a comma does not separate
    assert split_corrclip_names("wood \n") == ("wood ",)  # only the line break is removed


@pytest.mark.parametrize("name, classes, names, prob_thd, short_side, crop", [
    ("voc21", 21, 46, 0.2, 336, 336),
    ("voc20", 20, 20, 0.0, 336, 336),
    ("context60", 60, 60, 0.15, 336, 336),
    ("context59", 59, 59, 0.0, 336, 336),
    ("coco_object", 81, 96, 0.25, 336, 336),
    ("coco_stuff", 171, 171, 0.0, 336, 336),
    ("ade20k", 150, 150, 0.0, 448, 336),
    ("cityscapes", 19, 19, 0.0, 448, 224),
])
def test_presets_match_corrclips_configs(name, classes, names, prob_thd, short_side, crop):
    preset = load_corrclip_preset(name)
    assert len(preset.vocabulary) == classes and len(preset.vocabulary.names) == names
    assert preset.settings == CorrCLIPSettings(short_side=short_side, slide_crop=crop, slide_stride=112,
                                               logit_scale=40.0, prob_thd=prob_thd)


def test_preset_names_are_kept_exactly():
    voc = load_corrclip_preset("voc21").vocabulary
    assert voc.classes[0][:3] == ("sky", "wall", "tree") and len(voc.classes[0]) == 26 and voc.background
    assert voc.labels[0] == "background"
    coco = load_corrclip_preset("coco_object").vocabulary
    assert len(coco.classes[0]) == 16 and coco.classes[0][-2:] == ("hill", "rail") and coco.classes[1] == ("people",)
    assert load_corrclip_preset("context60").vocabulary.classes[-1] == ("wood ",)  # the trailing space is CorrCLIP's
    assert corrclip_preset_names() == sorted(["voc21", "voc20", "context60", "context59", "coco_object", "coco_stuff",
                                              "ade20k", "cityscapes"])


def test_preset_settings_take_overrides_and_unknown_presets_fail():
    assert corrclip_preset_settings("voc21", prob_thd=None, slide_crop=224).slide_crop == 224
    assert corrclip_preset_settings("voc21", prob_thd=None).prob_thd == 0.2
    with pytest.raises(SCLIPSettingsError, match="unknown preset 'voc'") as caught:
        load_corrclip_preset("voc")
    assert caught.value.setting == "preset"
