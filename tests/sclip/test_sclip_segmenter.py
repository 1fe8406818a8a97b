"""SCLIPSegmenter as a whole: shapes, probabilities, PAMR, reuse of the last image's logits, precision."""
import numpy as np
import pytest
import torch

from sclip import SCLIPSegmenter, SCLIPSettings, build_vocabulary
from sclip.pamr import pamr


@pytest.fixture(scope="module")
def segmenter(tiny_clip_checkpoint):
    return SCLIPSegmenter.from_pretrained("ViT-B-16", tiny_clip_checkpoint, cache_dir=None, progress=False)


def test_predict_shapes_and_probability_maps(segmenter, photo):
    vocab = build_vocabulary("person", ["person, man", "sky", "rock"]).vocabulary
    result = segmenter.predict(photo, vocab, SCLIPSettings(), return_probs=True)
    assert result.labels.shape == photo.shape[:2] and result.labels.dtype == np.int32
    assert result.probs.shape == (3, *photo.shape[:2]) and result.probs.dtype == np.float16
    assert sum(result.class_pixels) == photo.shape[0] * photo.shape[1]
    # per-class maxima of a softmax over 4 names: each in [0, 1], and the class sum at least the max name prob
    assert float(result.probs.max()) <= 1.0 + 1e-3 and float(result.probs.min()) >= 0.0
    # float16 storage can round two close classes to a tie; otherwise labels are the argmax
    assert (result.probs.astype(np.float32).argmax(0) == result.labels).mean() > 0.99
    assert set(result.timings) == {"text", "windows", "postprocess"}


def test_window_logits_are_reused_for_the_same_image(segmenter, photo, monkeypatch):
    vocab = build_vocabulary("person").vocabulary
    segmenter.predict(photo, vocab)
    calls = []
    original = segmenter.encoder.forward
    monkeypatch.setattr(segmenter.encoder, "forward", lambda x: calls.append(x.shape) or original(x))
    segmenter.predict(photo, vocab, SCLIPSettings(prob_thd=0.2))  # post-processing change only
    assert calls == []
    segmenter.predict(photo[:, ::-1].copy(), vocab)
    assert calls


def test_pamr_smooths_within_regions_and_keeps_shape():
    image = torch.zeros(1, 3, 40, 40)
    image[..., 20:] = 1.0  # two flat regions with a sharp edge at column 20
    scores = torch.zeros(1, 2, 40, 40)
    scores[:, 0, :, :20] = 1.0
    scores[:, 1, :, 20:] = 1.0
    noisy = scores.clone()
    noisy[:, :, 10, 5] = torch.tensor([0.0, 1.0])  # one wrong pixel in the left region
    refined = pamr(image, noisy, iterations=10, dilations=(1, 2))
    assert refined.shape == noisy.shape
    assert refined[0, 0, 10, 5] > refined[0, 1, 10, 5]  # repaired from its neighbours
    # the edge between the regions survives: affinities across it are tiny
    assert refined[0, 0, 20, 15] > 0.9 and refined[0, 1, 20, 25] > 0.9
    assert torch.equal(pamr(image, noisy, iterations=0), noisy)


def test_predict_with_pamr_and_cross_layer_features(tiny_clip_checkpoint, photo):
    multi = SCLIPSegmenter.from_pretrained("ViT-B-16", tiny_clip_checkpoint, feature_layers=[2, 3], cache_dir=None,
                                           progress=False)
    result = multi.predict(photo, build_vocabulary("person").vocabulary, SCLIPSettings(pamr_steps=2))
    assert result.labels.shape == photo.shape[:2]


def test_bf16_on_cpu_mostly_agrees_with_fp32(tiny_clip_checkpoint, photo):
    vocab = build_vocabulary("person", ["person", "sky", "tree"]).vocabulary
    fp32 = SCLIPSegmenter.from_pretrained("x", tiny_clip_checkpoint, cache_dir=None, progress=False)
    bf16 = SCLIPSegmenter.from_pretrained("x", tiny_clip_checkpoint, dtype=torch.bfloat16, cache_dir=None,
                                          progress=False)
    a = fp32.predict(photo, vocab).labels
    b = bf16.predict(photo, vocab).labels
    assert (a == b).mean() > 0.8


