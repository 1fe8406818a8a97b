#!/usr/bin/env python
"""Score SCLIP, SCLIP + SAM2 or the proposal approach on a labelled dataset. See README.md or --help."""
import sys
from typing import Sequence

try:
    from segedit.evaluate_cli import main as evaluate_main
except KeyboardInterrupt:  # Ctrl-C while Python is still importing: one line, no traceback
    print("interrupted", file=sys.stderr)
    sys.exit(130)


def main(argv: Sequence[str] | None = None) -> int:
    return evaluate_main(argv, prog="evaluate.py")


if __name__ == "__main__":
    sys.exit(main())
