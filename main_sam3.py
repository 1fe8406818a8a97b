#!/usr/bin/env python
"""Find every instance of a text prompt with SAM 3 concept segmentation (and optionally edit it). See --help."""
import sys
from typing import Sequence

from segedit.cli import main_sam3


def main(argv: Sequence[str] | None = None) -> int:
    return main_sam3(argv, prog="main_sam3.py")


if __name__ == "__main__":
    sys.exit(main())
