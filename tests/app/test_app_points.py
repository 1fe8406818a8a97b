"""refine.points.PointRefiner: SAM2 point prompts on the tiny random SAM2, one image embedding per image."""
import numpy as np
import pytest
from sam2.sam2_image_predictor import SAM2ImagePredictor

from refine import load_sam2
from refine.points import PointRefiner


@pytest.fixture(scope="module")
def refiner(tiny_sam2_checkpoint):
    checkpoint, config = tiny_sam2_checkpoint
    return PointRefiner(load_sam2(checkpoint=checkpoint, config=config, device="cpu"))


def test_embedding_once_per_image_and_corrections(refiner, photo, monkeypatch):
    embeddings = []
    original = SAM2ImagePredictor.set_image
    monkeypatch.setattr(SAM2ImagePredictor, "set_image", lambda self, image: embeddings.append(1) or
                        original(self, image))
    height, width = photo.shape[:2]
    single = refiner.predict(photo, [(40, 50)], [1], key="photo")
    assert single.dtype == bool and single.shape == (height, width)
    assert not refiner.predict(photo, [], [], key="photo").any()

    # positive clicks add what SAM2 finds under them (against the negative ones); negative clicks cut what
    # it finds under those (against the positive ones); the rest of the mask stays
    base = np.zeros((height, width), dtype=bool)
    base[60:120, 80:180] = True
    points, labels = [(40, 50), (120, 90)], [1, 0]
    added = refiner.predict(photo, points, labels, key="photo")
    cut = refiner.predict(photo, points, [0, 1], key="photo")
    assert np.array_equal(refiner.correct(photo, base, points, labels, key="photo"), (base | added) & ~cut)
    assert len(embeddings) == 1  # every click after the first reused the image embedding


@pytest.mark.parametrize("points, labels, message", [
    ([(10, 10)], [1, 0], "1 points but 2 labels"),
    ([(10, 10)], [2], "must be 1"),
    ([(10, 500)], [1], "outside"),
])
def test_bad_points_are_refused(refiner, photo, points, labels, message):
    with pytest.raises(ValueError, match=message):
        refiner.predict(photo, points, labels)
