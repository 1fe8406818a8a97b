"""Exit codes shared by every CLI, and the one-line errors that map onto them."""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # at least one image failed (unreadable image, missing weights, model error)
EXIT_USAGE = 2  # bad flags or values, missing inputs, unusable output folder
EXIT_NOT_FOUND = 3  # at least one target was not found, nothing failed
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    "exit codes: 0 all images done and every target found; 1 at least one image failed (unreadable "
    "image, weights not found, model error); 2 usage error (bad flags, missing --edit, no images, "
    "unusable output folder); 3 at least one target not found and nothing failed; 130 interrupted"
)


class UsageError(ValueError):
    """The command line or its inputs are unusable; nothing was processed."""


class ImageError(ValueError):
    """One input image cannot be read; the batch goes on without it."""
