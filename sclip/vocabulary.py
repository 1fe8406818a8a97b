"""Vocabularies (classes with one or more names each), the prompt-to-class plan and the benchmark presets."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from .errors import SCLIPSettingsError, VocabularyError

logger = logging.getLogger(__name__)

PRESET_DIR = Path(__file__).parent / "presets"
NAME_SEPARATOR = ", "

# SCLIP's VOC background line: CLIP scores the literal word "background" poorly, so class 0 is
# represented by the stuff that usually surrounds VOC objects.
BACKGROUND_NAMES: tuple[str, ...] = (
    "sky", "wall", "tree", "wood", "grass", "road", "sea", "river", "mountain", "sands", "desk", "bed", "building",
    "cloud", "lamp", "door", "window", "wardrobe", "ceiling", "shelf", "curtain", "stair", "floor", "hill", "rail",
    "fence",
)


def split_names(line: str) -> tuple[str, ...]:
    """The names of one class line ("cat, kitten" -> ("cat", "kitten")), stripped, empty ones dropped."""
    return tuple(name.strip() for name in line.split(NAME_SEPARATOR.strip()) if name.strip())


def _key(name: str) -> str:
    """What makes two names the same: case and runs of spaces do not count."""
    return " ".join(name.split()).lower()


def _keys(names: Iterable[str]) -> frozenset[str]:
    return frozenset(_key(name) for name in names)


@dataclass(frozen=True)
class Vocabulary:
    """Classes in index order; each class is a tuple of names whose best score stands for the class.

    ``background`` marks class 0 as a background line (SCLIP's stuff names or a preset's class 0),
    displayed as "background" whatever names it keeps.
    """

    classes: tuple[tuple[str, ...], ...]
    background: bool = False

    @classmethod
    def from_lines(cls, lines: Iterable[str], background: bool = False) -> "Vocabulary":
        classes = []
        for number, line in enumerate(lines, start=1):
            names = split_names(line)
            if not names:
                raise VocabularyError(
                    "vocabulary", f"vocabulary class {number} has no name (empty line or only commas)"
                )
            classes.append(names)
        if not classes:
            raise VocabularyError("vocabulary", "the vocabulary is empty")
        return cls(tuple(classes), background)

    @property
    def names(self) -> list[str]:
        """Every name of every class, in order; the rows of the text classifier."""
        return [name for names in self.classes for name in names]

    @property
    def names_per_class(self) -> list[int]:
        """How many consecutive entries of ``names`` belong to each class."""
        return [len(names) for names in self.classes]

    @property
    def labels(self) -> list[str]:
        """One display label per class: its first name, or "background" for a background line."""
        labels = [names[0] for names in self.classes]
        if labels and (self.background or self.classes[0] == BACKGROUND_NAMES):
            labels[0] = "background"
        return labels

    def __len__(self) -> int:
        return len(self.classes)

    def find(self, prompt: str) -> int | None:
        """Index of the class a prompt names, or None.

        A prompt with the same names as a class ("kitten, Cat" for "cat, kitten") selects it, and so
        does a single name that is one of a class's names; case and extra spaces do not count.
        """
        wanted = _keys(split_names(prompt))
        if not wanted:
            return None
        for index, names in enumerate(self.classes):
            keys = _keys(names)
            if keys == wanted or (len(wanted) == 1 and wanted <= keys):
                return index
        return None

    def to_json(self) -> list[dict]:
        return [{"index": index, "names": list(names)} for index, names in enumerate(self.classes)]


@dataclass(frozen=True)
class VocabularyPlan:
    """The vocabulary built for some prompts, and the class each prompt selects."""

    vocabulary: Vocabulary
    prompts: tuple[str, ...]  # stripped, in the order given, repeats removed
    class_indices: tuple[int, ...]  # class of each prompt in ``vocabulary``

    @property
    def targets(self) -> dict[str, int]:
        return dict(zip(self.prompts, self.class_indices))

    def class_index(self, prompt: str) -> int:
        return self.targets[prompt.strip()]


def build_vocabulary(
    prompts: str | Sequence[str], vocabulary: Vocabulary | Sequence[str] | None = None, preset: str | None = None
) -> VocabularyPlan:
    """The classes for some prompts: a preset, explicit class lines, or SCLIP's background line; every prompt is a class.

    A prompt's names are taken out of the background line, so the prompt is always a class of its
    own. A prompt that names an existing class selects it (see ``Vocabulary.find``); any other is
    appended. Repeated lines of ``vocabulary`` are merged, keeping the first.
    """
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    vocabulary = [vocabulary] if isinstance(vocabulary, str) else vocabulary
    prompts = list(dict.fromkeys(prompt.strip() for prompt in prompts))
    if not prompts:
        raise VocabularyError("prompts", "no prompt given; name the object to find, e.g. car")
    if any(not split_names(prompt) for prompt in prompts):
        raise VocabularyError("prompts", "a prompt is empty; name the object to find, e.g. car")
    if preset is not None and vocabulary:
        raise VocabularyError("vocabulary", "a preset and a vocabulary both define the classes; give only one")
    if preset is not None:
        base = load_preset(preset).vocabulary
    elif isinstance(vocabulary, Vocabulary):
        base = Vocabulary(_merge_repeats(vocabulary.classes), vocabulary.background)
    elif vocabulary:
        classes = _merge_repeats(Vocabulary.from_lines(vocabulary).classes)
        base = Vocabulary(classes, background=classes[0] == BACKGROUND_NAMES)
    else:
        base = Vocabulary((BACKGROUND_NAMES,), background=True)

    classes = list(base.classes)
    if base.background:
        prompt_keys = _keys(name for prompt in prompts for name in split_names(prompt))
        kept = tuple(name for name in classes[0] if _key(name) not in prompt_keys)
        if not kept:
            raise VocabularyError(
                "prompts", f"the prompts name the whole background class ({NAME_SEPARATOR.join(classes[0])}); "
                "name an object instead",
            )
        if len(kept) < len(classes[0]):
            removed = [name for name in classes[0] if name not in kept]
            logger.info("taking %s out of the background class: the prompt is a class of its own", ", ".join(removed))
        classes[0] = kept

    indices = []
    for prompt in prompts:
        vocab = Vocabulary(tuple(classes), base.background)
        index = vocab.find(prompt)
        if index is None:
            names = _unique_names(split_names(prompt))
            _warn_shared_names(prompt, names, vocab)
            index = len(classes)
            classes.append(names)
        indices.append(index)
    return VocabularyPlan(Vocabulary(tuple(classes), base.background), tuple(prompts), tuple(indices))


def _unique_names(names: Sequence[str]) -> tuple[str, ...]:
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(_key(name), name)
    return tuple(unique.values())


def _merge_repeats(classes: Sequence[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """Classes with repeated names (or whole repeated lines, in any order or case) merged, first kept.

    Two classes with the same names would split every pixel's score between them.
    """
    merged: dict[frozenset[str], tuple[str, ...]] = {}
    for names in classes:
        unique = _unique_names(names)
        if len(unique) < len(names):
            logger.warning("vocabulary class '%s' repeats a name; keeping '%s'", NAME_SEPARATOR.join(names),
                           NAME_SEPARATOR.join(unique))
        key = _keys(unique)
        if key in merged:
            logger.warning("vocabulary classes '%s' and '%s' are the same; keeping the first",
                           NAME_SEPARATOR.join(merged[key]), NAME_SEPARATOR.join(names))
            continue
        merged[key] = unique
    return tuple(merged.values())


def _warn_shared_names(prompt: str, names: Sequence[str], vocabulary: Vocabulary) -> None:
    keys = _keys(names)
    for index, class_names in enumerate(vocabulary.classes):
        shared = [name for name in class_names if _key(name) in keys]
        if shared:
            logger.warning("prompt '%s' shares %s with class '%s'; the two classes compete for those pixels",
                           prompt, ", ".join(shared), vocabulary.labels[index])


@dataclass(frozen=True)
class Preset:
    name: str
    vocabulary: Vocabulary
    logit_scale: float
    prob_thd: float
    area_thd: float | None
    short_side: int


@lru_cache(maxsize=None)
def _preset_table() -> dict:
    table = json.loads((PRESET_DIR / "presets.json").read_text())
    table.pop("_comment", None)
    return table


def preset_names() -> list[str]:
    return sorted(_preset_table())


def load_preset(name: str) -> Preset:
    table = _preset_table()
    if name not in table:
        raise SCLIPSettingsError("preset", f"unknown preset '{name}'; available: {', '.join(preset_names())}")
    values = dict(table[name])
    background = values.pop("background", False)
    lines = (PRESET_DIR / f"{name}.txt").read_text().splitlines()
    return Preset(name=name, vocabulary=Vocabulary.from_lines(lines, background), **values)
