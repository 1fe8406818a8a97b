"""Errors of the editing stage."""


class WeightsNotFoundError(FileNotFoundError):
    """The inpainting model could not be found locally or fetched from the hub.

    The message is one line: what was looked for, where, and how to provide it.
    """
