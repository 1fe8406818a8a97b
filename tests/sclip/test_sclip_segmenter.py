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
