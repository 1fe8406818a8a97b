import numpy as np
import pytest

from viz import comparison_strip


def test_strip_width_is_the_sum_of_resized_widths():
    rng = np.random.default_rng(3)
    original = rng.integers(0, 256, size=(100, 80, 3), dtype=np.uint8)
    mask = np.zeros((50, 30), dtype=bool)
    edited = rng.integers(0, 256, size=(200, 100, 3), dtype=np.uint8)
    strip = comparison_strip([original, mask, edited], ["Original", "Mask", "Edited"])
    # Heights become 100: widths 80, 30 * 100/50 and 100 * 100/200.
    assert strip.shape[1] == 80 + 60 + 50
    assert strip.shape[0] > 100 and strip.dtype == np.uint8
    assert np.array_equal(strip[-100:, :80], original)


def test_strip_draws_a_title_bar_above_each_picture():
    black = np.zeros((64, 64, 3), dtype=np.uint8)
    strip = comparison_strip([black, black], ["A", "B"])
    bar = strip[: strip.shape[0] - 64]
    for panel in (bar[:, :64], bar[:, 64:]):
        assert (panel == 255).any() and (panel < 128).any()  # white bar with dark text


def test_strip_honours_an_explicit_height():
    picture = np.zeros((40, 60, 3), dtype=np.uint8)
    strip = comparison_strip([picture, picture], ["left", "right"], height=20)
    assert strip.shape[1] == 30 + 30


def test_strip_needs_one_title_per_image():
    picture = np.zeros((8, 8, 3), dtype=np.uint8)
    with pytest.raises(ValueError):
        comparison_strip([picture, picture], ["only one"])
