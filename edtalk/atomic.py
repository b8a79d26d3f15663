"""Atomic file writes: write a temp file beside the target, then ``os.replace`` it into place.

Readers see either the old file or the complete new one, never a half-written file; a failed
write leaves no temp file behind; every written file gets the usual permissions
(``0o666 & ~umask``), not the owner-only 0600 that ``tempfile.mkstemp`` gives.

    with atomic_path(out / "model.pt") as tmp:   # for writers that want a file name
        torch.save(state, tmp)
    write_json(out / "manifest.json", manifest, indent=1, sort_keys=True)
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@functools.cache
def _file_mode() -> int:
    """``0o666 & ~umask``: the mode ``open()`` would give a new file (umask read once)."""
    umask = None
    try:  # Linux exposes the umask without changing it
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
                    break
    except (OSError, ValueError, IndexError):
        umask = None
    if umask is None:  # elsewhere: set and restore (restrictive meanwhile, in case of other threads)
        umask = os.umask(0o077)
        os.umask(umask)
    return 0o666 & ~umask


# ``atomic_path``'s temp name: "." + the target's name + "." + mkstemp's 8 random characters + its suffix
_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp(\.[a-z0-9]+)?", re.IGNORECASE)


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temp file's that ``atomic_path`` (or ``write_json`` ...) names, as a killed
    writer leaves it beside its target (``.clip.mp4.k2j4abcd.tmp.mp4``, ``.card.json.k2j4abcd.tmp``)."""
    return _TEMP_NAME.fullmatch(name) is not None


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temp file path beside ``path``; on success it replaces ``path``, on error it is removed.

    ``suffix`` ends the temp name, for writers that infer the format from it (``.tmp.mp4``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries, so a rename survives a power loss with the file it names (POSIX;
    skipped where a folder cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (flushed and fsynced before the rename, its folder after);
    returns ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    _fsync_folder(Path(path).parent)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 atomically; returns ``path``."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any, **dumps_kwargs: Any) -> Path:
    """Write ``json.dumps(obj, **dumps_kwargs)`` atomically (no trailing newline); returns ``path``."""
    return write_text(path, json.dumps(obj, **dumps_kwargs))
