#!/usr/bin/env python
"""Segment (and optionally edit) images from a text prompt with SCLIP + SAM2. See README.md or --help."""
import sys
from typing import Sequence

try:
    from segedit.cli import main_sclip
except KeyboardInterrupt:  # Ctrl-C while Python is still importing: one line, no traceback
    print("interrupted", file=sys.stderr)
    sys.exit(130)


def main(argv: Sequence[str] | None = None) -> int:
    return main_sclip(argv, prog="main_sclip.py")


if __name__ == "__main__":
    sys.exit(main())
