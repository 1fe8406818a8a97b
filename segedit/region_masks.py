"""CorrCLIP's precomputed region masks on disk: one ``<image stem>.npz`` per image holding an integer
``instance_mask`` at the image's size (the official format, so the published masks work as they are).

Every failure is a ``RegionMapError`` with one line: the core turns it into a failed image, not a crash.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from sclip.errors import RegionMapError

KEY = "instance_mask"


def region_mask_path(directory: str | os.PathLike, image_path: str | os.PathLike) -> Path:
    """Where the region map of an image lives: ``<directory>/<image stem>.npz``."""
    return Path(directory) / f"{Path(image_path).stem}.npz"


def read_region_map(path: str | os.PathLike, image_size: tuple[int, int]) -> np.ndarray:
    """The (H, W) integer region map stored in ``path``; ``image_size`` is the image's (H, W), which it must match."""
    path = Path(path)
    if not path.is_file():
        raise RegionMapError(f"region masks file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if KEY not in data.files:
                raise RegionMapError(f"{path} holds no '{KEY}' array (it has {', '.join(data.files) or 'none'})")
            region_map = data[KEY]
    except RegionMapError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:  # truncated, not a zip, pickled objects
        raise RegionMapError(f"{path} is not a readable .npz file ({type(exc).__name__})") from exc
    if not np.issubdtype(region_map.dtype, np.integer) and region_map.dtype != bool:
        raise RegionMapError(f"{path}: '{KEY}' must hold integers, not {region_map.dtype}")
    if region_map.shape != tuple(image_size):
        raise RegionMapError(
            f"{path}: '{KEY}' is {'x'.join(map(str, region_map.shape))} but the image is {image_size[0]}x{image_size[1]}"
        )
    return region_map.astype(np.int32) if region_map.dtype == bool else region_map


def write_region_map(path: str | os.PathLike, region_map: np.ndarray) -> Path:
    """Store a region map in the official format, atomically (a reader never sees half a file)."""
    region_map = np.asarray(region_map)
    if region_map.ndim != 2 or not np.issubdtype(region_map.dtype, np.integer):
        raise ValueError(f"a region map is a 2-D integer array, got {region_map.dtype} {region_map.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, **{KEY: region_map})
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
