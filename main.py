#!/usr/bin/env python
"""Find instances of a text prompt among SAM2's masks, labelled by CLIP (the proposal approach)."""
import sys
from typing import Sequence

from segedit.cli import main_proposals


def main(argv: Sequence[str] | None = None) -> int:
    return main_proposals(argv, prog="main.py")


if __name__ == "__main__":
    sys.exit(main())
