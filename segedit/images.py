"""Finding input images and reading them as RGB uint8 arrays, whatever their file format quirks."""
from __future__ import annotations

import fnmatch
import glob
import os
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError, UsageError, first_line

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# PIL's own hard limit (twice its warning threshold); above it decoding alone could exhaust memory.
MAX_PIXELS = 2 * 89_478_485
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class InputImage:
    path: Path
    name: str  # relative output folder name, unique within the run
    error: str | None = None  # why a listed entry cannot be processed: the runner reports it as failed


@dataclass
class LoadedImage:
    rgb: np.ndarray  # (H, W, 3) uint8 after EXIF orientation
    notes: list[str]  # conversions applied, for result.json


class _Walk:
    """Folders and patterns expanded by a walk that follows symlinks but enters each real folder once.

    Loops (``sub/up -> ..``, ``self -> .``) would otherwise repeat forever; identities are
    (st_dev, st_ino), so a folder reached through another name is still the same folder. Folders in
    ``exclude`` (the output folder inside an input folder) are never entered.
    """

    def __init__(self, recursive: bool, exclude: Sequence[str | os.PathLike]):
        self.recursive = recursive
        self.excluded = {_identity(path) for path in exclude} - {None}

    def folder(self, root: Path) -> list[Path]:
        found: list[Path] = []
        visited: set = set()
        pending = [root]
        while pending:
            folder = pending.pop()
            identity = _identity(folder)
            if identity is None or identity in visited:
                continue
            visited.add(identity)
            files, folders = self._entries(folder)
            found.extend(path for path in files if path.suffix.lower() in IMAGE_SUFFIXES)
            if self.recursive:
                pending.extend(reversed(folders))
        return sorted(found)

    def pattern(self, spec: str) -> list[Path]:
        """What glob.glob(spec) would give (hidden names only for patterns that start with '.')."""
        parts = Path(spec).parts
        magic = next(index for index, part in enumerate(parts) if glob.has_magic(part))
        root = Path(*parts[:magic]) if magic else Path(".")
        matches = set(self._match(root, parts[magic:], set()))
        return sorted(path for path in matches if path.suffix.lower() in IMAGE_SUFFIXES)

    def _match(self, folder: Path, parts: tuple[str, ...], visited: set) -> Iterator[Path]:
        # (folder, position in the pattern) repeats only through a loop: stop there
        state = (_identity(folder), len(parts))
        if state[0] is None or state in visited:
            return
        visited.add(state)
        part, rest = parts[0], parts[1:]
        files, folders = self._entries(folder)
        if part == "**" and self.recursive:
            if rest:
                yield from self._match(folder, rest, visited)
            else:
                yield from files
            for sub in folders:
                if not sub.name.startswith("."):
                    yield from self._match(sub, parts, visited)
            return
        candidates = folders if rest else files
        for path in candidates:
            if _name_matches(path.name, part):
                if rest:
                    yield from self._match(path, rest, visited)
                else:
                    yield path

    def _entries(self, folder: Path) -> tuple[list[Path], list[Path]]:
        """Files and sub-folders (excluded ones left out) of ``folder``, by name; unreadable means empty."""
        files, folders = [], []
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            return files, folders
        for entry in entries:
            try:
                if entry.is_dir():
                    path = folder / entry.name
                    if _identity(path) not in self.excluded:
                        folders.append(path)
                elif entry.is_file():
                    files.append(folder / entry.name)
            except OSError:  # a dangling link or a name that vanished meanwhile
                continue
        return files, folders


def _identity(path: str | os.PathLike) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return status.st_dev, status.st_ino


def _name_matches(name: str, part: str) -> bool:
    if name.startswith(".") and not part.startswith("."):
        return False  # as in glob and shells, * and ? do not match hidden names
    return fnmatch.fnmatch(name, part)


def _expand_one(spec: str, walk: _Walk) -> tuple[list[Path], Path]:
    """Images named by one --image argument, and the folder their output names are relative to."""
    path = Path(spec)
    if path.is_dir():
        found = walk.folder(path)
        if not found:
            hint = "" if walk.recursive else " (add --recursive to look in sub-folders)"
            raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}{hint}")
        return found, path
    if path.is_file():
        return [path], path.parent
    if glob.has_magic(spec):
        # like a folder, a pattern such as photos/* picks the images among the files it matches
        found = walk.pattern(spec)
        if not found:
            raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) match {spec}")
        return found, Path(os.path.commonpath([p.parent for p in found]))
    raise UsageError(f"input not found: {spec} (check the path passed to --image)")


def _listed_failure(spec: str, error: UsageError) -> tuple[Path, str, str]:
    """The entry of an --images-from line that names no usable image: it fails alone, later."""
    path = Path(spec)
    reason = str(error)
    if not glob.has_magic(spec):
        try:
            os.stat(spec)
        except FileNotFoundError:
            reason = "file not found"
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
    name = path.stem if path.stem not in ("", ".", "..") else "image"
    return path, name, f"{reason} (listed in --images-from)"


