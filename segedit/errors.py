"""Exit codes shared by every CLI, and the errors that carry them.

Every error a user can fix has a class attribute ``exit_code``; the stage packages give their own
error classes one too (they never import this module), so the CLI needs no table of exception types.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # at least one image failed (unreadable image, missing weights, model error)
EXIT_USAGE = 2  # bad flags or values, missing inputs, unusable or busy output folder
EXIT_NOT_FOUND = 3  # at least one target was not found, nothing failed
EXIT_INTERRUPTED = 130  # Ctrl-C; SIGTERM ends with 128 + 15 = 143 (signals.Terminated)

EXIT_CODES_HELP = (
    "exit codes: 0 all images done and every target found; 1 at least one image failed (unreadable "
    "image, weights not found, model error); 2 usage error (bad flags, missing --edit, no images, "
    "unusable or busy output folder); 3 at least one target not found and nothing failed; "
    "130 interrupted (143 on SIGTERM)"
)


class ToolError(Exception):
    """An expected failure with a one-line message and the exit code it ends the run with."""

    exit_code = EXIT_FAILED


class UsageError(ToolError, ValueError):
    """The command line or its inputs are unusable; nothing was processed."""

    exit_code = EXIT_USAGE


class ImageError(ToolError, ValueError):
    """One input image cannot be read; the batch goes on without it."""

    exit_code = EXIT_FAILED


def exit_code_of(exc: BaseException) -> int | None:
    """The exit code an expected error carries, or None for an unexpected one."""
    code = getattr(type(exc), "exit_code", None)
    return code if isinstance(code, int) else None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
