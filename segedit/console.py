"""What a command line says: log lines on stderr (above progress bars), the closing line, and every
expected failure as one line with its exit code. Shared by the segmentation CLIs, the evaluation CLI and
the web page's server."""
from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import EXIT_FAILED, EXIT_INTERRUPTED, exit_code_of, first_line
from .options import ConsoleOptions, RunOptions

logger = logging.getLogger("segedit")

# The project's packages, whose log records a run shows.
PACKAGES = ("segedit", "sclip", "refine", "inpaint", "viz", "sam3seg")


def progress_bars(console: ConsoleOptions) -> bool:
    return not console.quiet and sys.stderr.isatty()


class _TqdmHandler(logging.StreamHandler):
    """Log lines that do not break a progress bar: tqdm prints them above it."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


@contextlib.contextmanager
def console_logging(console: ConsoleOptions) -> Iterator[None]:
    """Send the project's log records to stderr for the length of one CLI run, then restore the loggers.

    Restoring matters because ``main(argv)`` is also called in-process (tests, scripts): a run must not
    leave handlers bound to a stream that has since been closed or swapped.
    """
    handler = _TqdmHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s" if console.debug else "%(message)s"))
    loggers = [logging.getLogger(name) for name in PACKAGES]
    saved = [(each.handlers[:], each.level, each.propagate) for each in loggers]
    for each in loggers:
        each.handlers[:] = [handler]
        each.setLevel(console.level)
        each.propagate = False
    try:
        yield
    finally:
        for each, (handlers, old_level, propagate) in zip(loggers, saved):
            each.handlers[:] = handlers
            each.setLevel(old_level)
            each.propagate = propagate


def run_guarded(console: ConsoleOptions, body: Callable[[], int]) -> int:
    """Run a CLI body, turning every expected failure into one line on stderr and its exit code."""
    try:
        return body()
    except KeyboardInterrupt as exc:
        print("interrupted; finished images are complete, rerun with --skip-existing to resume", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the one place that turns failures into exit codes
        code = exit_code_of(exc)
        if code is None and _is_out_of_memory(exc):
            report_error(console, exc, "CUDA out of memory while loading models; try --model ViT-B-16, --low-vram "
                                       "or --device cpu")
            return EXIT_FAILED
        if code is None:
            report_error(console, exc, f"unexpected {type(exc).__name__}: {first_line(exc)} (rerun with --debug "
                                       "for the traceback)")
            return EXIT_FAILED
        report_error(console, exc)
        return code


def _is_out_of_memory(exc: BaseException) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError)


def report_error(console: ConsoleOptions, exc: BaseException, message: str | None = None) -> None:
    if console.debug:
        traceback.print_exception(exc)
    print(f"error: {message or first_line(exc)}", file=sys.stderr)


def finish(summary, options: RunOptions, console: ConsoleOptions, output) -> int:
    """The run's last words: the not-found advice once, the closing line, the exit code."""
    from .runner import not_found_prompts

    missing = not_found_prompts(summary.outcomes)
    if missing:
        logger.warning("not found: %s; %s", ", ".join(repr(p) for p in missing), not_found_advice(options))
    if not console.quiet:
        print(closing_line(summary, output))
    return summary.exit_code


def not_found_advice(options: RunOptions) -> str:
    words = "try other words for the prompt, and check that the object is really in the image"
    if options.approach == "sam3":
        return f"{words}; a lower --sam3-threshold keeps less certain instances"
    if options.preset:
        return words
    return f"add related classes so CLIP can tell them apart (e.g. --vocabulary car road building sky), {words}"


def closing_line(summary, output: Path | str) -> str:
    """Where the results went and, for one image, what was found."""
    if len(summary.outcomes) != 1:
        return f"{summary.line()}; results in {output}"
    outcome = summary.outcomes[0]
    if outcome.status in ("failed", "skipped"):
        return f"{outcome.image}: {outcome.status}{f' ({outcome.message})' if outcome.message else ''}"
    found = "; ".join(
        f"'{t.prompt}' found: {t.pixels:,} pixels ({100 * t.share:.1f} % of the image)" if t.found
        else f"'{t.prompt}' not found"
        for t in outcome.targets
    )
    return f"{found}; results in {outcome.output}"
