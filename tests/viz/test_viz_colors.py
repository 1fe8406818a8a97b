import io

import cv2
import numpy as np
import pytest
from PIL import Image

from viz import colorize_labels, label_map_image, labels_to_palette_image, palette


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


def _png_round_trip(image, path):
    image.save(path)
    return np.array(Image.open(path)), cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_label_map_image_of_a_thousand_classes_reads_back_exactly(tmp_path):
    labels = np.random.default_rng(0).integers(0, 1000, size=(37, 53))
    labels[0, 0], labels[0, 1] = 0, 999
    image = label_map_image(labels, num_classes=1000)
    assert image.mode == "I;16"
    with_pil, with_cv2 = _png_round_trip(image, tmp_path / "labels.png")
    assert np.array_equal(with_pil, labels) and np.array_equal(with_cv2, labels)
    assert with_cv2.dtype == np.uint16
    # without the class count the largest index decides
    assert label_map_image(labels).mode == "I;16"


def test_label_map_image_stays_a_palette_png_up_to_256_classes(tmp_path):
    labels = np.random.default_rng(1).integers(0, 256, size=(9, 11))
    image = label_map_image(labels, num_classes=256)
    assert image.mode == "P"
    with_pil, _ = _png_round_trip(image, tmp_path / "labels.png")
    assert np.array_equal(with_pil, labels)
    # a run with 300 classes writes 16-bit maps even for an image whose labels are all small
    assert label_map_image(np.zeros((2, 2), dtype=np.int64), num_classes=300).mode == "I;16"
    assert label_map_image(np.zeros((2, 2), dtype=np.int64)).mode == "P"
    with pytest.raises(ValueError):
        label_map_image(np.full((2, 2), 1 << 16))
