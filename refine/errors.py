"""Exceptions raised by the SAM2 refinement stage; every message is a single line naming no CLI flag.

Each class carries the process exit code its failure maps to: 1 for a weights or model problem, 2 for a
bad setting (which also names the offending settings field in ``setting``).
"""

from collections.abc import Sequence
from pathlib import Path

# How many key names a mismatch message quotes before it only gives counts.
_KEYS_SHOWN = 3


class SAM2SettingsError(ValueError):
    """A SAM2 setting or argument has an invalid value; ``setting`` is the field or parameter name."""

    exit_code = 2

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(message)


class SAM2WeightsError(Exception):
    """SAM2 weights could not be had or do not fit the model."""

    exit_code = 1


class WeightsNotFoundError(SAM2WeightsError, FileNotFoundError):
    """SAM2 weights are neither on disk nor downloadable (offline, missing file); ``model`` is what was asked for."""

    def __init__(self, model: str, message: str) -> None:
        self.model = model
        super().__init__(message)


class CheckpointReadError(SAM2WeightsError):
    """A checkpoint file is not a readable state dict (random bytes, truncated, a pickled model object)."""

    def __init__(self, checkpoint: str | Path, problem: str) -> None:
        self.checkpoint = str(checkpoint)
        super().__init__(f"cannot read SAM2 checkpoint {self.checkpoint}: {problem}")


class CheckpointMismatchError(SAM2WeightsError):
    """A checkpoint's state dict does not fit the model built from the chosen config.

    The usual cause is a checkpoint paired with the wrong config (tiny weights for a large model, SAM 2
    weights for a SAM 2.1 config), so the message names the config and the offending keys.
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
            "a checkpoint needs the config of its own model size and SAM2 version"
        )


def _describe(label: str, keys: list[str]) -> str:
    shown = ", ".join(keys[:_KEYS_SHOWN])
    more = f", ... ({len(keys) - _KEYS_SHOWN} more)" if len(keys) > _KEYS_SHOWN else ""
    noun = "key" if len(keys) == 1 else "keys"
    return f"{len(keys)} {label} {noun} ({shown}{more})"
