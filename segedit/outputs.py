"""Output-folder safety: prompt folder names, one run per folder, and leftovers of earlier runs."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import unicodedata
from pathlib import Path
from typing import Sequence

from .errors import UsageError

# Every file name a run writes into an image or prompt folder; only these are ever removed as stale.
KNOWN_OUTPUTS = frozenset({
    "original.png", "labels.png", "mask.png", "result.json", "probs.npy", "sclip_prediction.png",
    "sam2_refined_mask.png", "label_map.png", "edited.png", "comparison.png", "instances.json",
    "segmentation.png", "similarity_map.png",
})
LOCK_NAME = ".sclip-edit.lock"
# Files beside prompt folders in the flat single-image layout: a prompt must not name its folder like them.
_RESERVED_NAMES = KNOWN_OUTPUTS | {"summary.json", "summary.csv", LOCK_NAME}
# Windows refuses these as file names, with or without an extension, in any case.
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{stem}{digit}" for stem in ("COM", "LPT") for digit in "0123456789¹²³"}
)
# Room for the "_" + hash suffix within the 255-byte limit of common file systems, with plenty to spare.
MAX_FOLDER_BYTES = 96
# What files.atomic_open leaves when killed mid-write: .NAME.XXXXXXXX.part (older runs: mkstemp's 8 chars).
_PARTIAL = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.part")


def _readable(prompt: str) -> str:
    """Letters, digits and their marks of any script; runs of anything else become one '_'."""
    text = unicodedata.normalize("NFC", prompt)
    kept = "".join(
        char if unicodedata.category(char)[0] in "LMN" or char in "-_." else "_" for char in text
    )
    return re.sub(r"_+", "_", kept).strip("_. -")


def _truncate(name: str, limit: int) -> str:
    encoded = name.encode("utf-8")
    if len(encoded) <= limit:
        return name
    return encoded[:limit].decode("utf-8", errors="ignore").rstrip("_. -")


def _suffix(prompt: str, length: int) -> str:
    return hashlib.sha256(prompt.encode("utf-8", errors="surrogatepass")).hexdigest()[:length]


def _folder_key(name: str) -> str:
    # case-insensitive file systems (macOS, Windows) treat these as one folder
    return unicodedata.normalize("NFC", name.casefold())


def prompt_folders(prompts: Sequence[str]) -> dict[str, str]:
    """A distinct, readable, single-component folder name for every distinct prompt.

    A name keeps the prompt's letters and digits of any script (NFC), joins the rest with '_', and is
    at most MAX_FOLDER_BYTES bytes; a Windows device name (CON, nul.txt) gets '_' after the device
    part. Prompts whose names would clash (also when they differ only in case), prompts with nothing
    readable left (emoji, punctuation), truncated ones and names of output files get '_' plus a hash
    of the prompt, so a prompt's folder depends only on itself and on which prompts clash with it,
    not on their order.
    """
    distinct = list(dict.fromkeys(prompts))
    bases: dict[str, str] = {}
    marked: set[str] = set()  # prompts that get a hash whatever the others are
    for prompt in distinct:
        readable = _readable(prompt)
        stem, dot, rest = readable.partition(".")
        if stem.upper() in _WINDOWS_DEVICES:  # "con.txt" is the console too: change the part before the dot
            readable = f"{stem}_{dot}{rest}"
        base = _truncate(readable, MAX_FOLDER_BYTES)
        if not base or base != readable or _folder_key(base) in _RESERVED_NAMES:
            base = base or "prompt"
            marked.add(prompt)
        bases[prompt] = base
    length = 8
    while True:
        names = {
            prompt: f"{base}_{_suffix(prompt, length)}" if prompt in marked else base
            for prompt, base in bases.items()
        }
        owners: dict[str, list[str]] = {}
        for prompt, name in names.items():
            owners.setdefault(_folder_key(name), []).append(prompt)
        clashing = {prompt for group in owners.values() if len(group) > 1 for prompt in group}
        if not clashing:
            return names
        if clashing <= marked:  # hashes agree on their first characters: take more of them
            length += 4
        marked |= clashing


class OutputInUseError(UsageError):
    """Another run is writing into the same output folder."""

    exit_code = 2


class OutputLock:
    """Advisory lock that keeps a second run out of an output folder while this one writes to it.

    The lock is the operating system's (flock, or msvcrt on Windows), so it ends with the process
    however that dies; the pid in the lock file only tells the second run whom it waits for.
    """

    def __init__(self, folder: str | os.PathLike, option: str = "--output"):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.option = option
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            if not _try_lock(fd):
                holder = _read_pid(fd)
                os.close(fd)
                who = f"pid {holder}" if holder else "another process"
                raise OutputInUseError(
                    f"output folder {self.folder} is in use by another run ({who}); wait for it to finish "
                    f"or choose another folder with {self.option}"
                )
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            # the previous holder removed the file between our open and lock: lock the new one instead
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc_info) -> None:
        if self._fd is None:
            return
        # remove while still holding the lock, so no one can lock a file that is about to vanish
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0) if hasattr(os, "pread") else b""
        return int(text.decode().strip())
    except (OSError, ValueError):
        return None


try:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
except ImportError:  # Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        # lock a byte far past the pid so that the other run can still read it
        os.lseek(fd, 1 << 20, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True


def remove_partial_files(folder: str | os.PathLike) -> list[Path]:
    """Delete the hidden .NAME.XXXXXXXX.part files an earlier, killed run left mid-write in ``folder``."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if _PARTIAL.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed


def remove_stale_outputs(
    folder: str | os.PathLike, keep: set[str], known: set[str] = KNOWN_OUTPUTS
) -> list[Path]:
    """Before ``folder`` is rewritten, delete what an earlier run wrote there that this run will not.

    ``keep`` names the files and prompt folders this run writes. Removed are the ``known`` files not
    kept, and sub-folders not kept that hold nothing but ``known`` files (prompt folders of earlier
    prompts). A sub-folder with a result.json is another image's folder and stays; any other file or
    folder is the user's and stays.
    """
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.name in keep:
            continue
        path = Path(entry.path)
        if entry.is_file(follow_symlinks=False) and entry.name in known:
            path.unlink(missing_ok=True)
            removed.append(path)
        elif entry.is_dir(follow_symlinks=False) and _only_old_prompt_outputs(path, known):
            shutil.rmtree(path)
            removed.append(path)
    return removed


def _only_old_prompt_outputs(folder: Path, known: set[str]) -> bool:
    names = []
    for entry in os.scandir(folder):
        if not entry.is_file(follow_symlinks=False):
            return False
        names.append(entry.name)
    contents = [name for name in names if not _PARTIAL.fullmatch(name)]
    return bool(contents) and "result.json" not in contents and all(name in known for name in contents)
