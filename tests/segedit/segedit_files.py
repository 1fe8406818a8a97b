"""File builders for the orchestration tests (a uniquely named module: every test folder has a conftest)."""
import struct
import zlib
from pathlib import Path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that claims a size but holds no pixels: a decompression bomb's header without its memory."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path