@pytest.mark.parametrize("shape", [(1, 5000), (5000, 1), (3, 2000), (2000, 3)])
def test_any_aspect_ratio_gives_full_size_labels(segmenter, shape):
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    result = segmenter.predict(image, build_vocabulary("person").vocabulary, return_probs=True)
    assert result.labels.shape == shape and result.probs.shape == (2, *shape)
    assert np.isfinite(result.probs.astype(np.float32)).all()


@pytest.mark.parametrize("settings", [SCLIPSettings(), SCLIPSettings(logit_scale=65, prob_thd=0.1, area_thd=0.1),
                                      SCLIPSettings(pamr_steps=1)])
def test_probabilities_of_chosen_classes_equal_rows_of_all_probabilities(segmenter, photo, settings):
    vocab = build_vocabulary(["person", "sky"], ["rock", "person, man", "tree"]).vocabulary
    full = segmenter.predict(photo, vocab, settings, return_probs=True)
    chosen = segmenter.predict(photo, vocab, settings, probs_for=[3, 1])
    assert chosen.probs is None and chosen.target_probs.dtype == np.float16
    assert np.array_equal(chosen.target_probs, full.probs[[3, 1]])
    assert np.array_equal(chosen.labels, full.labels)
    both = segmenter.predict(photo, vocab, settings, return_probs=True, probs_for=[0])
    assert np.array_equal(both.probs, full.probs) and np.array_equal(both.target_probs, full.probs[[0]])
    with pytest.raises(ValueError, match="outside"):
        segmenter.predict(photo, vocab, settings, probs_for=[4])


def test_classify_crops_uses_clips_learned_temperature(segmenter):
    from sclip import PIXEL_MEAN, PIXEL_STD
    from sclip.segmenter import CROP_BATCH

    crops = np.random.default_rng(1).integers(0, 256, (CROP_BATCH + 1, 224, 224, 3), dtype=np.uint8)
    vocab = build_vocabulary(["person", "rock"], ["sky, man", "person"]).vocabulary
    probs = segmenter.classify_crops(crops, vocab)
    model = segmenter.clip.model
    with torch.no_grad():
        images = (torch.from_numpy(crops).permute(0, 3, 1, 2).float() - torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1)) \
            / torch.tensor(PIXEL_STD).view(1, 3, 1, 1)
        image_features = torch.nn.functional.normalize(model.encode_image(images), dim=-1)
        name_probs = (model.logit_scale.exp() * image_features @ segmenter.classifier(vocab).T).softmax(dim=-1)
    expected = torch.stack([name_probs[:, :2].max(dim=1).values, name_probs[:, 2], name_probs[:, 3]], dim=1)
    assert probs.shape == (CROP_BATCH + 1, 3) and probs.dtype == np.float32
    assert np.allclose(probs, expected.numpy(), atol=1e-5)
    assert segmenter.classify_crops(crops[:0], vocab).shape == (0, 3)


def test_a_thousand_classes_run_through_predict(segmenter, monkeypatch):
    """Nothing in the stage limits classes to 256 (a palette PNG's limit); one template keeps the text side quick."""
    from sclip import TextClassifier

    one_template = TextClassifier(segmenter.clip.model, "tiny", templates=("a photo of a {}.",), progress=False)
    monkeypatch.setattr(segmenter, "text", one_template)
    vocab = build_vocabulary(f"thing {999}", [f"thing {index}" for index in range(999)]).vocabulary
    image = np.random.default_rng(2).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    settings = SCLIPSettings(short_side=32, slide_crop=32, slide_stride=16)
    result = segmenter.predict(image, vocab, settings, return_probs=True, probs_for=[999])
    assert len(vocab) == 1000 and result.probs.shape == (1000, 30, 40) and len(result.class_pixels) == 1000
    assert np.array_equal(result.labels, result.probs.astype(np.float32).argmax(axis=0))
    assert result.labels.max() > 255
    assert np.array_equal(result.target_probs[0], result.probs[999])
