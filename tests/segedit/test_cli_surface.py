"""The tool's surface: a light --help, one-line argparse errors, complete help texts, what
result.json records, the flat layout of one deduplicated prompt, console script and wheel names."""
import json
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import main
import main_sclip
from segedit.flags import build_parser

REPO = Path(__file__).resolve().parents[2]
WHEEL_PACKAGES = {"sclip", "refine", "inpaint", "viz", "sam3seg", "segedit"}

PROBE = """
import sys, time
started = time.perf_counter()
from segedit.cli import main_sclip
try:
    main_sclip({argv!r})
except SystemExit:
    pass
print("SECONDS", round(time.perf_counter() - started, 3), file=sys.stderr)
print("TORCH", "torch" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["--image", "x.jpg"]])
def test_help_version_and_usage_errors_do_not_import_torch(argv):
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    seconds = re.search(r"SECONDS (\S+)", done.stderr).group(1)
    print(f"{' '.join(argv)}: {seconds} s")
    assert "TORCH False" in done.stderr, done.stderr
    if argv == ["--version"]:
        assert re.search(r"\d+\.\d+", done.stdout)


@pytest.mark.parametrize("approach", ["sclip", "proposals"])
def test_every_option_has_help_stating_its_default_once(approach, capsys):
    parser = build_parser(approach)
    for action in parser._actions:
        assert action.help and action.help.strip(), action.option_strings
        # the value "default" (of --scheduler) is no second mention
        assert action.help.replace("(default: default)", "(default: X)").count("default") <= 1, action.help
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "%(default)" not in text


def test_argparse_errors_come_first_on_one_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        main_sclip.main(["--image", "x.jpg", "--short-side", "many"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2
    assert lines[0].startswith("main_sclip.py: error:") and "--short-side" in lines[0]
    assert len(lines) <= 2


def no_duplicate_keys(pairs):
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), keys
    return dict(pairs)


def test_result_json_records_the_run(image_file, tmp_path, tiny_clip_checkpoint, text_cache):
    import segedit

    out = tmp_path / "out"
    code = main_sclip.main(["--image", str(image_file), "--output", str(out), "--prompt", "cat", "--prompt", "sky",
                            "--clip-weights", str(tiny_clip_checkpoint), "--cache-dir", str(text_cache), "--device",
                            "cpu", "-q", "--short-side", "64", "--no-sam-refinement"])
    assert code in (0, 3)
    record = json.loads((out / "result.json").read_text(), object_pairs_hook=no_duplicate_keys)
    assert record["tool_version"] == segedit.__version__
    assert record["settings"]["prompts"] == ["cat", "sky"] and record["settings"]["sclip"]["short_side"] == 64
    assert record["settings"]["refine"]["enabled"] is False
    assert record["model"]["precision"] == {"clip": "fp32"}
    assert [target["folder"] for target in record["targets"]] == ["cat", "sky"]
    for seconds in [*record["timings"].values(), *record["model_load_seconds"].values()]:
        assert seconds == round(seconds, 3)


def test_sam_fast_lands_in_the_model_record(tiny_clip_checkpoint, text_cache):
    from segedit.api import Segmenter
    from segedit.flags import model_options_from_args

    args = build_parser("sclip").parse_args(["--image", "x.jpg", "--prompt", "cat", "--sam-fast", "--clip-weights",
                                             str(tiny_clip_checkpoint), "--cache-dir", str(text_cache), "--device",
                                             "cpu"])
    assert model_options_from_args(args).sam2.generator.points_per_side == 12
    # the generator's settings decide SAM2's masks as the weights do, so the record (and fingerprint) has them
    record = Segmenter.from_options(model_options_from_args(args)).describe(("clip", "sam2"))
    assert record["sam2_generator"]["points_per_side"] == 12 and record["precision"] == {"clip": "fp32", "sam2": "fp32"}


def test_a_repeated_prompt_writes_flat(image_file, tmp_path, tiny_clip_checkpoint, text_cache, tiny_sam2_checkpoint):
    checkpoint, config = tiny_sam2_checkpoint
    out = tmp_path / "out"
    code = main.main(["--image", str(image_file), "--output", str(out), "--prompt", "car", "--prompt", "car",
                      "--clip-weights", str(tiny_clip_checkpoint), "--cache-dir", str(text_cache), "--device", "cpu",
                      "-q", "--sam2-checkpoint", str(checkpoint), "--sam2-config", config, "--sam-points-per-side", "2",
                      "--sam-pred-iou-thresh", "0", "--sam-stability-thresh", "0"])
    assert code in (0, 3)
    for name in ("mask.png", "instances.json", "result.json"):
        assert (out / name).is_file(), name
    assert not [path for path in out.iterdir() if path.is_dir()]
    record = json.loads((out / "result.json").read_text())
    assert [target["prompt"] for target in record["targets"]] == ["car"] and record["targets"][0]["folder"] == ""


def test_console_script_names():
    assert build_parser("sclip").prog == "sclip-segment"
    assert build_parser("proposals").prog == "sam2clip-segment"


def test_the_wheel_holds_only_the_packages(tmp_path):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path), "."], cwd=REPO, capture_output=True, text=True, timeout=300)
    print(f"wheel built in {time.perf_counter() - started:.1f} s")
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    dist_info = {top for top in tops if top.endswith(".dist-info")}
    assert len(dist_info) == 1 and tops - dist_info == WHEEL_PACKAGES
