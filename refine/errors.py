"""Exceptions raised by the SAM2 refinement stage; every message is a single line."""

from collections.abc import Sequence
from pathlib import Path

# How many key names a mismatch message quotes before it only gives counts.
_KEYS_SHOWN = 3


class WeightsNotFoundError(FileNotFoundError):
    """SAM2 weights are neither on disk nor downloadable (offline, missing file)."""


class CheckpointMismatchError(ValueError):
    """A checkpoint's state dict does not fit the model built from the chosen config.

    The usual cause is a checkpoint paired with the wrong ``--sam2-config`` (tiny weights for a large
    model, SAM 2 weights for a SAM 2.1 config), so the message names the config and the offending keys.
    """

    def __init__(
        self,
        checkpoint: str | Path,
        config: str,
        missing: Sequence[str] = (),
        unexpected: Sequence[str] = (),
        mismatched_shapes: Sequence[str] = (),
    ) -> None:
        self.checkpoint = str(checkpoint)
        self.config = config
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched_shapes = list(mismatched_shapes)
        problems = [
            _describe(label, keys)
            for label, keys in (
                ("missing", self.missing),
                ("unexpected", self.unexpected),
                ("wrongly shaped", self.mismatched_shapes),
            )
            if keys
        ]
        super().__init__(
            f"SAM2 checkpoint {self.checkpoint} does not match config {config}: {'; '.join(problems)}; "
            "pass the matching --sam2-config NAME"
        )


def _describe(label: str, keys: list[str]) -> str:
    shown = ", ".join(keys[:_KEYS_SHOWN])
    more = f", ... ({len(keys) - _KEYS_SHOWN} more)" if len(keys) > _KEYS_SHOWN else ""
    noun = "key" if len(keys) == 1 else "keys"
    return f"{len(keys)} {label} {noun} ({shown}{more})"
