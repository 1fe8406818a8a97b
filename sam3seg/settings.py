"""Defaults and settings of the SAM 3 stage. Imports no torch, so usage errors and ``--help`` stay fast."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .errors import SAM3SettingsError

# Meta's release on the Hugging Face hub; gated: its licence must be accepted on the model page first.
DEFAULT_SAM3_MODEL = "facebook/sam3"


@dataclass(frozen=True)
class SAM3Settings:
    """How SAM 3 turns its detections into masks.

    An instance is kept when its score (query confidence times SAM 3's presence score) exceeds ``threshold``; a
    pixel belongs to it when its mask probability exceeds ``mask_threshold``. ``max_side`` is the working size:
    larger images are downscaled so their long side has this many pixels before SAM 3 sees them, and instance
    masks are kept at that size. 1008 is SAM 3's own input resolution, so a larger value gains nothing.
    """

    threshold: float = 0.5
    mask_threshold: float = 0.5
    max_side: int = 1008

    def __post_init__(self) -> None:
        for name in ("threshold", "mask_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise SAM3SettingsError(name, f"{name} must be at least 0 and below 1, got {value!r}")
        if isinstance(self.max_side, bool) or not isinstance(self.max_side, int) or self.max_side < 1:
            raise SAM3SettingsError("max_side", f"max_side must be a positive whole number, got {self.max_side!r}")

    def to_json(self) -> dict:
        return asdict(self)
