"""Text classifier: template averaging, length truncation, on-disk cache."""
import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F

from sclip import default_cache_dir
from sclip.text import TEMPLATES, TextClassifier, encode_tokens, tokenize, tokenize_counted
from sclip.errors import SCLIPSettingsError, VocabularyError
from sclip.vocabulary import build_vocabulary, load_preset, preset_names
from tiny_clip import build_tiny_clip


@pytest.fixture(scope="module")
def clip_model():
    return build_tiny_clip(seed=2)


def test_templates_are_openais_80():
    assert len(TEMPLATES) == 80
    assert TEMPLATES[0] == "a bad photo of a {}."
    assert [t("x") for t in open_clip.zero_shot_metadata.OPENAI_IMAGENET_TEMPLATES] == [t.format("x") for t in TEMPLATES]


def test_truncated_text_equals_full_context(clip_model):
    prompts = ["a photo of a car.", "a bad photo of the person in jeans.", "itap of a sky."]
    tokens = open_clip.tokenize(prompts)
    with torch.no_grad():
        full = clip_model.encode_text(tokens)
        length = int(tokens.argmax(-1).max()) + 1
        truncated = encode_tokens(clip_model, tokens[:, :length])
    assert length < 20
    assert torch.allclose(truncated, full, atol=1e-5)


def test_classifier_is_normalised_mean_of_normalised_template_embeddings(clip_model):
    classifier = TextClassifier(clip_model, "tiny", cache_dir=None, progress=False)
    names = ["car", "person in shirt"]
    got = classifier(names)
    with torch.no_grad():
        for row, name in zip(got, names):
            tokens = open_clip.tokenize([t.format(name) for t in TEMPLATES])
            per_template = F.normalize(clip_model.encode_text(tokens), dim=-1)
            expected = F.normalize(per_template.mean(0), dim=0)
            assert torch.allclose(row, expected, atol=1e-5)
    assert torch.allclose(got.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_disk_cache_hit_miss_and_corruption(clip_model, tmp_path, caplog):
    first = TextClassifier(clip_model, "tiny-weights", cache_dir=tmp_path, progress=False)
    embeddings = first(["cat", "dog"])
    assert first.stats["encoded"] == 2
    first(["dog", "cat"])
    assert first.stats["memory_hits"] == 2 and first.stats["encoded"] == 2

    second = TextClassifier(clip_model, "tiny-weights", cache_dir=tmp_path, progress=False)
    again = second(["cat", "dog", "bird"])
    assert second.stats == {"memory_hits": 0, "disk_hits": 2, "encoded": 1}
    assert torch.allclose(again[:2], embeddings)

    files = sorted(tmp_path.rglob("*.npz"))
    assert len(files) == 3
    for file in files:
        file.write_bytes(b"garbage")
    third = TextClassifier(clip_model, "tiny-weights", cache_dir=tmp_path, progress=False)
    recomputed = third(["cat", "dog", "bird"])
    assert third.stats["encoded"] == 3 and third.stats["disk_hits"] == 0
    assert torch.allclose(recomputed[:2], embeddings, atol=1e-6)
    assert "unreadable text-cache entry" in caplog.text

    # an entry stored under the wrong name or with the wrong size is not trusted either
    victim = next(tmp_path.rglob("*.npz"))
    np.savez(victim, name=np.array("someone else"), embedding=np.ones(64, dtype=np.float32) / 8)
    fourth = TextClassifier(clip_model, "tiny-weights", cache_dir=tmp_path, progress=False)
    fourth(["cat", "dog", "bird"])
    assert fourth.stats["encoded"] == 1 and fourth.stats["disk_hits"] == 2


def test_cache_is_keyed_by_weights(clip_model, tmp_path):
    TextClassifier(clip_model, "weights-a", cache_dir=tmp_path, progress=False)(["cat"])
    other = TextClassifier(clip_model, "weights-b", cache_dir=tmp_path, progress=False)
    other(["cat"])
    assert other.stats["encoded"] == 1


def test_default_cache_dir_respects_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert str(default_cache_dir()).startswith(str(tmp_path))


def test_vocabulary_lines_and_prompt_handling():
    plan = build_vocabulary("car", ["road", "person, person in shirt", "car"])
    vocab = plan.vocabulary
    assert plan.targets == {"car": 2}
    assert vocab.labels == ["road", "person", "car"]
    assert vocab.names == ["road", "person", "person in shirt", "car"]
    assert vocab.names_per_class == [1, 2, 1]
    assert vocab.find("Person in Shirt") == 1
    default = build_vocabulary("car").vocabulary
    assert default.classes[0][:3] == ("sky", "wall", "tree") and len(default.classes[0]) == 26
    assert default.labels[-1] == "car"
    with pytest.raises(VocabularyError, match="prompt is empty") as info:
        build_vocabulary("  ")
    assert info.value.exit_code == 2 and "--" not in str(info.value)


def test_presets_ship_with_the_package():
    assert set(preset_names()) >= {"voc21", "voc20", "context60", "context59", "coco_object", "coco_stuff",
                                   "cityscapes", "ade20k"}
    voc = load_preset("voc21")
    assert len(voc.vocabulary) == 21 and len(voc.vocabulary.names) == 56
    assert (voc.logit_scale, voc.prob_thd, voc.area_thd) == (65, 0.1, 0.1)
    assert len(load_preset("coco_stuff").vocabulary) == 171 and load_preset("coco_stuff").short_side == 448
    assert len(load_preset("ade20k").vocabulary) == 150
    assert load_preset("cityscapes").short_side == 560
    with pytest.raises(SCLIPSettingsError, match="unknown preset") as info:
        load_preset("nope")
    assert info.value.setting == "preset"


def test_tokens_equal_open_clips_and_cut_prompts_are_flagged():
    texts = ["a photo of a cat.", "word " * 74, "word " * 75, "word " * 76, "word " * 90 + "end", ""]
    tokens, cut = tokenize_counted(texts, 77)
    assert torch.equal(tokens, open_clip.tokenize(texts)) and torch.equal(tokenize(texts, 77), tokens)
    # sot + 75 tokens + eot fits exactly at 77; one word more does not
    assert cut.tolist() == [False, False, False, True, True, False]


def test_prompts_longer_than_the_context_warn_once_per_prompt(clip_model, tmp_path, caplog):
    long_name = " ".join(["red"] * 80)
    classifier = TextClassifier(clip_model, "tiny", cache_dir=tmp_path, templates=("a photo of a {}.",), progress=False)
    with caplog.at_level("WARNING", logger="sclip.text"):
        classifier(["car", long_name])
        classifier([long_name, "car"])
    warnings = [record.getMessage() for record in caplog.records if "longer than CLIP" in record.getMessage()]
    assert len(warnings) == 1 and long_name in warnings[0] and "77" in warnings[0]
    assert classifier.cut_names == {long_name}

    # the cut is remembered in the disk cache, so a later run still says so
    caplog.clear()
    again = TextClassifier(clip_model, "tiny", cache_dir=tmp_path, templates=("a photo of a {}.",), progress=False)
    with caplog.at_level("WARNING", logger="sclip.text"):
        again([long_name, "car"])
    assert again.stats["disk_hits"] == 2 and again.cut_names == {long_name}
    assert sum("longer than CLIP" in record.getMessage() for record in caplog.records) == 1
