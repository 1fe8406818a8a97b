import numpy as np
import pytest

from refine import SAM2Masks, score_proposals, square_crops

FILL = (122, 116, 104)


def _image(height, width):
    """Every pixel is distinct enough to show where it came from: R = row, G = column, B = 200."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([rows, cols, np.full_like(rows, 200)], axis=-1).astype(np.uint8)


def test_crop_is_the_enlarged_square_around_the_mask():
    image = _image(60, 80)
    mask = np.zeros((60, 80), dtype=bool)
    mask[20:40, 30:40] = True  # 20 tall, 10 wide → a square of side 22 centred on (35, 30)

    crop = square_crops(image, SAM2Masks.from_arrays(mask[None]), size=22, fill_rgb=FILL, enlarge=0.1)[0]

    assert crop.shape == (22, 22, 3) and crop.dtype == np.uint8
    # side 22 maps 1:1, so the crop starts at row 30 - 11 = 19 and column 35 - 11 = 24
    assert np.array_equal(crop[1:21, 6:16], image[20:40, 30:40])
    outside = np.ones((22, 22), dtype=bool)
    outside[1:21, 6:16] = False
    assert np.all(crop[outside] == FILL)


def test_square_beyond_the_image_border_is_filled():
    image = _image(30, 30)
    mask = np.zeros((30, 30), dtype=bool)
    mask[0:10, 0:10] = True  # in the corner: the enlarged square (side 11) starts at -1

    crop = square_crops(image, SAM2Masks.from_arrays(mask[None]), size=11, fill_rgb=FILL)[0]

    assert np.all(crop[0, :] == FILL) and np.all(crop[:, 0] == FILL)
    assert np.array_equal(crop[1:11, 1:11], image[0:10, 0:10])


@pytest.mark.parametrize(
    ("box", "enlarge"),
    [((10, 90, 10, 90), 0.1), ((50, 54, 60, 64), 1.0)],  # an 88 px square shrunk, an 8 px one enlarged
)
def test_crops_are_resized_with_mask_inside_and_fill_around(box, enlarge):
    image = _image(100, 120)
    top, bottom, left, right = box
    mask = np.zeros((100, 120), dtype=bool)
    mask[top:bottom, left:right] = True

    crop = square_crops(image, SAM2Masks.from_arrays(mask[None]), size=32, fill_rgb=FILL, enlarge=enlarge)[0]

    assert crop.shape == (32, 32, 3)
    # The middle shows the image (blue 200 everywhere, against 104 in the fill; bicubic may overshoot a bit).
    middle_blue = crop[12:20, 12:20, 2].astype(int)
    assert np.all(np.abs(middle_blue - 200) < np.abs(middle_blue - FILL[2]))
    assert np.all(crop[[0, 0, -1, -1], [0, -1, 0, -1]] == FILL)  # the corners are margin


def test_empty_mask_gives_a_plain_fill_crop():
    masks = SAM2Masks.from_arrays(np.zeros((2, 10, 10), dtype=bool))
    crops = square_crops(_image(10, 10), masks, size=8, fill_rgb=FILL)
    assert crops.shape == (2, 8, 8, 3) and np.all(crops == FILL)


def test_square_crops_rejects_mismatched_masks():
    with pytest.raises(ValueError, match="do not match"):
        square_crops(_image(10, 10), SAM2Masks.from_arrays(np.zeros((1, 10, 11), dtype=bool)), size=8, fill_rgb=FILL)


def test_crops_of_a_shrunk_photo_show_its_full_resolution_pixels():
    image = _image(60, 80)
    working = np.zeros((30, 40), dtype=bool)
    working[10:20, 15:20] = True  # at 2x: rows 20:40, columns 30:40 of the photo
    full = np.zeros((60, 80), dtype=bool)
    full[20:40, 30:40] = True
    shrunk = square_crops(image, SAM2Masks.from_arrays(working[None], image_size=(60, 80)), 22, FILL)
    assert np.array_equal(shrunk, square_crops(image, SAM2Masks.from_arrays(full[None]), 22, FILL))


def test_only_masks_whose_best_class_is_the_target_are_kept_best_first():
    probs = np.array(
        [
            [0.2, 0.7, 0.1],  # target 1 is best: 0.7
            [0.5, 0.45, 0.05],  # target high but class 0 better: excluded
            [0.1, 0.9, 0.0],  # best: 0.9
            [0.3, 0.4, 0.3],  # 0.4
            [0.0, 0.0, 1.0],  # other class
        ]
    )
    selection = score_proposals(probs, target_class=1, top_k=2)
    assert selection.indices.tolist() == [2, 0]
    np.testing.assert_allclose(selection.scores, [0.9, 0.7])

    everything = score_proposals(probs, target_class=1)
    assert everything.indices.tolist() == [2, 0, 3]


def test_score_proposals_edge_cases():
    empty = score_proposals(np.zeros((0, 4)), target_class=2, top_k=3)
    assert empty.indices.shape == (0,) and empty.scores.shape == (0,)
    none_best = score_proposals(np.array([[0.9, 0.1]]), target_class=1, top_k=1)
    assert none_best.indices.size == 0
    with pytest.raises(ValueError, match="outside"):
        score_proposals(np.ones((2, 3)), target_class=3, top_k=1)
    with pytest.raises(ValueError, match="top_k"):
        score_proposals(np.ones((2, 3)), target_class=0, top_k=0)
