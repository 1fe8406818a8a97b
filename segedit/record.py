"""What an image's ``result.json`` holds, as one typed record that every front end writes and reads.

The writer fills it, ``to_json`` gives the file's JSON (keys in the order the files have always had),
and the runner, ``--skip-existing``, the Ray job, the COCO export and the web page read it back through
``from_json`` / ``read``. Keys this version does not know are kept in ``extra`` and written back as read,
so a newer tool's records survive an older reader; new fields are optional with defaults.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

RESULT = "result.json"


def _known(cls) -> tuple[str, ...]:
    return tuple(spec.name for spec in fields(cls) if spec.name != "extra")


@dataclass
class TargetRecord:
    """One prompt's entry in ``targets``."""

    prompt: str
    class_index: int
    names: list[str]
    found: bool
    pixels: int
    share: float
    sclip_pixels: int | None = None  # dense approach: Stage 1 alone; ``refinement`` comes with it
    refinement: dict | None = None  # Stage 2's vote, or why it did not run
    proposals: int | None = None  # proposal approach: SAM2 masks scored
    instances: int | None = None  # instance approaches: how many were kept
    phrase: str | None = None  # SAM 3: the class name whose instances were kept
    score: float | None = None  # COCO score
    folder: str = ""  # relative to the image's folder, "" = the folder itself
    edit: dict | None = None  # the inpainter's metadata, in edit modes
    annotations: list[dict] = field(default_factory=list)  # COCO RLE annotations
    points: list[dict] | None = None  # the web page's clicks, when there are any
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in _known(TargetRecord):
            value = getattr(self, name)
            # written only when they apply; refinement is null when Stage 2 was off, beside sclip_pixels
            if value is None and name != "refinement":
                continue
            if name == "refinement" and self.sclip_pixels is None:
                continue
            data[name] = value
        return {**data, **self.extra}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TargetRecord:
        known = _known(cls)
        values = {key: data[key] for key in known if key in data}
        return cls(**values, extra={key: value for key, value in data.items() if key not in known})


@dataclass
class ResultRecord:
    """One image's ``result.json``; ``complete`` is set (and the file written) last."""

    fingerprint: str
    image: str
    image_size: dict[str, int]  # {"width": W, "height": H}
    approach: str
    mode: str
    model: dict[str, Any]  # identity of the models that ran (CLIP, SAM2 and its generator, SAM 3, precision)
    settings: dict[str, Any]  # RunOptions.to_json()
    tool_version: str = ""
    input_notes: list[str] = field(default_factory=list)
    model_load_seconds: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    vocabulary: list[dict] = field(default_factory=list)
    class_pixels: list[dict] | None = None  # approaches with a label map
    targets: list[TargetRecord] = field(default_factory=list)
    complete: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    # the order of the keys in the file
    ORDER = ("complete", "tool_version", "fingerprint", "image", "image_size", "input_notes", "approach", "mode",
             "model", "model_load_seconds", "settings", "timings", "vocabulary", "class_pixels", "targets")

    @property
    def found(self) -> bool:
        """Every target was found."""
        return all(target.found for target in self.targets)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the input."""
        return self.image_size["height"], self.image_size["width"]

    def target(self, prompt: str) -> TargetRecord:
        return next(target for target in self.targets if target.prompt == prompt)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in self.ORDER:
            value = getattr(self, name)
            if name == "class_pixels" and value is None:
                continue
            data[name] = [target.to_json() for target in value] if name == "targets" else value
        return {**data, **self.extra}

    @classmethod
    def from_json(cls, data: Any) -> ResultRecord:
        """The record of ``data``; ValueError when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("a result record is a JSON object")
        known = _known(cls)
        values = {key: data[key] for key in known if key in data}
        try:
            values["targets"] = [TargetRecord.from_json(target) for target in data.get("targets", [])]
            return cls(**values, extra={key: value for key, value in data.items() if key not in known})
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"not a result record: {exc}") from exc

    @classmethod
    def read(cls, folder: str | Path) -> ResultRecord | None:
        """The complete record an earlier run left in ``folder``, or None."""
        try:
            return cls.loads((Path(folder) / RESULT).read_bytes())
        except OSError:
            return None

    @classmethod
    def loads(cls, data: bytes | str) -> ResultRecord | None:
        """The complete record in a result.json's text, or None (incomplete, not JSON, not a record)."""
        try:
            record = cls.from_json(json.loads(data))
        except ValueError:
            return None
        return record if record.complete is True else None
