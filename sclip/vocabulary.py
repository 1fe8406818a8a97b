"""Vocabularies (classes with one or more names each) and the benchmark presets shipped as data files."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

PRESET_DIR = Path(__file__).parent / "presets"
NAME_SEPARATOR = ", "

# SCLIP's VOC background line: CLIP scores the literal word "background" poorly, so class 0 is
# represented by the stuff that usually surrounds VOC objects.
BACKGROUND_NAMES: tuple[str, ...] = (
    "sky", "wall", "tree", "wood", "grass", "road", "sea", "river", "mountain", "sands", "desk", "bed", "building",
    "cloud", "lamp", "door", "window", "wardrobe", "ceiling", "shelf", "curtain", "stair", "floor", "hill", "rail",
    "fence",
)


@dataclass(frozen=True)
class Vocabulary:
    """Classes in index order; each class is a tuple of names whose best score stands for the class."""

    classes: tuple[tuple[str, ...], ...]

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> "Vocabulary":
        classes = []
        for line in lines:
            names = tuple(name.strip() for name in line.split(NAME_SEPARATOR.strip()) if name.strip())
            if not names:
                raise ValueError("a vocabulary class has no name (empty line or only commas)")
            classes.append(names)
        if not classes:
            raise ValueError("the vocabulary is empty")
        return cls(tuple(classes))

    @classmethod
    def for_prompt(cls, prompt: str, extra_classes: Sequence[str] = ()) -> "Vocabulary":
        """The CLI's vocabulary: ``extra_classes`` literally, else background + prompt; prompt appended when absent."""
        prompt = prompt.strip()
        if not prompt:
            raise ValueError("the prompt is empty; pass the object to find, e.g. --prompt car")
        lines = list(extra_classes) if extra_classes else [NAME_SEPARATOR.join(BACKGROUND_NAMES)]
        vocabulary = cls.from_lines(lines)
        if vocabulary.find(prompt) is None:
            vocabulary = cls(vocabulary.classes + ((prompt,),))
        return vocabulary

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
        """One display label per class: its first name, or "background" for SCLIP's stuff line."""
        return ["background" if names == BACKGROUND_NAMES else names[0] for names in self.classes]

    def __len__(self) -> int:
        return len(self.classes)

    def find(self, prompt: str) -> int | None:
        """Index of the class that has ``prompt`` among its names (case-insensitive), or None."""
        wanted = prompt.strip().lower()
        for index, names in enumerate(self.classes):
            if any(name.lower() == wanted for name in names):
                return index
        return None

    def to_json(self) -> list[dict]:
        return [{"index": index, "names": list(names)} for index, names in enumerate(self.classes)]


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
        raise ValueError(f"unknown preset '{name}'; available: {', '.join(preset_names())}")
    lines = (PRESET_DIR / f"{name}.txt").read_text().splitlines()
    return Preset(name=name, vocabulary=Vocabulary.from_lines(lines), **table[name])
