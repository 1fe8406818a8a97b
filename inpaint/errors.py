"""Errors of the editing stage. Each carries the exit code a command line should end with; messages are one line
and name no command-line flags (the caller knows which flag feeds which setting)."""


class SettingsError(ValueError):
    """A setting of an edit is out of range, or cannot work with the chosen mode; nothing has run.

    ``setting`` is the ``InpaintSettings`` field at fault (e.g. ``"strength"``).
    """

    exit_code = 2

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


class WeightsNotFoundError(FileNotFoundError):
    """The inpainting model could not be found locally or fetched from the hub.

    ``model`` is what was asked for (a hub id or a directory); the message is one line: what was looked for,
    where, and what is missing.
    """

    exit_code = 1

    def __init__(self, model: str, message: str) -> None:
        super().__init__(message)
        self.model = model


class UnsupportedModelError(ValueError):
    """The model loaded, but is not an inpainting pipeline this stage can drive (it has no UNet)."""

    exit_code = 1

    def __init__(self, model: str, message: str) -> None:
        super().__init__(message)
        self.model = model
