"""Guided point prompts, the per-point decode cache, named grid settings and the prompt record.

Most tests use a STAND-IN for SAM2 with known answers (``benchmarks.known_segments``): it answers each
point prompt with the ground-truth segments containing the point, so that masks mean something (random
SAM2 weights keep none). The real SAM2 decoding path is checked once, with the tiny random SAM2.
"""
import logging
from dataclasses import replace

import numpy as np
import pytest
import torch
from tiny_sam2 import PERMISSIVE, keep_all_masks

import refine
from benchmarks.known_segments import Scene, coarse_target, known_segments_source
from refine import MaskGeneratorSettings, PointPrompts, SAM2MaskSource, SAM2SettingsError, majority_vote
from refine.guided import points_near

SMALL = MaskGeneratorSettings(points_per_side=8)  # few points: the stand-in's masks still cost sam2's post-processing


@pytest.fixture(scope="module")
def scene() -> Scene:
    """A 96x128 scene: a sky/ground background, a 'car' (class 1) split in two parts, a 'tree' (class 2)."""
    height, width = 96, 128
    parts = np.zeros((height, width), np.int32)
    objects = np.zeros((height, width), np.int32)
    classes = np.zeros((height, width), np.int32)
    objects[:40], parts[:40] = 1, 1  # sky
    objects[40:], parts[40:] = 2, 2  # ground
    objects[50:80, 20:60], classes[50:80, 20:60] = 3, 1  # the car: body and roof parts
    parts[50:80, 20:60], parts[50:62, 28:52] = 3, 4
    objects[10:70, 90:110], classes[10:70, 90:110], parts[10:70, 90:110] = 4, 2, 5  # the tree
    return Scene.from_ids(parts, objects, classes, "test scene")


def test_stand_in_with_known_answers_gives_the_full_grids_refined_mask(scene):
    """Guided prompts decode a fraction of the grid and the vote refines the coarse mask as with the full grid."""
    truth = scene.classes == 1
    coarse = coarse_target(truth, np.random.default_rng(0), patch=8)
    grid_source, _ = known_segments_source(SMALL, PointPrompts(mode="grid"))
    full = grid_source.generate(scene.image, targets=[coarse])  # mode grid: targets ignored
    source, stand_in = known_segments_source(SMALL)
    guided = source.generate(scene.image, targets=[coarse])

    assert full.prompts.points == "grid" and full.prompts.points_decoded == 64 and full.prompts.margin is None
    assert guided.prompts.points == "guided" and guided.prompts.margin == refine.DEFAULT_MARGIN
    assert 0 < guided.prompts.points_decoded == stand_in.points_decoded < 64 / 3
    full_vote, guided_vote = majority_vote(coarse, full), majority_vote(coarse, guided)
    assert guided_vote.kept >= 1 and not guided_vote.fallback
    assert np.array_equal(guided_vote.mask, full_vote.mask)
    assert (guided_vote.mask == truth).mean() > 0.99  # the known answer: the car itself


def test_guided_masks_are_the_full_grids_masks_of_those_points(tiny_sam2, photo_run):
    """With the real (tiny, random) SAM2: a point's masks do not depend on which other points are decoded."""
    full, image = photo_run.result, photo_run.image  # the whole 3x3 grid with NMS off (conftest)
    target = np.zeros(image.shape[:2], dtype=bool)
    target[:120, :180] = True  # near the top-left point only
    with pytest.MonkeyPatch.context() as patch:
        keep_all_masks(patch)  # NMS off: every decoded mask is compared
        guided = SAM2MaskSource(tiny_sam2, PERMISSIVE, prompts=PointPrompts(margin=0.0)).generate(image, targets=target)
    assert guided.prompts.points_decoded == 1 and full.prompts.points_decoded == 9
    full_rles = {rle["counts"]: score for rle, score in zip(full.rles, full.scores)}
    assert len(guided) == 3
    for rle, score in zip(guided.rles, guided.scores):
        assert full_rles[rle["counts"]] == pytest.approx(score, abs=1e-5)


def test_several_targets_decode_their_points_once_and_later_ones_only_new_points(scene):
    car, tree = scene.classes == 1, scene.classes == 2
    source, stand_in = known_segments_source(SMALL, PointPrompts(margin=0.0))
    both = source.generate(scene.image, targets=[car, tree])
    car_alone, _ = known_segments_source(SMALL, PointPrompts(margin=0.0))
    tree_alone, _ = known_segments_source(SMALL, PointPrompts(margin=0.0))
    car_points = car_alone.generate(scene.image, targets=car).prompts.points_decoded
    tree_points = tree_alone.generate(scene.image, targets=tree).prompts.points_decoded
    assert both.prompts.points_decoded == stand_in.points_decoded == car_points + tree_points  # disjoint here
    assert stand_in.embeddings == 1

    # The same request again is served from the cache; another target decodes only its new points.
    assert source.generate(scene.image, targets=[car, tree]) is both
    source.generate(scene.image, targets=car)
    assert stand_in.points_decoded == car_points + tree_points
    full = source.generate(scene.image)  # the whole grid: only the points not decoded yet
    assert full.prompts.points == "grid" and stand_in.points_decoded == 64 and stand_in.embeddings == 1


