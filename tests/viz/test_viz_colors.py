import io

import numpy as np
import pytest
from PIL import Image

from viz import colorize_labels, labels_to_palette_image, palette


def test_palette_has_the_voc_colours():
    colors = palette(256)
    assert colors.shape == (256, 3) and colors.dtype == np.uint8
    assert tuple(colors[0]) == (0, 0, 0)
    assert tuple(colors[1]) == (128, 0, 0)
    assert tuple(colors[15]) == (192, 128, 128)
    assert tuple(colors[255]) == (224, 224, 192)


def test_palette_extends_past_256_without_repeating():
    colors = palette(1000)
    assert np.array_equal(colors[:256], palette(256))
    assert len({tuple(c) for c in colors}) == 1000


def test_palette_image_round_trips_through_png():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 256, size=(17, 23))
    buffer = io.BytesIO()
    labels_to_palette_image(labels).save(buffer, format="PNG")
    buffer.seek(0)
    reopened = Image.open(buffer)
    assert reopened.mode == "P"
    assert np.array_equal(np.array(reopened), labels)
    stored = np.array(reopened.getpalette(), dtype=np.uint8).reshape(-1, 3)
    assert tuple(stored[1]) == (128, 0, 0)
    assert tuple(stored[15]) == (192, 128, 128)


@pytest.mark.parametrize("bad_value", [256, -1])
def test_palette_image_rejects_indices_that_do_not_fit(bad_value):
    labels = np.zeros((4, 4), dtype=np.int64)
    labels[1, 2] = bad_value
    with pytest.raises(ValueError):
        labels_to_palette_image(labels)


def test_colorize_labels_uses_the_palette_per_pixel():
    labels = np.array([[0, 1], [2, 1]])
    colored = colorize_labels(labels, 3)
    assert colored.shape == (2, 2, 3) and colored.dtype == np.uint8
    assert tuple(colored[0, 1]) == tuple(palette(3)[1]) == tuple(colored[1, 1])
    assert tuple(colored[1, 0]) == tuple(palette(3)[2])


def test_colorize_labels_rejects_indices_beyond_the_class_count():
    with pytest.raises(ValueError):
        colorize_labels(np.array([[0, 3]]), 3)
