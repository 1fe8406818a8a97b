"""Errors of the SAM 3 stage. Each carries the exit code the command line ends with; messages are one line."""

from __future__ import annotations


class SAM3ModelNotFoundError(FileNotFoundError):
    """SAM 3 could not be loaded: a missing or incomplete folder, an unknown or gated hub repository, no network.

    ``model`` is what was asked for (hub id or folder). ``reason`` is ``"gated"`` when the hub refused access to a
    gated repository, ``"incomplete"`` for a folder that lacks files, and ``"not_found"`` otherwise.
    """

    exit_code = 1

    def __init__(self, model: str, message: str, reason: str = "not_found") -> None:
        super().__init__(message)
        self.model = model
        self.reason = reason

    def __str__(self) -> str:
        return str(self.args[0])


class SAM3SettingsError(ValueError):
    """A SAM 3 setting is out of range; ``setting`` is the field name of :class:`SAM3Settings`."""

    exit_code = 2

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting
