"""Every flag that changes results reaches the settings the core builds, and the stage that uses them.

A non-default value of each flag must change what the stage receives: a dropped flag fails here.
"""
import numpy as np
import pytest

import refine
from segedit.flags import build_parser, job_from_args

BASE = ["--image", "x.png", "--prompt", "car"]


def job(approach, *argv):
    return job_from_args(build_parser(approach).parse_args(BASE + list(argv)), approach)


FLAGS = [
    # (approach, flags, where the value must arrive, value)
    ("sclip", ["--min-coverage", "0.3"], lambda j: j.run.refine.min_coverage, 0.3),
    ("sclip", ["--no-sam-refinement"], lambda j: j.run.refine.enabled, False),
    ("sclip", ["--refine-all-classes"], lambda j: j.run.refine.all_classes, True),
    ("sclip", ["--sam-max-side", "512"], lambda j: j.models.sam2.generator.sam_max_side, 512),
    ("sclip", ["--sam-points-per-side", "8"], lambda j: j.models.sam2.generator.points_per_side, 8),
    ("sclip", ["--sam-fast"], lambda j: j.models.sam2.generator.points_per_side, 12),
    ("sclip", ["--sam-pred-iou-thresh", "0.5"], lambda j: j.models.sam2.generator.pred_iou_thresh, 0.5),
    ("sclip", ["--sam-stability-thresh", "0.5"], lambda j: j.models.sam2.generator.stability_score_thresh, 0.5),
    ("sclip", ["--sam-points-per-batch", "7"], lambda j: j.models.sam2.generator.points_per_batch, 7),
    ("sclip", ["--sam2-model", "facebook/sam2.1-hiera-small"], lambda j: j.models.sam2.model,
     "facebook/sam2.1-hiera-small"),
    ("sclip", ["--short-side", "100"], lambda j: j.run.sclip.short_side, 100),
    ("sclip", ["--slide-crop", "100"], lambda j: j.run.sclip.slide_crop, 100),
    ("sclip", ["--slide-stride", "50"], lambda j: j.run.sclip.slide_stride, 50),
    ("sclip", ["--logit-scale", "20"], lambda j: j.run.sclip.logit_scale, 20),
    ("sclip", ["--prob-thd", "0.2"], lambda j: j.run.sclip.prob_thd, 0.2),
    ("sclip", ["--area-thd", "0.1"], lambda j: j.run.sclip.area_thd, 0.1),
    ("sclip", ["--pamr-steps", "3"], lambda j: j.run.sclip.pamr_steps, 3),
    ("sclip", ["--preset", "voc21"], lambda j: j.run.preset, "voc21"),
    ("sclip", ["--vocabulary", "road", "sky"], lambda j: j.run.vocabulary, ("road", "sky")),
    ("sclip", ["--save-probs"], lambda j: j.run.outputs.save_probs, True),
    ("sclip", ["--visualize"], lambda j: j.run.outputs.visualize, True),
    ("sclip", ["--max-side", "64"], lambda j: j.run.outputs.max_side, 64),
    ("sclip", ["--model", "ViT-B-16"], lambda j: j.models.model, "ViT-B-16"),
    ("sclip", ["--feature-layers", "6,12"], lambda j: j.models.feature_layers, (6, 12)),
    ("sclip", ["--precision", "bf16"], lambda j: j.models.precision, "bf16"),
    ("sclip", ["--device", "cpu"], lambda j: j.models.device, "cpu"),
    ("sclip", ["--mode", "remove", "--steps", "3"], lambda j: j.run.inpaint.steps, 3),
    ("sclip", ["--mode", "remove", "--guidance", "2"], lambda j: j.run.inpaint.guidance, 2),
    ("sclip", ["--mode", "remove", "--strength", "0.5"], lambda j: j.run.inpaint.strength, 0.5),
    ("sclip", ["--mode", "remove", "--seed", "9"], lambda j: j.run.inpaint.seed, 9),
    ("sclip", ["--mode", "remove", "--negative-prompt", "x"], lambda j: j.run.inpaint.negative_prompt, "x"),
    ("sclip", ["--mode", "remove", "--mask-dilate", "2"], lambda j: j.run.inpaint.mask_dilate, 2),
    ("sclip", ["--mode", "remove", "--mask-blur", "2"], lambda j: j.run.inpaint.mask_blur, 2),
    ("sclip", ["--mode", "remove", "--scheduler", "dpm++"], lambda j: j.run.inpaint.scheduler, "dpm++"),
    ("sclip", ["--mode", "remove", "--low-vram"], lambda j: j.run.inpaint.low_vram, True),
    ("sclip", ["--mode", "remove", "--inpainter", "opencv"], lambda j: j.models.inpainter, "opencv"),
    ("sclip", ["--mode", "remove", "--edit", "a bus"], lambda j: j.run.edit, "a bus"),
    ("sclip", ["--inpaint-model", "some/model"], lambda j: j.models.inpaint_model, "some/model"),
    ("proposals", ["--top-k", "2"], lambda j: j.run.top_k, 2),
    ("proposals", ["--sam-max-side", "512"], lambda j: j.models.sam2.generator.sam_max_side, 512),
    ("sam3", ["--sam3-threshold", "0.2"], lambda j: j.run.sam3.threshold, 0.2),
    ("sam3", ["--sam3-mask-threshold", "0.2"], lambda j: j.run.sam3.mask_threshold, 0.2),
    ("sam3", ["--sam3-max-side", "512"], lambda j: j.run.sam3.max_side, 512),
    ("sam3", ["--sam3-model", "some/sam3"], lambda j: j.models.sam3.model, "some/sam3"),
]


