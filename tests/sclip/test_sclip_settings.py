"""SCLIPSettings validation, preset settings, feature-layer checks and the torch-free light names."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from sclip import SCLIPSettings, SCLIPSettingsError, check_feature_layers, preset_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("field, value", [
    ("logit_scale", 0), ("logit_scale", -1.0), ("logit_scale", math.inf), ("logit_scale", math.nan),
    ("prob_thd", -0.1), ("prob_thd", 1.5), ("prob_thd", math.nan), ("area_thd", 1.01), ("area_thd", -0.5),
    ("area_thd", math.nan), ("short_side", 0), ("slide_crop", 0), ("slide_stride", -2), ("window_batch", 0),
    ("pamr_steps", -1), ("short_side", 2.5),
])
def test_bad_settings_raise_a_settings_error_naming_the_field(field, value):
    with pytest.raises(SCLIPSettingsError) as info:
        SCLIPSettings(**{field: value})
    assert info.value.setting == field and info.value.exit_code == 2
    assert "--" not in str(info.value)


def test_boundary_settings_are_accepted():
    settings = SCLIPSettings(logit_scale=1e-3, prob_thd=1.0, area_thd=0.0, short_side=1, slide_crop=1, slide_stride=1,
                             window_batch=1, pamr_steps=0)
    assert settings.to_json()["area_thd"] == 0.0
    assert SCLIPSettings(prob_thd=0, area_thd=1).prob_thd == 0


def test_preset_settings_apply_overrides_on_top_of_the_preset():
    assert preset_settings("voc21") == SCLIPSettings(logit_scale=65, prob_thd=0.1, area_thd=0.1, short_side=336)
    tuned = preset_settings("coco_stuff", logit_scale=50.0, prob_thd=None, pamr_steps=2)
    assert (tuned.short_side, tuned.logit_scale, tuned.prob_thd, tuned.pamr_steps) == (448, 50.0, 0.0, 2)
    with pytest.raises(SCLIPSettingsError) as info:
        preset_settings("nope")
    assert info.value.setting == "preset"
    with pytest.raises(SCLIPSettingsError) as info:
        preset_settings("voc21", prob_thd=2.0)
    assert info.value.setting == "prob_thd"


def test_feature_layers_are_checked_against_the_named_model_before_loading():
    assert check_feature_layers(None, "ViT-B-16") == []
    assert check_feature_layers([12, 6, 6], "ViT-B-16") == [6, 12]
    assert check_feature_layers([24], "ViT-L-14") == [24]
    assert check_feature_layers([40], "some-checkpoint.pt") == [40]  # unknown name: the file decides the depth
    for layers, model in [([0], "ViT-B-16"), ([13], "ViT-B-16"), ([25], "ViT-L-14"), ([-1], None)]:
        with pytest.raises(SCLIPSettingsError) as info:
            check_feature_layers(layers, model)
        assert info.value.setting == "feature_layers" and info.value.exit_code == 2
        assert "--" not in str(info.value)
    with pytest.raises(SCLIPSettingsError, match=r"1\.\.12 for ViT-B-16"):
        check_feature_layers([13], "ViT-B-16")


def test_light_names_import_no_torch():
    code = (
        "import json, sys, sclip\n"
        "sclip.SCLIPSettings(); sclip.DEFAULT_MODEL; sclip.preset_names(); sclip.preset_settings('voc21')\n"
        "sclip.build_vocabulary('car'); sclip.default_cache_dir(); sclip.PIXEL_MEAN; sclip.SCLIPSettingsError\n"
        "print(json.dumps([sclip.__file__, sorted(m for m in ('torch', 'open_clip', 'cv2') if m in sys.modules)]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    path, heavy = json.loads(result.stdout)
    assert Path(path).resolve().parent == REPO / "sclip"
    assert heavy == []


def test_heavy_names_still_resolve():
    import sclip

    assert sclip.SCLIPSegmenter.__name__ == "SCLIPSegmenter" and callable(sclip.load_clip)
    with pytest.raises(AttributeError):
        sclip.no_such_name
