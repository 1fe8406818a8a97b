import json
import time

import cv2
import numpy as np
import pytest
import torch

from sam3seg import SAM3Segmenter, SAM3Settings

PHRASES = ["background", "cat", "grass"]


def test_shapes_and_types(segmenter, chelsea):
    result = segmenter.segment(chelsea, PHRASES, settings=SAM3Settings(threshold=0.0, max_side=200))
    height, width = chelsea.shape[:2]
    assert result.image_size == (height, width)
    assert result.working_size == (133, 200)
    assert [phrase.phrase for phrase in result.phrases] == PHRASES
    assert result.labels.shape == (height, width) and result.labels.dtype == np.int32
    assert set(np.unique(result.labels)) <= set(range(len(PHRASES)))
    for phrase in result.phrases:
        assert phrase.mask.shape == (height, width) and phrase.mask.dtype == bool
        assert phrase.found and len(phrase.instances) == 20  # threshold 0 keeps every query of the tiny model
        scores = [instance.score for instance in phrase.instances]
        assert scores == sorted(scores, reverse=True) and all(0.0 < score < 1.0 for score in scores)
        for instance in phrase.instances:
            assert instance.mask.shape == result.working_size and instance.mask.dtype == bool
            assert not instance.mask.flags.writeable
            x0, y0, x1, y1 = instance.box
            assert -1 <= x0 <= x1 <= width + 1 and -1 <= y0 <= y1 <= height + 1
    assert result.phrase("cat") is result.phrases[1]
    record = result.metadata()
    assert json.loads(json.dumps(record)) == record
    assert [len(entry["instances"]) for entry in record["phrases"]] == [20, 20, 20]
    assert record["phrases"][1]["pixels"] == int(result.phrases[1].mask.sum())
    assert record["settings"]["max_side"] == 200
    assert set(result.timings) == {"vision", "detect", "upsample"}


def test_union_and_label_map_agree_with_the_instances(segmenter, chelsea):
    result = segmenter.segment(chelsea, PHRASES, settings=SAM3Settings(threshold=0.0, max_side=200))
    height, width = result.image_size
    best_score = np.full((height, width), -1.0)
    expected_labels = np.zeros((height, width), dtype=np.int32)
    for index, phrase in enumerate(result.phrases):
        union = np.zeros((height, width), dtype=bool)
        for rank, instance in enumerate(phrase.instances):
            full = result.instance_mask(index, rank)
            assert full.sum() == instance.area
            union |= full
            # a later phrase wins a tie, as in the painting order
            wins = full & (instance.score >= best_score)
            best_score[wins] = instance.score
            expected_labels[wins] = index
        assert np.array_equal(phrase.mask, union)
    assert np.array_equal(result.labels, expected_labels)
    covered = np.logical_or.reduce([phrase.mask for phrase in result.phrases])
    assert covered.any() and not covered.all()
    assert np.all(result.labels[~covered] == 0)
    for index, phrase in enumerate(result.phrases[1:], start=1):
        assert np.all(phrase.mask[result.labels == index])


def test_higher_thresholds_give_subsets(segmenter, chelsea):
    everything = segmenter.segment(chelsea, ["cat"], settings=SAM3Settings(threshold=0.0, max_side=200))
    scores = sorted(instance.score for instance in everything.phrases[0].instances)
    middle = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2
    fewer = segmenter.segment(chelsea, ["cat"], settings=SAM3Settings(threshold=middle, max_side=200))
    kept = {instance.score for instance in fewer.phrases[0].instances}
    assert 0 < len(kept) < len(scores) and kept <= set(scores) and min(kept) > middle
    assert np.all(everything.phrases[0].mask[fewer.phrases[0].mask])

    loose, strict = (
        segmenter.segment(chelsea, ["cat"], settings=SAM3Settings(threshold=middle, mask_threshold=cut, max_side=200))
        for cut in (0.3, 0.7)
    )
    assert strict.phrases[0].mask.sum() < loose.phrases[0].mask.sum()
    assert np.all(loose.phrases[0].mask[strict.phrases[0].mask])


