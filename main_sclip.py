#!/usr/bin/env python
"""Segment (and optionally edit) images from a text prompt with SCLIP + SAM2. See README.md or --help."""
import sys
from typing import Sequence

from segedit.cli import main_sclip


def main(argv: Sequence[str] | None = None) -> int:
    return main_sclip(argv, prog="main_sclip.py")


if __name__ == "__main__":
    sys.exit(main())
