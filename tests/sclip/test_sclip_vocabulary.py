"""build_vocabulary: the classes for some prompts and the class each prompt selects."""
import logging

import pytest

from sclip import BACKGROUND_NAMES, Vocabulary, VocabularyError, VocabularyPlan, build_vocabulary, load_preset


def test_default_vocabulary_is_background_plus_one_class_per_prompt():
    plan = build_vocabulary(["car", "person in shirt"])
    assert isinstance(plan, VocabularyPlan)
    assert plan.vocabulary.classes == (BACKGROUND_NAMES, ("car",), ("person in shirt",))
    assert plan.targets == {"car": 1, "person in shirt": 2}
    assert plan.class_index("  car ") == 1
    assert plan.vocabulary.labels == ["background", "car", "person in shirt"]


@pytest.mark.parametrize("prompt", ["sky", "Lamp", "  wall "])
def test_a_background_name_as_prompt_leaves_the_background_line(prompt):
    plan = build_vocabulary([prompt, "car"])
    background = plan.vocabulary.classes[0]
    assert prompt.strip().lower() not in background and len(background) == len(BACKGROUND_NAMES) - 1
    index = plan.class_index(prompt)
    assert index != 0 and plan.vocabulary.classes[index] == (prompt.strip(),)
    assert plan.vocabulary.labels[0] == "background"  # still displayed as background without that name


def test_multi_name_prompt_leaves_the_background_line_name_by_name():
    plan = build_vocabulary("sky, cloud")
    assert "sky" not in plan.vocabulary.classes[0] and "cloud" not in plan.vocabulary.classes[0]
    assert plan.vocabulary.classes[plan.class_index("sky, cloud")] == ("sky", "cloud")


def test_preset_background_line_gives_up_the_prompt():
    voc = load_preset("voc21").vocabulary
    assert voc.background and not load_preset("voc20").vocabulary.background
    plan = build_vocabulary(["tree", "cat"], preset="voc21")
    assert "tree" not in plan.vocabulary.classes[0] and plan.vocabulary.labels[0] == "background"
    assert plan.vocabulary.classes[1:21] == voc.classes[1:]  # the preset's classes keep their indices
    assert plan.targets == {"tree": 21, "cat": voc.find("cat")}
    # coco_object has "bed" both in its background line and as a class: the class is selected, alone
    coco = build_vocabulary("bed", preset="coco_object")
    assert "bed" not in coco.vocabulary.classes[0]
    assert coco.vocabulary.classes[coco.class_index("bed")] == ("bed",) and len(coco.vocabulary) == 81


def test_prompt_matches_a_line_by_its_names_in_any_order_case_and_spacing():
    lines = ["road", "cat,  kitten", "person, man"]
    plan = build_vocabulary(["Kitten ,cat", "man", "PERSON", "dog"], lines)
    assert plan.targets == {"Kitten ,cat": 1, "man": 2, "PERSON": 2, "dog": 3}
    assert plan.vocabulary.classes == (("road",), ("cat", "kitten"), ("person", "man"), ("dog",))
    assert build_vocabulary("cat, kitten", Vocabulary.from_lines(lines)).class_index("cat, kitten") == 1


def test_repeated_lines_and_case_only_repeats_are_merged_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="sclip.vocabulary"):
        plan = build_vocabulary("cat", ["cat", "grass", "Cat", "grass", "kitten, cat", "cat, Kitten", "dog, Dog"])
    assert plan.vocabulary.classes == (("cat",), ("grass",), ("kitten", "cat"), ("dog",))
    assert plan.targets == {"cat": 0}
    assert "'cat' and 'Cat'" in caplog.text and "'grass' and 'grass'" in caplog.text
    assert "'kitten, cat' and 'cat, Kitten'" in caplog.text and "'dog, Dog' repeats a name" in caplog.text


def test_a_prompt_sharing_a_name_with_a_class_is_its_own_class_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="sclip.vocabulary"):
        plan = build_vocabulary("cat, lynx", ["cat, kitten"])
    assert plan.vocabulary.classes == (("cat", "kitten"), ("cat", "lynx")) and plan.targets == {"cat, lynx": 1}
    assert "shares cat with class 'cat'" in caplog.text


@pytest.mark.parametrize("prompts, vocabulary, setting", [
    ([""], None, "prompts"), (["car", " , "], None, "prompts"), ([], None, "prompts"),
    (["car"], ["road", ""], "vocabulary"), (["car"], ["road", ",,"], "vocabulary"),
])
def test_empty_prompt_or_line_is_a_usage_error_without_flags(prompts, vocabulary, setting):
    with pytest.raises(VocabularyError) as info:
        build_vocabulary(prompts, vocabulary)
    assert info.value.exit_code == 2 and info.value.setting == setting
    assert "--" not in str(info.value) and "\n" not in str(info.value)


def test_preset_and_vocabulary_together_and_a_prompt_of_the_whole_background_line():
    with pytest.raises(VocabularyError, match="only one"):
        build_vocabulary("car", ["road"], preset="voc21")
    with pytest.raises(VocabularyError, match="whole background class"):
        build_vocabulary("background", preset="context60")


def test_names_used_are_recorded():
    plan = build_vocabulary("sky", ["road, street", "building"])
    assert plan.vocabulary.to_json() == [
        {"index": 0, "names": ["road", "street"]}, {"index": 1, "names": ["building"]}, {"index": 2, "names": ["sky"]},
    ]
    assert not hasattr(Vocabulary, "for_prompt")
