"""Finding input images and reading them as RGB uint8 arrays, whatever their file format quirks."""
from __future__ import annotations

import glob
import os
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError, UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# PIL's own hard limit (twice its warning threshold); above it decoding alone could exhaust memory.
MAX_PIXELS = 2 * 89_478_485
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class InputImage:
    path: Path
    name: str  # relative output folder name, unique within the run


@dataclass
class LoadedImage:
    rgb: np.ndarray  # (h, w, 3) uint8 as processed (downscaled when --max-side asks)
    original: np.ndarray  # (H, W, 3) uint8 after EXIF orientation; results are written at this size
    notes: list[str]  # conversions applied, for result.json

    @property
    def original_size(self) -> tuple[int, int]:
        return self.original.shape[:2]


def _expand_one(spec: str, recursive: bool) -> tuple[list[Path], Path]:
    """Images named by one --image argument, and the folder their output names are relative to."""
    path = Path(spec)
    if path.is_dir():
        pattern = "**/*" if recursive else "*"
        found = sorted(p for p in path.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            hint = "" if recursive else " (add --recursive to look in sub-folders)"
            raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}{hint}")
        return found, path
    if path.is_file():
        return [path], path.parent
    if glob.has_magic(spec):
        # like a folder, a pattern such as photos/* picks the images among the files it matches
        found = sorted(
            Path(p) for p in glob.glob(spec, recursive=recursive)
            if Path(p).is_file() and Path(p).suffix.lower() in IMAGE_SUFFIXES
        )
        if not found:
            raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) match {spec}")
        return found, Path(os.path.commonpath([p.parent for p in found]))
    raise UsageError(f"input not found: {spec} (check the path passed to --image)")


def read_list_file(source: str) -> list[str]:
    """Paths from --images-from: one per line, blank lines and # comments skipped; '-' is stdin."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read --images-from {source}: {exc.strerror}") from exc
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def collect_inputs(specs: Sequence[str], recursive: bool = False) -> list[InputImage]:
    """Expand paths, folders and globs; give every image a distinct output name.

    A single file keeps the reference README's flat output layout (name ""). Otherwise the name is
    the path relative to its folder argument, without extension; if two files would share a name
    (photo.jpg and photo.png), both get their extension appended, and a name that is still taken
    (a/photo.jpg and b/photo.jpg given as two arguments) gets a number.
    """
    entries: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for spec in specs:
        files, base = _expand_one(spec, recursive)
        for file in files:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            entries.append((file, file.relative_to(base).with_suffix("").as_posix()))
    return name_inputs(entries)


def name_inputs(entries: Sequence[tuple[Path | str, str]]) -> list[InputImage]:
    """Images with their relative names made unique as ``collect_inputs`` describes (also for URIs)."""
    if not entries:
        raise UsageError("no input images; pass --image PATH (files, folders or globs) or --images-from FILE")
    if len(entries) == 1:
        return [InputImage(entries[0][0], "")]
    counts = Counter(name for _, name in entries)
    inputs: list[InputImage] = []
    used: set[str] = set()  # case-folded: Photo/ and photo/ are one folder on macOS and Windows
    for file, name in entries:
        if counts[name] > 1:
            name = f"{name}_{Path(str(file)).suffix.lstrip('.').lower()}"
        unique, number = name, 2
        while unique.casefold() in used:
            unique, number = f"{name}_{number}", number + 1
        used.add(unique.casefold())
        inputs.append(InputImage(file, unique))
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


def load_image(path: str | os.PathLike, max_side: int | None = None) -> LoadedImage:
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
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"{path}: not a readable image ({reason})") from exc
    original = np.ascontiguousarray(rgb)
    original_size = rgb.shape[:2]
    if max_side is not None and max(original_size) > max_side:
        scale = max_side / max(original_size)
        new_w = max(1, round(original_size[1] * scale))
        new_h = max(1, round(original_size[0] * scale))
        rgb = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
        notes.append(f"processed at {new_w}x{new_h} (--max-side {max_side})")
    return LoadedImage(rgb=np.ascontiguousarray(rgb), original=original, notes=notes)


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


def upscale_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map or mask back to (H, W)."""
    if labels.shape[:2] == tuple(size):
        return labels
    dtype = labels.dtype
    source = labels.astype(np.int32) if dtype == bool else labels
    resized = cv2.resize(source, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return resized.astype(dtype)
