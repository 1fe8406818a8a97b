"""Atomic output writing: a file either exists complete or not at all (Ctrl-C, crashes, full disks)."""
from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes owner-only files; outputs are ordinary files
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@functools.lru_cache(maxsize=None)
def _umask() -> int:
    current = os.umask(0)  # the only portable way to read it is to set it, so put it straight back
    os.umask(current)
    return current


def save_image(image: np.ndarray | Image.Image, path: str | os.PathLike) -> None:
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    with atomic_path(path) as temporary:
        picture.save(temporary, format="PNG")


def save_mask(mask: np.ndarray, path: str | os.PathLike) -> None:
    save_image((mask.astype(np.uint8) * 255), path)


def save_json(data, path: str | os.PathLike) -> None:
    save_text(json.dumps(data, indent=2, default=_json_default) + "\n", path)


def save_text(text: str, path: str | os.PathLike) -> None:
    write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def save_npy(array: np.ndarray, path: str | os.PathLike) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.save(handle, array)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def prepare_output_dir(path: str | os.PathLike, option: str = "--output") -> Path:
    """Create ``path`` (and parents) and check that files can be written there.

    Raise NotADirectoryError when a file is in the way and PermissionError when the folder cannot be
    created or written to, each with one line that names the path and the ``option`` to change.
    """
    path = Path(path)
    blocker = next((part for part in (path, *path.parents) if part.exists() and not part.is_dir()), None)
    if blocker is not None:
        raise NotADirectoryError(f"output path {path}: {blocker} is a file, not a folder; choose another with {option}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        # os.access says yes to root even on read-only mounts; a real write is the only honest test
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        raise PermissionError(
            f"output folder {path} cannot be created or written to ({exc.strerror}); choose another with {option}"
        ) from exc
    return path