def test_image_is_encoded_once_for_all_phrases_and_repeated_calls(segmenter, chelsea, monkeypatch):
    model = segmenter.sam3.model
    calls = []
    encode = model.get_vision_features

    def counting(*args, **kwargs):
        calls.append(1)
        return encode(*args, **kwargs)

    monkeypatch.setattr(model, "get_vision_features", counting)
    first = segmenter.segment(chelsea, PHRASES)
    again = segmenter.segment(chelsea, ["cat"], settings=SAM3Settings(threshold=0.25))
    assert len(calls) == 1
    assert [i.score for i in again.phrases[0].instances] == [
        i.score for i in first.phrases[1].instances if i.score > 0.25
    ]
    segmenter.segment(chelsea, ["cat"], settings=SAM3Settings(max_side=100))  # another working size
    assert len(calls) == 2


def test_cached_features_give_what_a_full_forward_gives(segmenter, tiny_sam3, chelsea):
    result = segmenter.segment(chelsea, ["cat"])
    inputs = tiny_sam3.processor(images=chelsea, text="cat", return_tensors="pt")
    with torch.inference_mode():
        outputs = tiny_sam3.model(**inputs)
    (direct,) = tiny_sam3.processor.post_process_instance_segmentation(
        outputs, threshold=0.0, mask_threshold=0.5, target_sizes=[chelsea.shape[:2]]
    )
    order = direct["scores"].argsort(descending=True)
    assert np.allclose([i.score for i in result.phrases[0].instances], direct["scores"][order].numpy(), atol=1e-6)
    # the photo is smaller than the working size, so instance masks are already at full size
    assert np.array_equal(result.phrases[0].instances[0].mask, direct["masks"][order[0]].bool().numpy())
    assert np.array_equal(result.instance_mask(0, 0), result.phrases[0].instances[0].mask)


def test_large_image_holds_no_full_size_array_per_instance(segmenter, chelsea):
    big = cv2.resize(chelsea, (4000, 3000), interpolation=cv2.INTER_LINEAR)
    started = time.perf_counter()
    result = segmenter.segment(big, ["cat", "grass"], settings=SAM3Settings(threshold=0.0))
    seconds = time.perf_counter() - started
    assert result.working_size == (756, 1008)
    instances = [instance for phrase in result.phrases for instance in phrase.instances]
    assert len(instances) == 40
    full = 3000 * 4000
    held = result.labels.nbytes + sum(p.mask.nbytes for p in result.phrases) + sum(i.mask.nbytes for i in instances)
    assert held == 4 * full + 2 * full + 40 * 756 * 1008
    assert held < len(instances) * full  # less than one full-size byte per instance pixel
    assert seconds < 30, f"took {seconds:.1f} s"


def test_long_phrase_is_cut_to_the_text_encoder_length(segmenter, chelsea, caplog):
    long_phrase = " ".join(["big striped cat"] * 15)
    result = segmenter.segment(chelsea, [long_phrase, "cat"])
    assert len(result.phrases[0].instances) == 20
    assert "longer than SAM 3's 32 text tokens" in caplog.text


@pytest.mark.parametrize(
    "phrases", [[], "cat", ["cat", ""], ["  "]], ids=["none", "string", "empty-phrase", "blank-phrase"]
)
def test_bad_phrases(segmenter, chelsea, phrases):
    with pytest.raises(ValueError, match="phrases"):
        segmenter.segment(chelsea, phrases)


def test_bad_image(segmenter, chelsea):
    with pytest.raises(ValueError, match="RGB uint8"):
        segmenter.segment(chelsea.astype(np.float32), ["cat"])
    with pytest.raises(ValueError, match="RGB uint8"):
        segmenter.segment(chelsea[..., 0], ["cat"])


def test_from_pretrained_uses_its_settings(tiny_sam3_dir, chelsea):
    segmenter = SAM3Segmenter.from_pretrained(tiny_sam3_dir, settings=SAM3Settings(threshold=0.9))
    result = segmenter.segment(chelsea, ["cat"])
    assert result.settings.threshold == 0.9
    assert not result.phrases[0].found and not result.phrases[0].mask.any() and not result.labels.any()
