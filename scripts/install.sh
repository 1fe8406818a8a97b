#!/usr/bin/env bash
# Install the project into the current Python environment (use a virtualenv if you like).
#   bash scripts/install.sh        # the tool
#   bash scripts/install.sh test   # the tool and what its tests need (the Ray engine's included)
# torch comes first so that sam2, a source build, compiles against it instead of fetching a second copy.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install "torch==2.14.1" "torchvision==0.29.1"
SAM2_BUILD_CUDA=0 python -m pip install --no-build-isolation "sam2>=1.1"
if [ "${1:-}" = "test" ]; then
  python -m pip install -e ".[test,ray]"
else
  python -m pip install -e .
fi
