"""sclip-app's command line: main_sclip.py's model flags, one-line usage errors, gradio imported only to serve."""
import subprocess
import sys

import pytest

from segedit import app as webapp


def test_flags_set_the_starting_values(tiny_clip_checkpoint):
    args = webapp.build_parser().parse_args([
        "--clip-weights", str(tiny_clip_checkpoint), "--no-sam-refinement", "--sam-points-per-side", "8",
        "--inpainter", "opencv", "--inpaint-model", "some/model", "--device", "cpu", "--precision", "fp32",
        "--port", "7861"])
    assert (args.host, args.port) == ("127.0.0.1", 7861)
    assert args.use_sam_refinement is False and args.sam_points_per_side == 8
    assert (args.inpainter, args.inpaint_model, args.device, args.precision) == ("opencv", "some/model", "cpu",
                                                                                 "fp32")
    models = webapp.Models(webapp.page_settings_from_args(args).models)
    assert models.device.type == "cpu" and models.loaded == set()  # nothing loads before the first use


@pytest.mark.parametrize("argv, message", [
    (["--sam2-config", "configs/sam2.1/sam2.1_hiera_t.yaml"], "--sam2-config only applies"),
    (["--device", "cpu", "--precision", "fp16"], "fp16 is not supported on the CPU"),
])
def test_usage_errors_are_one_line_and_exit_2(argv, message, capsys):
    assert webapp.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_gradio_is_not_imported_by_the_api():
    code = "import sys, segedit, segedit.app; print('gradio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"
