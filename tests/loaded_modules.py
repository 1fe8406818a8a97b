"""Lazy-import checks: which modules a fresh interpreter holds after running some code from the repository root."""
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "open_clip", "sam2", "diffusers", "transformers", "ray", "gradio")


def loaded_modules(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPOSITORY, capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def heavy_modules(modules: set[str]) -> set[str]:
    return {name for name in modules if name.split(".")[0] in HEAVY}
