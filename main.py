#!/usr/bin/env python
"""Find instances of a text prompt among SAM2's masks, labelled by CLIP (the proposal approach)."""
import sys
from typing import Sequence

from segedit.cli import main as _run


def main(argv: Sequence[str] | None = None) -> int:
    return _run(argv, approach="proposals")


if __name__ == "__main__":
    sys.exit(main())
