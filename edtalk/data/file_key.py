"""A file known by its content without reading it whole: name, size and the sha256 of its two ends."""

from __future__ import annotations

import hashlib
from pathlib import Path

ENDS_BYTES = 1 << 16  # the bytes read at each end of a file


def file_key(path: Path) -> list:
    """[name, size, sha256 of the first and last 64 KiB (16 hex digits)]; [name, None] when the file is
    missing. A video re-downloaded under its name with the same size differs at its ends (header and
    index); a copy elsewhere keeps them, where a modification time would not."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            ends = hashlib.sha256(f.read(ENDS_BYTES))
            f.seek(max(size - ENDS_BYTES, 0))
            ends.update(f.read(ENDS_BYTES))
    except OSError:
        return [path.name, None]
    return [path.name, size, ends.hexdigest()[:16]]