def test_embedding_is_kept_for_the_latest_image_only(scene):
    source, stand_in = known_segments_source(SMALL, PointPrompts(margin=0.0))
    car, tree = scene.classes == 1, scene.classes == 2
    other = np.ascontiguousarray(scene.image[:, ::-1])
    source.generate(scene.image, key="a", targets=car)
    source.generate(other, key="b", targets=car[:, ::-1])
    source.generate(scene.image, key="a", targets=tree)  # "a" lost its embedding to "b": encoded again
    assert stand_in.embeddings == 3
    source.generate(scene.image, key="a")  # still the latest: the embedding is reused
    assert stand_in.embeddings == 3


def test_points_near_a_target_grow_with_the_margin_and_a_tiny_target_gets_its_nearest_point():
    grid = (np.stack(np.meshgrid(np.arange(10), np.arange(10)), axis=-1).reshape(-1, 2) + 0.5) * 10  # 100 x 100
    target = np.zeros((100, 100), dtype=bool)
    target[30:50, 30:50] = True  # holds the points at 35 and 45 in both directions
    assert np.count_nonzero(points_near(grid, target, 0.0)) == 4
    assert np.count_nonzero(points_near(grid, target, 0.1)) == 16  # 10 px further: one more ring of points
    tiny = np.zeros((100, 100), dtype=bool)
    tiny[2, 2] = True  # between grid points, 3.5 px from (5, 5)
    assert np.flatnonzero(points_near(grid, tiny, 0.0)).tolist() == [0]
    assert not points_near(grid, np.zeros((100, 100), dtype=bool), 0.5).any()


def test_empty_targets_decode_nothing_and_grid_mode_ignores_targets(scene):
    source, stand_in = known_segments_source(SMALL)
    empty = source.generate(scene.image, targets=[np.zeros(scene.image.shape[:2], dtype=bool)])
    assert len(empty) == 0 and empty.prompts.points_decoded == 0 and stand_in.points_decoded == 0
    with pytest.raises(ValueError, match="bool mask"):
        source.generate(scene.image, targets=[np.zeros((3, 3), dtype=bool)])


def test_named_grid_settings_and_sparse_asks_for_one_mask_per_point(scene):
    assert MaskGeneratorSettings.named("default") == MaskGeneratorSettings()
    assert MaskGeneratorSettings.named("fast") == MaskGeneratorSettings.fast()
    sparse = MaskGeneratorSettings.named("sparse")
    assert (sparse.points_per_side, sparse.multimask_output, sparse.pred_iou_thresh, sparse.stability_score_thresh) == (
        8, False, 0.4, 0.4)
    assert MaskGeneratorSettings().multimask_output
    assert [MaskGeneratorSettings.named(name).name for name in refine.GRID_SETTINGS] == list(refine.GRID_SETTINGS)
    assert MaskGeneratorSettings(points_per_side=5).name is None
    with pytest.raises(SAM2SettingsError) as caught:
        MaskGeneratorSettings.named("dense")
    assert caught.value.setting == "grid" and "sparse" in str(caught.value)

    source, stand_in = known_segments_source(sparse)
    masks = source.generate(scene.image)
    assert stand_in.multimask_seen == {False}
    assert masks.prompts.to_json() == {"grid": "8x8", "setting": "sparse", "masks_per_point": 1, "points": "grid",
                                       "margin": None, "points_in_grid": 64, "points_decoded": 64}


@pytest.mark.parametrize(("field", "value"), [("mode", "dense"), ("margin", -0.1), ("margin", float("nan"))])
def test_invalid_point_prompts_name_their_field(field, value):
    with pytest.raises(SAM2SettingsError) as caught:
        PointPrompts(**{field: value})
    assert caught.value.setting == field and caught.value.exit_code == 2


def test_cuda_batches_hold_as_many_points_as_free_memory_allows(scene, monkeypatch):
    source, _ = known_segments_source(SMALL)
    source.device = torch.device("cuda")
    source.settings = replace(source.settings, points_per_batch=None)
    selection = {(0, 0, 128, 96): np.arange(144)}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (80 * 2**30, 80 * 2**30))
    entry = source._entry("k")
    assert source._points_per_batch(selection, entry, (1024, 768)) == 144  # the whole grid in one call
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (2 * 2**30, 80 * 2**30))
    assert 16 <= source._points_per_batch(selection, entry, (1024, 768)) < 144


def test_compile_is_ignored_on_cpu_with_a_note(tiny_sam2, caplog):
    with caplog.at_level(logging.INFO, logger="refine"):
        source = SAM2MaskSource(tiny_sam2, PERMISSIVE, compile=True)
    assert not source.compiled and "compile is ignored on cpu" in caplog.text
    assert not hasattr(tiny_sam2, "_segedit_compiled")


def test_one_key_at_two_sizes_gets_masks_of_each_size(scene):
    """Proposals run on a downscaled copy under the same image key as the full-size segmentation."""
    source, _ = known_segments_source(SMALL)
    full = source.generate(scene.image, key="photo.jpg")
    half = source.generate(np.ascontiguousarray(scene.image[::2, ::2]), key="photo.jpg")
    assert full.image_size == scene.image.shape[:2] and half.image_size == (48, 64)
