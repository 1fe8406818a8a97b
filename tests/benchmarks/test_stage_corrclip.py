"""The CorrCLIP benchmark's synthetic region map is what region_map_from_masks makes of the same ellipses."""
import numpy as np

from benchmarks.stage_corrclip import synthetic_region_map
from sclip.corrclip import region_map_from_masks


def test_synthetic_region_map_equals_painting_the_masks_by_area():
    height, width, count = 90, 120, 12
    region_map = synthetic_region_map(height, width, count=count, seed=3)
    generator = np.random.default_rng(3)
    centres = generator.uniform((0, 0), (height, width), size=(count, 2))
    radii = generator.uniform((height / 30, width / 30), (height / 4, width / 4), size=(count, 2))
    rows, cols = np.ogrid[:height, :width]
    masks = [((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1 for (cy, cx), (ry, rx) in zip(centres, radii)]
    expected = region_map_from_masks(masks, areas=radii.prod(axis=1))
    np.testing.assert_array_equal(region_map, expected)
    assert 0 in region_map and region_map.max() == count


def test_measure_reports_both_methods_side_by_side(monkeypatch):
    import torch

    from benchmarks import stage_corrclip

    # the stage's code path at a toy size with VOC20's 20 classes
    monkeypatch.setattr(stage_corrclip, "PHOTO_SIZE", (200, 150))
    monkeypatch.setattr(stage_corrclip, "PRESET", "voc20")
    record = stage_corrclip.measure("tiny", torch.device("cpu"), torch.float32, seed=0, repeat=1, max_seconds=1.0)
    assert record["classes"] == 20 and record["regions"] == stage_corrclip.REGIONS
    assert record["corrclip_over_sclip_time"] == record["corrclip_seconds"] / record["sclip_seconds"] > 0
    assert set(record["timings"]) == {"sclip_predict", "corrclip_predict"}
    assert set(record["first_call_timings"]["corrclip"]) >= {"windows", "map_correction", "total"}
    assert record["corrclip_settings"]["slide_crop"] == 336 and record["sclip_settings"]["short_side"] == 336
