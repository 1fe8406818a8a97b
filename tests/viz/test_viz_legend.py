import numpy as np
import pytest

from viz import label_map_with_legend, legend_entries, palette

NAMES = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle"]


@pytest.fixture
def labels():
    grid = np.zeros((60, 80), dtype=np.int64)
    grid[:, 40:] = 3  # bird: half the pixels
    grid[:15, :40] = 1  # aeroplane: an eighth
    return grid  # background fills the remaining 3/8; bicycle, boat and bottle are absent


def test_legend_entries_list_only_present_classes_by_area(labels):
    entries = legend_entries(labels, NAMES)
    assert [entry.name for entry in entries] == ["bird", "background", "aeroplane"]
    assert [entry.index for entry in entries] == [3, 0, 1]
    assert [entry.fraction for entry in entries] == pytest.approx([0.5, 0.375, 0.125])


def test_legend_panel_shows_swatches_of_present_classes_only(labels):
    image = np.full((60, 80, 3), 200, dtype=np.uint8)
    picture = label_map_with_legend(image, labels, NAMES, alpha=0.6)
    assert picture.dtype == np.uint8 and picture.shape[0] == 60 and picture.shape[1] > 80
    expected_left = np.rint(image * 0.4 + palette(len(NAMES))[labels] * 0.6)
    assert np.abs(picture[:, :80].astype(int) - expected_left).max() <= 1

    panel_colors = {tuple(c) for c in picture[:, 80:].reshape(-1, 3)}
    colors = palette(len(NAMES))
    for present in (1, 3):
        assert tuple(colors[present]) in panel_colors
    for absent in (2, 4, 5):
        assert tuple(colors[absent]) not in panel_colors


@pytest.mark.parametrize("size", [(20, 20), (9, 300), (700, 31)])
def test_legend_handles_all_171_classes_at_any_image_size(size):
    height, width = size
    labels = np.arange(height * width).reshape(height, width) % 171
    image = np.zeros((height, width, 3), dtype=np.uint8)
    picture = label_map_with_legend(image, labels, [f"class number {i}" for i in range(171)])
    assert picture.dtype == np.uint8
    assert picture.shape[0] >= height and picture.shape[1] > width
    panel_colors = {tuple(c) for c in picture[:, width:].reshape(-1, 3)}
    assert {tuple(c) for c in palette(171)} <= panel_colors


def test_legend_rejects_labels_without_a_name(labels):
    with pytest.raises(ValueError):
        label_map_with_legend(np.zeros((60, 80, 3), dtype=np.uint8), labels, NAMES[:3])
