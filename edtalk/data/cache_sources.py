"""What a training frame cache was decoded from: each clip's files, known by name, size and
modification time (``file_fingerprint``, as eval.run's result cache knows them).

A cache is found by its clips' ids (``training.cache_key``), so a dataset re-cropped or regenerated in
place under the same ids would be trained on from its old frames, and a clip left out as unreadable
would stay left out once mended. ``meta.json`` keeps ``sources`` (``source_stamps``) and a cache whose
clips changed on disk since (``changed_clips``) is decoded again. A stat per file: no reading.
"""

from __future__ import annotations

from pathlib import Path

from edtalk.data.clip import Clip
from edtalk.data.file_key import file_fingerprint


def source_stamps(clips: list[Clip]) -> dict[str, list]:
    """clip id -> the ``file_fingerprint`` (name, size, mtime) of its video, its audio file (None when it
    is the video's own track) and its sidecar (synthtalk's factors and landmarks), as JSON lists."""
    return {
        c.id: file_fingerprint(
            c.video, None if c.audio is None or Path(c.audio) == Path(c.video) else c.audio, c.sidecar
        )
        for c in clips
    }


def changed_clips(meta: dict, stamps: dict[str, list]) -> list[str]:
    """The ids of ``stamps`` whose files differ from those the cache's ``meta`` was decoded from; none
    for a cache written before ``sources`` was recorded (nothing to compare with)."""
    recorded = meta.get("sources")
    if not isinstance(recorded, dict):
        return []
    return [clip_id for clip_id, stamp in stamps.items() if recorded.get(clip_id) != stamp]
