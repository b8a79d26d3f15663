"""Files known without reading them whole: by name, size and mtime (``file_fingerprint``: the result
caches of eval.run and the training frame cache), or by name, size and the sha256 of their two ends
(``file_key``: the crop tool's done records and the held-out copy check)."""

from __future__ import annotations

import hashlib
import os
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


def file_fingerprint(*paths: str | Path | None) -> list:
    """``[name, size, mtime_ns]`` of each input file (None stays None; a missing file is
    ``[name, "missing"]``).

    A file is known by its name (the last part of its path), not by the folders above it: those
    change when the very same files are reached another way (``--root data/x`` or its absolute
    path, another working folder, a symlinked root, a dataset or ``--out`` folder moved or copied
    with its times), and a resumed run must then reuse its rows and videos. The folders add nothing
    to a fingerprint's meaning: a row (or stamp) already belongs to one clip id, and the file's
    place in the list (GT video, prediction, audio, sidecar, ...) says which of its files it is.
    What detects a changed file is, as before, its size and modification time to the nanosecond:
    writing or replacing a file sets a new mtime, so a change is seen even at the same size; a
    copy that does not keep times (``cp`` without ``-p``) reads as changed and costs a
    recomputation, never a wrong reuse. (A resolved absolute path would lose every row of a moved
    dataset; a content hash would read every input file on every run.)
    """
    out: list = []
    for p in paths:
        if p is None:
            out.append(None)
            continue
        name = Path(p).name
        try:
            st = os.stat(p)
            out.append([name, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([name, "missing"])
    return out
