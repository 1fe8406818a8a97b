"""Errors of the SCLIP stage; each message is one line a user can act on and names no command-line flag."""


class WeightsNotFoundError(FileNotFoundError):
    """CLIP weights could not be found locally or fetched from the hub; ``model`` is what was asked for."""

    exit_code = 1

    def __init__(self, model: str, message: str):
        super().__init__(message)
        self.model = model


class SCLIPSettingsError(ValueError):
    """A setting the user can fix; ``setting`` is the ``SCLIPSettings`` field (or argument) at fault."""

    exit_code = 2

    def __init__(self, setting: str, message: str):
        super().__init__(message)
        self.setting = setting


class VocabularyError(ValueError):
    """An empty prompt or an empty vocabulary line; ``setting`` is "prompts" or "vocabulary"."""

    exit_code = 2

    def __init__(self, setting: str, message: str):
        super().__init__(message)
        self.setting = setting


class DINOWeightsNotFoundError(WeightsNotFoundError):
    """DINO weights (CorrCLIP's second backbone) could not be found, read or fetched.

    ``weights_kind`` tells a front end which of its local-weights flags to suggest: the package alone
    (``sclip``) would point at the CLIP flag.
    """

    weights_kind = "dino"


class RegionMapError(ValueError):
    """A region map (CorrCLIP's per-image instance masks) is missing, unreadable or of the wrong size.

    A per-image failure, like an unreadable photo: the batch goes on without the image.
    """

    exit_code = 1
