import subprocess
import sys

import pytest

from sam3seg import DEFAULT_SAM3_MODEL, SAM3Settings, SAM3SettingsError


def test_defaults():
    settings = SAM3Settings()
    assert (settings.threshold, settings.mask_threshold, settings.max_side) == (0.5, 0.5, 1008)
    assert DEFAULT_SAM3_MODEL == "facebook/sam3"
    assert settings.to_json() == {"threshold": 0.5, "mask_threshold": 0.5, "max_side": 1008}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", -0.1),
        ("threshold", 1.0),
        ("threshold", "0.5"),
        ("mask_threshold", 1.5),
        ("mask_threshold", True),
        ("max_side", 0),
        ("max_side", 10.5),
    ],
)
def test_bad_setting_names_its_field(field, value):
    with pytest.raises(SAM3SettingsError) as caught:
        SAM3Settings(**{field: value})
    error = caught.value
    assert error.setting == field
    assert error.exit_code == 2
    message = str(error)
    assert field in message and "\n" not in message and "--" not in message


def test_edge_values_are_accepted():
    assert SAM3Settings(threshold=0, mask_threshold=0.99, max_side=1).max_side == 1


def test_package_import_loads_no_torch():
    code = (
        "import sys, sam3seg\n"
        "sam3seg.SAM3Settings(); sam3seg.DEFAULT_SAM3_MODEL; sam3seg.SAM3ModelNotFoundError\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'cv2') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
