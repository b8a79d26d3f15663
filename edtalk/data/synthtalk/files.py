"""The generator's own file formats, written atomically through ``edtalk.atomic``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from edtalk.atomic import atomic_path, write_text


def write_json(path: Path, obj, indent: int | None = None) -> None:
    """JSON plus a newline; compact separators unless ``indent`` is given."""
    text = json.dumps(obj, indent=indent, separators=(",", ":") if indent is None else None)
    write_text(path, text + "\n")


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM mono wav (deterministic header, no metadata)."""
    with atomic_path(path, suffix=".tmp.wav") as tmp:
        sf.write(str(tmp), np.asarray(audio, np.float32), sample_rate, subtype="PCM_16", format="WAV")
