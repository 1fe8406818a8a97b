"""File helpers for the evaluation tests (a uniquely named module, since every test folder has a conftest)."""
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
