import numpy as np
import pytest

from inpaint.masks import (
    check_image_and_mask,
    crop_around,
    feather_mask,
    feather_window,
    paste_back,
)


def _point_mask(height=61, width=61, row=30, col=30):
    mask = np.zeros((height, width), bool)
    mask[row, col] = True
    return mask


@pytest.mark.parametrize("dilate, blur", [(5, 8), (0, 4), (3, 0), (0, 0)])
def test_feather_support_ends_exactly_dilate_plus_blur_away(dilate, blur):
    alpha = feather_mask(_point_mask(), dilate, blur)
    rows, cols = np.nonzero(alpha > 0)
    reach = dilate + blur
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (30 - reach, 30 + reach, 30 - reach, 30 + reach)
    assert alpha.dtype == np.float32
    assert alpha.min() == 0.0 and alpha.max() == 1.0


def test_feather_is_one_on_mask_and_fades_outward():
    mask = np.zeros((80, 80), bool)
    mask[30:50, 30:50] = True
    alpha = feather_mask(mask, 5, 8)
    assert np.all(alpha[mask] == 1.0)
    profile = alpha[40, 50:]  # profile[i] is i + 1 pixels right of the mask
    assert np.all(np.diff(profile) <= 0)
    assert 0.0 < profile[4] < 1.0  # the band straddles the grown edge
    assert profile[4 + 8] > 0.0 and profile[4 + 8 + 1] == 0.0


def test_feather_without_dilate_or_blur_is_the_mask():
    mask = np.zeros((20, 30), bool)
    mask[5:9, 7:20] = True
    assert np.array_equal(feather_mask(mask, 0, 0), mask.astype(np.float32))


def test_feather_rejects_negative_sizes():
    with pytest.raises(ValueError):
        feather_mask(_point_mask(), -1, 3)


def test_paste_back_is_exact_at_both_ends_and_blends_between():
    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    generated = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    alpha = rng.random((40, 50)).astype(np.float32)
    alpha[:10] = 0.0
    alpha[-10:] = 1.0
    out = paste_back(original, generated, alpha)
    assert out.dtype == np.uint8 and out.shape == original.shape
    assert np.array_equal(out[:10], original[:10])
    assert np.array_equal(out[-10:], generated[-10:])
    low = np.minimum(original, generated)
    high = np.maximum(original, generated)
    assert np.all((out >= low) & (out <= high))
    expected = original.astype(np.float64) + alpha[..., None] * (generated.astype(np.float64) - original)
    assert np.abs(out - expected).max() <= 0.5 + 1e-3


def test_paste_back_rejects_mismatched_shapes():
    image = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError):
        paste_back(image, np.zeros((10, 11, 3), np.uint8), np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError):
        paste_back(image, image, np.zeros((9, 10), np.float32))


def _contains(box, region):
    x0, y0, x1, y1 = box
    inside = np.zeros_like(region)
    inside[y0:y1, x0:x1] = True
    return not np.any(region & ~inside)


def test_crop_is_square_at_least_min_side_and_contains_region():
    region = np.zeros((600, 800), bool)
    region[300:320, 400:430] = True
    box = crop_around(region, min_side=128, context=0.25)
    x0, y0, x1, y1 = box
    assert x1 - x0 == y1 - y0 == 128
    assert _contains(box, region)


def test_crop_grows_with_the_region_plus_context():
    region = np.zeros((600, 800), bool)
    region[100:300, 200:300] = True  # 200 tall, 100 wide
    x0, y0, x1, y1 = crop_around(region, min_side=64, context=0.25)
    assert x1 - x0 == y1 - y0 == 300  # longer side 200 plus a quarter of it on each side


def test_crop_is_shifted_inside_the_image_at_corners():
    region = np.zeros((300, 400), bool)
    region[290:300, 390:400] = True
    box = crop_around(region, min_side=100, context=0.25)
    assert box == (300, 200, 400, 300)
    assert _contains(box, region)


def test_crop_of_an_image_smaller_than_min_side_is_the_whole_image():
    region = np.zeros((37, 100), bool)
    region[10:20, 40:60] = True
    assert crop_around(region, min_side=512, context=0.25) == (0, 0, 100, 37)


@pytest.mark.parametrize(
    "image, mask",
    [
        (np.zeros((8, 8, 3), np.float32), np.ones((8, 8), bool)),
        (np.zeros((8, 8), np.uint8), np.ones((8, 8), bool)),
        (np.zeros((8, 8, 3), np.uint8), np.ones((8, 9), bool)),
        (np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), np.uint8)),
        (np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), bool)),
    ],
    ids=["float-image", "grey-image", "mask-shape", "mask-dtype", "empty-mask"],
)
def test_bad_image_or_mask_is_a_value_error(image, mask):
    with pytest.raises(ValueError):
        check_image_and_mask(image, mask)


@pytest.mark.parametrize("box", [(40, 50, 60, 90), (0, 0, 10, 15), (90, 110, 100, 120), (0, 0, 100, 120)])
@pytest.mark.parametrize("dilate, blur", [(5, 8), (0, 0), (3, 1), (0, 12)])
def test_the_feather_window_holds_every_nonzero_alpha_with_the_same_values(box, dilate, blur):
    mask = np.zeros((100, 120), bool)
    top, left, bottom, right = box
    mask[top:bottom, left:right] = True
    mask[top, right - 1] = False  # not a plain rectangle
    full = feather_mask(mask, dilate, blur)
    window, (x0, y0, x1, y1) = feather_window(mask, dilate, blur)
    # Where alpha is 0 or 1 (what exact paste-back rests on) the window agrees exactly; between, OpenCV's
    # vectorised blur may round the last bit differently for a different buffer.
    inside = full[y0:y1, x0:x1]
    assert np.array_equal(window == 0, inside == 0) and np.array_equal(window == 1, inside == 1)
    assert np.allclose(window, inside, rtol=0, atol=1e-6)
    outside = full.copy()
    outside[y0:y1, x0:x1] = 0
    assert not outside.any()
