#!/usr/bin/env python
"""Score SCLIP, SCLIP + SAM2 or the proposal approach on a labelled dataset. See README.md or --help."""
import sys
from typing import Sequence

from segedit.evaluate_cli import main as _run


def main(argv: Sequence[str] | None = None) -> int:
    return _run(argv)


if __name__ == "__main__":
    sys.exit(main())
