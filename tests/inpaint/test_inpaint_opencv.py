import cv2
import numpy as np
import pytest
from skimage import data

from inpaint import InpaintSettings, OpenCVRemover, feather_mask

MAGENTA = np.array([255, 0, 255], np.uint8)


@pytest.fixture(scope="module")
def painted_astronaut():
    """The astronaut photo with a pure magenta disc painted on; the disc is the mask to remove."""
    image = data.astronaut().copy()
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.circle(mask, (380, 330), 25, 1, thickness=-1)
    mask = mask.astype(bool)
    image[mask] = MAGENTA
    return image, mask


def test_removal_fills_the_region_from_its_surroundings(painted_astronaut):
    image, mask = painted_astronaut
    result = OpenCVRemover().edit(image, mask, "remove", "blob")
    filled = result.image[mask].astype(np.float64)
    assert not np.any(np.all(result.image[mask] == MAGENTA, axis=-1))
    assert np.all(np.abs(filled - MAGENTA).sum(axis=-1) > 150)  # no magenta-ish pixel is left

    ring = feather_mask(mask, 20, 0).astype(bool) & ~feather_mask(mask, 10, 0).astype(bool)
    surroundings = image[ring].astype(np.float64).mean(axis=0)
    distance_to_surroundings = np.abs(filled.mean(axis=0) - surroundings).sum()
    distance_to_magenta = np.abs(filled.mean(axis=0) - MAGENTA).sum()
    assert distance_to_surroundings < distance_to_magenta / 4


@pytest.mark.parametrize("dilate, blur", [(5, 8), (0, 0), (3, 0)])
def test_only_the_feathered_region_changes(painted_astronaut, dilate, blur):
    image, mask = painted_astronaut
    settings = InpaintSettings(mask_dilate=dilate, mask_blur=blur)
    result = OpenCVRemover(radius=3).edit(image, mask, "remove", "blob", settings=settings)
    alpha = feather_mask(mask, dilate, blur)
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    assert np.array_equal(result.image[alpha == 0], image[alpha == 0])
    assert np.any(result.image[mask] != image[mask])


def test_result_records_the_method_and_no_diffusion_parameters(painted_astronaut):
    image, mask = painted_astronaut
    result = OpenCVRemover().edit(image, mask, "remove", "blob")
    assert result.model == "opencv-telea" and result.mode == "remove"
    assert result.prompt is None and result.seed is None and result.steps is None and result.dtype is None
    assert result.crop_box == (0, 0, image.shape[1], image.shape[0])


@pytest.mark.parametrize("mode", ["replace", "style"])
def test_replace_and_style_point_to_the_diffusion_inpainter(painted_astronaut, mode):
    image, mask = painted_astronaut
    with pytest.raises(ValueError, match="diffusion inpainter"):
        OpenCVRemover().edit(image, mask, mode, "blob", "a red balloon")


def test_unknown_mode_and_bad_radius_are_refused(painted_astronaut):
    image, mask = painted_astronaut
    with pytest.raises(ValueError, match="unknown edit mode"):
        OpenCVRemover().edit(image, mask, "erase", "blob")
    with pytest.raises(ValueError):
        OpenCVRemover(radius=0)
