"""Errors of the SCLIP stage; each message is one line a user can act on."""


class WeightsNotFoundError(FileNotFoundError):
    """CLIP weights could not be found locally or fetched from the hub."""