def read_list_file(source: str) -> list[str]:
    """Paths from --images-from: one per line, blank lines and # comments skipped; '-' is stdin."""
    name = "standard input" if source == "-" else source
    try:
        if source == "-":
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
        else:
            data = Path(source).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read --images-from {name}: {exc.strerror}") from exc
    if b"\0" in data:
        raise UsageError(f"--images-from {name} is binary data, not a text list of image paths")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"--images-from {name} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "save the list as UTF-8"
        ) from exc
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def collect_inputs(
    specs: Sequence[str],
    recursive: bool = False,
    *,
    listed: Sequence[str] = (),
    exclude: Sequence[str | os.PathLike] = (),
) -> list[InputImage]:
    """Expand paths, folders and globs; give every image a distinct output name.

    ``specs`` come from --image, ``listed`` from --images-from: a listed entry that names nothing
    readable becomes an InputImage with ``error`` set (one failed image) instead of stopping the
    batch. Folders in ``exclude`` (the output folder) are never entered by folder or pattern walks.

    A single file keeps the reference README's flat output layout (name ""). Otherwise the name is
    the path relative to its folder argument, without extension; if two files would share a name
    (photo.jpg and photo.png), both get their extension appended, and a name that is still taken
    (a/photo.jpg and b/photo.jpg given as two arguments) gets a number.
    """
    walk = _Walk(recursive, exclude)
    entries: list[tuple[Path, str, str | None]] = []
    seen: set[Path] = set()
    for spec, from_list in [(spec, False) for spec in specs] + [(spec, True) for spec in listed]:
        try:
            files, base = _expand_one(spec, walk)
        except UsageError as exc:
            if not from_list:
                raise
            entries.append(_listed_failure(spec, exc))
            continue
        for file in files:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            entries.append((file, file.relative_to(base).with_suffix("").as_posix(), None))
    return name_inputs(entries)


def name_inputs(entries: Sequence[tuple[Path | str, str, str | None]]) -> list[InputImage]:
    """Images (path, relative name, error) with names made unique as ``collect_inputs`` describes (URIs too)."""
    if not entries:
        raise UsageError("no input images; pass --image PATH (files, folders or globs) or --images-from FILE")
    if len(entries) == 1:
        file, _, error = entries[0]
        return [InputImage(file, "", error)]
    counts = Counter(name for _, name, _ in entries)
    inputs: list[InputImage] = []
    used: set[str] = set()  # case-folded: Photo/ and photo/ are one folder on macOS and Windows
    for file, name, error in entries:
        if counts[name] > 1:
            name = f"{name}_{Path(str(file)).suffix.lstrip('.').lower()}"
        unique, number = name, 2
        while unique.casefold() in used:
            unique, number = f"{name}_{number}", number + 1
        used.add(unique.casefold())
        inputs.append(InputImage(file, unique, error))
    return inputs


def _to_rgb(picture: Image.Image, notes: list[str]) -> np.ndarray:
    mode = picture.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit data: scale the full range down to 8 bits instead of clipping at 255
        array = np.asarray(picture, dtype=np.float64)
        high = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array / high * 255.0 + 0.5, 0, 255).astype(np.uint8)
        notes.append(f"{mode} scaled to 8 bits")
        return np.repeat(array[..., None], 3, axis=2)
    if mode == "P" and "transparency" in picture.info:
        picture = picture.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # transparent pixels have no meaningful colour: show them as white paper
        background = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(background, picture.convert("RGBA"))
        notes.append("alpha composited on white")
    elif mode == "CMYK":
        notes.append("CMYK converted to RGB")
    elif mode in ("L", "1", "P", "F"):
        notes.append(f"{mode} converted to RGB")
    return np.array(picture.convert("RGB"), dtype=np.uint8)  # a writable copy: torch warns on read-only arrays


def load_image(path: str | os.PathLike) -> LoadedImage:
    """RGB uint8 with EXIF orientation applied; raise ImageError with one line if unreadable."""
    path = Path(path)
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            # PIL warns from half its hard limit; MAX_PIXELS below is the one limit we apply
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as picture:
                width, height = picture.size
                if width * height > MAX_PIXELS:
                    raise ImageError(
                        f"{path}: {width}x{height} is larger than the {MAX_PIXELS // 1_000_000} megapixel safety "
                        "limit; downscale the file first"
                    )
                picture.load()
                if picture.getexif().get(_EXIF_ORIENTATION, 1) != 1:
                    notes.append("EXIF orientation applied")
                rgb = _to_rgb(ImageOps.exif_transpose(picture), notes)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: image too large to decode safely ({exc}); downscale the file first") from exc
    except FileNotFoundError as exc:
        raise ImageError(f"{path}: file not found") from exc
    except UnidentifiedImageError as exc:  # its message repeats the path and says no more
        raise ImageError(f"{path}: not an image file in a supported format (JPEG, PNG, WebP, BMP, TIFF)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # PIL reports truncated or corrupt data as OSError/SyntaxError/ValueError
        raise ImageError(f"{path}: not a readable image ({first_line(exc)})") from exc
    return LoadedImage(rgb=np.ascontiguousarray(rgb), notes=notes)


def as_rgb_array(image) -> np.ndarray:
    """Accept a path, PIL image or uint8 array (H, W, 3) for the Python API; (H, W) and RGBA arrays are converted."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image).rgb
    if isinstance(image, Image.Image):
        return _to_rgb(ImageOps.exif_transpose(image), [])
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB image array of shape (H, W, 3), got {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels (0-255), got {array.dtype}")
    if array.shape[2] == 4:  # RGBA: composite on white, as files with alpha are
        return _to_rgb(Image.fromarray(array), [])
    return np.ascontiguousarray(array)