@pytest.mark.parametrize("approach, argv, where, value", FLAGS, ids=[" ".join(case[1]) for case in FLAGS])
def test_a_flag_reaches_its_setting(approach, argv, where, value):
    default = where(job(approach, *(argv[:2] if argv[:1] == ["--mode"] and len(argv) > 2 else [])))
    assert default != value, "the case needs a non-default value"
    assert where(job(approach, *argv)) == value


def test_the_settings_reach_the_runner_and_are_recorded():
    from segedit.options import RunOptions

    run = job("sclip", "--min-coverage", "0.3", "--sam-max-side", "512").run
    assert isinstance(run, RunOptions) and run.to_json()["refine"]["min_coverage"] == 0.3


def _vote_masks():
    """Two 4x4 SAM2 masks: the top two rows, and the left two columns."""
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[0, :2] = True
    masks[1, :, :2] = True
    return refine.SAM2Masks.from_arrays(masks)


def test_the_api_passes_min_coverage_to_the_vote(monkeypatch):
    from segedit.api import Segmenter

    seen = []
    original = refine.majority_vote

    def spy(target, masks, min_coverage=0.6):
        seen.append(min_coverage)
        return original(target, masks, min_coverage)

    monkeypatch.setattr(refine, "majority_vote", spy)
    _, info = Segmenter._refine("car", np.ones((4, 4), dtype=bool), _vote_masks(), 0.25)
    assert seen == [0.25] and info["min_coverage"] == 0.25


def test_the_vote_keeps_a_mask_exactly_at_min_coverage():
    """Coverage equal to min_coverage is kept (>=), a hair above it is not: a > / >= change fails here."""
    target = np.zeros((4, 4), dtype=bool)
    target[0] = True  # half of mask 0, a quarter of mask 1
    assert refine.majority_vote(target, _vote_masks(), 0.5).kept == 1
    assert refine.majority_vote(target, _vote_masks(), 0.51).kept == 0


class _Recorder:
    """A segmenter that records what the runner asks of it."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
        return call


@pytest.mark.parametrize("approach, argv, method, key, value", [
    ("sclip", ["--min-coverage", "0.3"], "segment", "min_coverage", 0.3),
    ("sclip", ["--no-sam-refinement"], "segment", "refine_masks", False),
    ("sclip", ["--refine-all-classes"], "segment", "refine_all_classes", True),
    ("sclip", ["--save-probs"], "segment", "return_probs", True),
    ("sclip", ["--max-side", "64"], "segment", "max_side", 64),
    ("sclip", ["--short-side", "100"], "segment", "settings", "short_side=100"),
    ("proposals", ["--top-k", "2"], "propose", 3, 2),
    ("proposals", ["--max-side", "64"], "propose", "max_side", 64),
    ("sam3", ["--sam3-threshold", "0.2"], "concept", "settings", "threshold=0.2"),
])
def test_the_runner_hands_each_setting_to_the_api(approach, argv, method, key, value, tmp_path):
    from segedit.runner import Runner

    run = job(approach, *argv).run
    recorder = _Recorder()
    Runner(recorder, run, tmp_path).analyse(np.zeros((4, 4, 3), dtype=np.uint8))
    (name, args, kwargs), = recorder.calls
    assert name == method
    got = args[key] if isinstance(key, int) else kwargs[key]
    assert (value in repr(got)) if isinstance(value, str) else got == value


def test_model_options_reach_the_segmenter_unchanged():
    from segedit.api import Segmenter

    models = job("sclip", "--sam-max-side", "512", "--sam-fast", "--device", "cpu").models
    segmenter = Segmenter.from_options(models)
    assert segmenter.sam2_options == models.sam2 and segmenter.sam2_options.generator.sam_max_side == 512
