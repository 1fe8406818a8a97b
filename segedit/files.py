"""Atomic output writing: a file either exists complete or not at all (Ctrl-C, crashes, full disks)."""
from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
from PIL import Image

from .errors import UsageError


# O_EXCL: never write into a file someone else made; 0o666: the umask applies as for any new file.
_TEMPORARY_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Yield a binary file beside ``path`` that replaces ``path`` only if the block succeeds.

    The temporary file is hidden and named .NAME.XXXXXXXX.part; outputs.remove_partial_files
    clears those a killed run leaves behind.
    """
    path = Path(path)
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            fd = os.open(temporary, _TEMPORARY_FLAGS, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def save_image(image: np.ndarray | Image.Image, path: str | os.PathLike) -> None:
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    with atomic_open(path) as handle:
        picture.save(handle, format="PNG")


def save_mask(mask: np.ndarray, path: str | os.PathLike) -> None:
    save_image((mask.astype(np.uint8) * 255), path)


def save_json(data, path: str | os.PathLike) -> None:
    """Strict JSON: NaN and infinities, which JSON does not have, are written as null."""
    text = json.dumps(_finite(data), indent=2, allow_nan=False)
    save_text(text + "\n", path)


def save_text(text: str, path: str | os.PathLike) -> None:
    write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path) as handle:
        handle.write(data)


def save_npy(array: np.ndarray, path: str | os.PathLike) -> None:
    with atomic_open(path) as handle:
        np.save(handle, array)


def _finite(value):
    """``value`` with numpy scalars, arrays and paths as plain JSON values and non-finite floats as None."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return _finite(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def check_output_dir(path: str | os.PathLike, option: str = "--output") -> Path:
    """Fail unless ``path`` is, or could be created as, a folder that files can be written to.

    Nothing is created, so a run that fails later (weights missing) leaves nothing behind.
    """
    path = Path(path)
    blocker = next((part for part in (path, *path.parents) if part.exists() and not part.is_dir()), None)
    if blocker is not None:
        raise UsageError(f"output path {path}: {blocker} is a file, not a folder; choose another with {option}")
    existing = next(part for part in (path, *path.parents) if part.exists())
    _check_writable(existing, path, option)
    return path


def prepare_output_dir(path: str | os.PathLike, option: str = "--output") -> Path:
    """Create ``path`` (and parents) and check that files can be written there."""
    path = check_output_dir(path, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(_unwritable(path, exc, option)) from exc
    _check_writable(path, path, option)
    return path


def _check_writable(folder: Path, path: Path, option: str) -> None:
    try:
        # os.access says yes to root even on read-only mounts; a real write is the only honest test
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise UsageError(_unwritable(path, exc, option)) from exc


def _unwritable(path: Path, exc: OSError, option: str) -> str:
    return f"output folder {path} cannot be created or written to ({exc.strerror}); choose another with {option}"
