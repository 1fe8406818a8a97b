#!/usr/bin/env python
"""Segment (and optionally edit) images from a text prompt with SCLIP + SAM2. See README.md or --help."""
import sys
from typing import Sequence

from segedit.cli import main as _run


def main(argv: Sequence[str] | None = None) -> int:
    return _run(argv, approach="sclip")


if __name__ == "__main__":
    sys.exit(main())
