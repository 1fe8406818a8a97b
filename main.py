#!/usr/bin/env python
"""Find instances of a text prompt among SAM2's masks, labelled by CLIP (the proposal approach)."""
import sys
from typing import Sequence

try:
    from segedit.cli import main_proposals
except KeyboardInterrupt:  # Ctrl-C while Python is still importing: one line, no traceback
    print("interrupted", file=sys.stderr)
    sys.exit(130)


def main(argv: Sequence[str] | None = None) -> int:
    return main_proposals(argv, prog="main.py")


if __name__ == "__main__":
    sys.exit(main())
