"""HDTF reader: EDTalk's 5-second chunks ``split_5s_video/<video>#<k>.mp4`` + ``split_5s_audio/*.wav``.

Ids are file stems (``RD_Radio1_000#1``); the identity is the source video name before ``#``.
Videos with no ``#<k>`` (``RD_Radio1_000.mp4``, ``RD_Radio1_000#1 (copy).mp4``) are left out with a warning.
HDTF has no built-in split: ``root/lists/<split>.json|txt`` (e.g. EDTalk's official ``test.json``,
whose MEAD entries are ignored here) selects the clips; ``split="all"`` takes every chunk.
A ``video/`` + ``audio/`` pair of folders works as well as the ``split_5s_*`` names.
"""

from __future__ import annotations

import logging
from pathlib import Path

from edtalk.data.clip import Clip
from edtalk.data.errors import DatasetLayoutError
from edtalk.data.readers import READERS, Dataset
from edtalk.data.readers.common import (
    add_clip,
    filter_by_list,
    find_audio,
    layout_error,
    require_root,
    split_list_path,
    videos_in,
)
from edtalk.data.readers.names import parse_hdtf_id, parse_mead_id

log = logging.getLogger(__name__)

EXPECTED = """\
  <root>/split_5s_video/RD_Radio1_000#1.mp4   (25 fps, 256x256 crops)
  <root>/split_5s_audio/RD_Radio1_000#1.wav   (16 kHz mono)
  <root>/lists/test.json|txt                  (ids to use; EDTalk's data_preprocess/lists/test.json works)"""

_LAYOUTS = (("split_5s_video", "split_5s_audio"), ("video", "audio"), ("videos", "audios"))


def _hdtf_key(entry: str) -> str | None:
    """A list entry -> HDTF clip id; MEAD ids (shared EDTalk lists) -> None."""
    name = Path(entry.strip()).name
    if name.lower().endswith((".mp4", ".wav")):
        name = name[:-4]
    return None if parse_mead_id(name) is not None else name


def read_hdtf(root: Path, split: str = "test") -> list[Clip]:
    """HDTF 5-second clips of ``split`` (a split list under ``root/lists`` or ``all``)."""
    root = require_root(root, "hdtf", EXPECTED)
    clips: dict[str, Clip] = {}
    for video_name, audio_name in _LAYOUTS:
        skipped = []
        for video in videos_in(root / video_name):
            parsed = parse_hdtf_id(video.stem)
            if parsed is None:  # no "#<k>": a stray copy or an unsplit source video, not a chunk
                skipped.append(video.name)
                continue
            clip = Clip(
                id=video.stem,
                dataset="hdtf",
                split=split,
                video=video,
                audio=find_audio([video.stem], [root / audio_name, video.parent]) or video,
                identity=parsed[0],
                extra={"chunk": parsed[1]},
            )
            add_clip(clips, video.stem, clip)
        if clips:
            if skipped:
                log.warning(
                    "%s: %d videos are not HDTF chunks <video>#<k>.mp4 and are left out (first: %s)",
                    root / video_name,
                    len(skipped),
                    ", ".join(skipped[:3]),
                )
            break
    if not clips:
        raise layout_error(root, "hdtf", EXPECTED)
    list_path = split_list_path(root, split)
    if list_path is not None:
        selected = filter_by_list(clips, list_path, split, _hdtf_key)
    elif split == "all":
        selected = sorted(clips.values(), key=lambda c: c.id)
    else:
        raise DatasetLayoutError(
            root / "lists",
            f"HDTF has no built-in {split!r} split: put a list of clip ids at lists/{split}.json or "
            f"lists/{split}.txt (EDTalk's data_preprocess/lists/{split}.json works), or score every chunk "
            "with split 'all' (training needs a train list: it never trains on every clip)",
        )
    if not selected:
        raise DatasetLayoutError(list_path or root, f"none of the listed HDTF clips for {split!r} is on disk")
    return selected


READERS.add("hdtf", Dataset(read_hdtf, title="HDTF"))
