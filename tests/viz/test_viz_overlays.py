import cv2
import numpy as np
import pytest

from viz import heatmap, instance_overlay, overlay_mask


@pytest.fixture
def image():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)


@pytest.fixture
def mask():
    inside = np.zeros((120, 160), dtype=bool)
    inside[30:90, 40:110] = True
    inside[50:60, 60:70] = False  # a hole, whose border must be outlined too
    return inside


def test_overlay_without_outline_tints_exactly_the_mask(image, mask):
    color = np.array([255, 0, 0])
    result = overlay_mask(image, mask, color=tuple(color), alpha=0.5, outline=False)
    assert result.shape == image.shape and result.dtype == np.uint8
    assert np.array_equal(result[~mask], image[~mask])
    expected = np.rint(image[mask] * 0.5 + color * 0.5)
    assert np.abs(result[mask].astype(int) - expected).max() <= 1


def test_overlay_outline_stays_at_the_boundary(image, mask):
    tinted = overlay_mask(image, mask, outline=False)
    outlined = overlay_mask(image, mask, outline=True)
    changed_outside = np.any(outlined != image, axis=2) & ~mask
    near_border = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert not np.any(changed_outside & ~near_border)
    outline_pixels = np.all(outlined == (255, 0, 0), axis=2) & np.any(outlined != tinted, axis=2)
    assert outline_pixels[30, 70] and outline_pixels[55, 59]  # outer edge and the hole's edge


def test_overlay_rejects_a_mask_of_another_size(image):
    with pytest.raises(ValueError):
        overlay_mask(image, np.zeros((10, 10), dtype=bool))


def test_instance_overlay_colours_each_instance_differently():
    grey = np.full((100, 200, 3), 128, dtype=np.uint8)
    masks = np.zeros((2, 100, 200), dtype=bool)
    masks[0, 20:80, 10:90] = True
    masks[1, 20:80, 110:190] = True
    result = instance_overlay(grey, masks, [0.9, 0.4], ["car", "dog"])
    assert result.shape == grey.shape and result.dtype == np.uint8
    untouched = ~cv2.dilate(masks.any(axis=0).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert np.array_equal(result[untouched], grey[untouched])
    first, second = result[70, 50], result[70, 150]  # below the captions
    assert not np.array_equal(first, grey[0, 0]) and not np.array_equal(second, grey[0, 0])
    assert not np.array_equal(first, second)


def test_instance_overlay_writes_a_caption_for_each_nonempty_mask():
    grey = np.full((100, 100, 3), 128, dtype=np.uint8)
    masks = np.zeros((1, 100, 100), dtype=bool)
    masks[0, 40:90, 40:90] = True
    plain = instance_overlay(grey, masks, [0.5], None)
    white_text = np.all(plain == 255, axis=2)
    assert white_text[40:60, 40:90].any()
    assert not white_text[:40].any()


def test_instance_overlay_checks_scores_and_labels_match_masks(image):
    masks = np.zeros((2, *image.shape[:2]), dtype=bool)
    with pytest.raises(ValueError):
        instance_overlay(image, masks, [0.5])
    with pytest.raises(ValueError):
        instance_overlay(image, masks, [0.5, 0.5], ["only one"])


def test_heatmap_colours_depend_on_the_score_only():
    scores = np.array([[0.0, 1.0], [0.0, 2.0]])  # 2.0 is clipped to 1.0
    colored = heatmap(scores)
    assert colored.shape == (2, 2, 3) and colored.dtype == np.uint8
    assert np.array_equal(colored[0, 0], colored[1, 0])
    assert np.array_equal(colored[0, 1], colored[1, 1])
    assert not np.array_equal(colored[0, 0], colored[0, 1])


def test_heatmap_is_resized_to_and_blended_over_the_image(image):
    scores = np.random.default_rng(2).random((30, 40))
    assert np.array_equal(heatmap(scores, image, alpha=0.0), image)
    blended = heatmap(scores, image, alpha=0.5)
    assert blended.shape == image.shape and blended.dtype == np.uint8
    assert not np.array_equal(blended, image)
