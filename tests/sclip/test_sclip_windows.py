"""Preprocessing geometry, sliding windows and the tiled post-processing."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sclip.postprocess import PostprocessSettings, class_probabilities, full_rows, postprocess, upsampled_rows
from sclip.windows import preprocess, resized_size, slide_inference, window_boxes


def test_resize_of_500x375_gives_448x336():
    assert resized_size(500, 375, 336) == (448, 336)
    assert resized_size(375, 500, 336) == (336, 448)
    # the 2048 long-side cap wins for panoramas
    assert resized_size(10000, 1000, 336) == (2048, 205)


def test_preprocess_normalises_with_clip_statistics():
    image = np.full((375, 500, 3), (122, 117, 104), dtype=np.uint8)
    tensor = preprocess(image, 336)
    assert tensor.shape == (1, 3, 336, 448)
    assert torch.allclose(tensor[0, :, 0, 0], torch.tensor([(122 - 122.771) / 68.501, (117 - 116.746) / 66.632,
                                                            (104 - 104.094) / 70.323]), atol=1e-6)


def test_window_coordinates_for_448x336():
    boxes = window_boxes(336, 448, 224, 112)
    assert sorted({x1 for _, _, x1, _ in boxes}) == [0, 112, 224]
    assert sorted({y1 for y1, _, _, _ in boxes}) == [0, 112]
    assert len(boxes) == 6
    assert all(y2 - y1 == 224 and x2 - x1 == 224 for y1, y2, x1, x2 in boxes)


def test_windows_are_clamped_to_small_images():
    boxes = window_boxes(200, 300, 224, 112)
    assert {(y2 - y1, x2 - x1) for y1, y2, x1, x2 in boxes} == {(200, 224)}
    assert max(x2 for *_, x2 in boxes) == 300


def _fake_encoder(crops):
    """Deterministic 'features' that depend on the pixels, on a 16-pixel patch grid."""
    pooled = F.avg_pool2d(crops, 16)  # (B, 3, gh, gw)
    features = torch.cat([pooled, pooled**2, torch.ones_like(pooled[:, :1])], 1).permute(0, 2, 3, 1)
    return F.normalize(features, dim=-1)


def test_batched_windows_equal_one_by_one():
    torch.manual_seed(0)
    image = torch.randn(1, 3, 336, 448)
    classifier = F.normalize(torch.randn(5, 7), dim=-1)
    batched = slide_inference(image, _fake_encoder, classifier, 224, 112, batch_size=16, patch_size=16)
    single = slide_inference(image, _fake_encoder, classifier, 224, 112, batch_size=1, patch_size=16)
    assert torch.allclose(batched, single, atol=1e-6)

    # and both equal the textbook pad-and-average formulation
    canvas = torch.zeros(1, 5, 336, 448)
    counts = torch.zeros(1, 1, 336, 448)
    for y1, y2, x1, x2 in window_boxes(336, 448, 224, 112):
        feats = _fake_encoder(image[:, :, y1:y2, x1:x2])
        logits = torch.einsum("bhwe,qe->bqhw", feats, classifier)
        logits = F.interpolate(logits, size=(y2 - y1, x2 - x1), mode="bilinear", align_corners=False)
        canvas += F.pad(logits, (x1, 448 - x2, y1, 336 - y2))
        counts[..., y1:y2, x1:x2] += 1
    assert torch.allclose(batched, (canvas / counts)[0], atol=1e-5)


def test_tiled_upsampling_equals_full_interpolation():
    torch.manual_seed(0)
    logits = torch.randn(6, 37, 53)
    full = F.interpolate(logits[None], size=(301, 411), mode="bilinear", align_corners=False)[0]
    rows = upsampled_rows(logits, 301, 411, budget_bytes=0)  # force the band path
    tiled = torch.cat([rows(y0, min(y0 + 40, 301)) for y0 in range(0, 301, 40)], dim=1)
    assert torch.allclose(tiled, full, atol=1e-5)


def test_postprocess_order_with_area_and_probability_thresholds():
    # 3 classes: background (2 names), cat, dog; a 4x5 image
    names_per_class = [2, 1, 1]
    logits = torch.zeros(4, 4, 5)
    logits[0, :, :2] = 1.0  # background name 1 on the left two columns
    logits[2, :, 2:] = 1.0  # cat everywhere else ...
    logits[3, 3, 4] = 2.0  # ... except one confident dog pixel
    settings = PostprocessSettings(logit_scale=10.0, prob_thd=0.0, area_thd=None)
    plain = postprocess(full_rows(logits), 4, 5, names_per_class, settings)
    assert plain[0, 0] == 0 and plain[0, 3] == 1 and plain[3, 4] == 2

    # dog covers 1 of 13 foreground pixels (7.7%) -> zeroed by a 10% area threshold, becomes cat there
    with_area = postprocess(full_rows(logits), 4, 5, names_per_class, PostprocessSettings(10.0, 0.0, 0.1))
    assert with_area[3, 4] == 1 and (with_area[:, :2] == 0).all()

    # probability threshold after area zeroing: the cat prob at the former dog pixel is tiny -> background
    probs = class_probabilities(logits[:, 3, 4], names_per_class, 10.0)
    assert probs[1] < 0.5
    both = postprocess(full_rows(logits), 4, 5, names_per_class, PostprocessSettings(10.0, 0.5, 0.1))
    assert both[3, 4] == 0 and both[0, 3] == 1


def test_class_probabilities_take_max_over_names():
    logits = torch.tensor([[1.0], [3.0], [2.0]])
    probs = class_probabilities(logits, [2, 1], logit_scale=1.0)
    softmax = torch.softmax(logits[:, 0], 0)
    assert torch.allclose(probs[:, 0], torch.stack([softmax[1], softmax[2]]))


@pytest.mark.parametrize("band_rows", [1, 7, 1000])
def test_postprocess_bands_give_identical_labels_and_probs(band_rows):
    torch.manual_seed(1)
    logits = torch.randn(5, 30, 40)
    reference = F.interpolate(logits[None], size=(97, 131), mode="bilinear", align_corners=False)[0]
    probs_ref = class_probabilities(reference, [2, 2, 1], 40.0)
    settings = PostprocessSettings(40.0, 0.3, 0.2)
    expected = postprocess(full_rows(reference), 97, 131, [2, 2, 1], settings)
    probs = np.zeros((3, 97, 131), dtype=np.float32)
    labels = postprocess(upsampled_rows(logits, 97, 131, budget_bytes=0), 97, 131, [2, 2, 1], settings, band_rows,
                         probs)
    assert (labels == expected).mean() > 0.999  # only exact float ties could differ
    assert np.allclose(probs, probs_ref.numpy(), atol=1e-4)


def test_images_thinner_than_a_patch_are_padded_not_rejected():
    image = torch.randn(1, 3, 7, 300)
    classifier = F.normalize(torch.randn(3, 7), dim=-1)
    logits = slide_inference(image, _fake_encoder, classifier, 224, 112, batch_size=4, patch_size=16)
    assert logits.shape == (3, 7, 300) and torch.isfinite(logits).all()


@pytest.mark.parametrize("width, height", [(5000, 1), (1, 5000), (100000, 3), (3, 2000)])
def test_resize_keeps_every_side_at_least_one_pixel(width, height):
    new_w, new_h = resized_size(width, height, 336)
    assert min(new_w, new_h) >= 1 and max(new_w, new_h) <= 2048
    assert preprocess(np.zeros((height, width, 3), dtype=np.uint8), 336).shape == (1, 3, new_h, new_w)
