"""InpainterOptions: what a front end turns its flags into, checked before anything loads."""

import pytest
from loaded_modules import heavy_modules, loaded_modules

from inpaint import (
    DEFAULT_INPAINT_MODEL,
    DEFAULT_LAMA_WEIGHTS,
    INPAINTERS,
    InpainterOptions,
    OpenCVRemover,
    SettingsError,
    build_inpainter,
)


@pytest.mark.parametrize(
    "values, field",
    [
        ({"kind": "sdxl"}, "kind"),
        ({"kind": "lama", "model": "some/model"}, "model"),
        ({"kind": "opencv", "lama_weights": "big-lama.pt"}, "lama_weights"),
        ({"kind": "diffusion", "lama_weights": "big-lama.pt"}, "lama_weights"),
        ({"kind": "diffusion", "model": "  "}, "model"),
        ({"kind": "lama", "lama_weights": ""}, "lama_weights"),
        ({"kind": "lama", "low_vram": True}, "low_vram"),
    ],
)
def test_options_refuse_what_cannot_work_naming_the_field(values, field):
    with pytest.raises(SettingsError) as error:
        InpainterOptions(**values)
    message = str(error.value)
    assert error.value.setting == field and error.value.exit_code == 2
    assert "\n" not in message and "--" not in message


@pytest.mark.parametrize("kind", ["lama", "opencv"])
@pytest.mark.parametrize("mode", ["replace", "style"])
def test_prompt_free_inpainters_refuse_replace_and_style_up_front(kind, mode):
    options = InpainterOptions(kind=kind)
    options.check_mode("remove")
    with pytest.raises(SettingsError) as error:
        options.check_mode(mode)
    assert error.value.setting == "kind" and "only remove" in str(error.value)


def test_diffusion_does_every_mode_and_unknown_modes_are_refused():
    for mode in ("remove", "replace", "style"):
        InpainterOptions().check_mode(mode)
    with pytest.raises(SettingsError):
        InpainterOptions().check_mode("segment")


def test_weights_default_per_kind():
    assert INPAINTERS == ("diffusion", "lama", "opencv")
    assert InpainterOptions().weights == DEFAULT_INPAINT_MODEL
    assert InpainterOptions(model="my/model").weights == "my/model"
    assert InpainterOptions(kind="lama").weights == DEFAULT_LAMA_WEIGHTS
    assert InpainterOptions(kind="opencv").weights is None


def test_options_are_frozen():
    with pytest.raises(AttributeError):
        InpainterOptions().kind = "lama"


def test_the_factory_builds_opencv_and_it_describes_itself():
    remover = build_inpainter(InpainterOptions(kind="opencv"))
    assert isinstance(remover, OpenCVRemover)
    assert remover.describe() == {"inpainter": "opencv", "inpaint_model": "opencv-telea", "inpaint_family": None,
                                  "inpaint_pipeline": None, "inpaint_dtype": None}


def test_options_and_families_import_without_torch_or_diffusers():
    modules = loaded_modules(
        "from inpaint import InpainterOptions, FAMILIES, FAMILY_NAMES, INPAINTERS\n"
        "InpainterOptions(kind='lama').check_mode('remove')"
    )
    assert "inpaint.families" in modules
    assert heavy_modules(modules) == set() and "cv2" not in modules
