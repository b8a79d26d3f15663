"""Atomic file writes (temp file in the same folder + rename) for the generator's outputs."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf


def _tmp_beside(path: Path, suffix: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return tmp


def write_bytes(path: Path, data: bytes) -> None:
    tmp = _tmp_beside(path, ".tmp")
    try:
        Path(tmp).write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj, indent: int | None = None) -> None:
    text = json.dumps(obj, indent=indent, separators=(",", ":") if indent is None else None)
    write_bytes(path, (text + "\n").encode("utf-8"))


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM mono wav (deterministic header, no metadata)."""
    tmp = _tmp_beside(path, ".tmp.wav")
    try:
        sf.write(tmp, np.asarray(audio, np.float32), sample_rate, subtype="PCM_16", format="WAV")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
