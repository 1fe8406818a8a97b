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
    """The inpainting model or LaMa weights could not be found locally or fetched from the hub.

    ``model`` is what was asked for (a hub id, a directory or a file); ``setting`` is the ``InpainterOptions``
    field it came from (``"model"`` or ``"lama_weights"``), so a command line can name its flag. The message is
    one line: what was looked for, where, and what is missing.
    """

    exit_code = 1

    def __init__(self, model: str, message: str, setting: str = "model") -> None:
        super().__init__(message)
        self.model = model
        self.setting = setting


class UnsupportedModelError(ValueError):
    """The weights exist but are not something this stage can run: a diffusers model of no supported family, a
    pipeline whose parts do not fit its family, or a LaMa file that is not TorchScript. ``setting`` as above."""

    exit_code = 1

    def __init__(self, model: str, message: str, setting: str = "model") -> None:
        super().__init__(message)
        self.model = model
        self.setting = setting
