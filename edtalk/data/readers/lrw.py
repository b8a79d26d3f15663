"""LRW reader: ``<root>/<WORD>/<split>/<WORD>_<nnnnn>.mp4`` (splits train, val, test; the root is
LRW's ``lipread_mp4`` folder).

Ids are the file stems (``ABOUT_00001``; each split numbers its clips from 1, so ids repeat across
splits); ``extra["word"]`` holds the word. Audio is a same-stem ``.wav`` beside the mp4 when present,
else the mp4's own audio track. An optional ``root/lists/<split>.txt|json`` (e.g. Wav2Lip's ``lrw.txt``
lines ``ABOUT/test/ABOUT_00001``) restricts the clips; an entry under another split's folder names no
clip of this split.
"""

from __future__ import annotations

import logging
from pathlib import Path

from edtalk.data.clip import Clip
from edtalk.data.errors import DatasetLayoutError
from edtalk.data.readers import READERS, Dataset
from edtalk.data.readers.common import (
    add_clip,
    entry_parts,
    filter_by_list,
    find_audio,
    layout_error,
    nearby_root_hint,
    note_audio_fallbacks,
    require_root,
    split_list_path,
    videos_matching,
)

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
EXPECTED = """\
  <root>/ABOUT/test/ABOUT_00001.mp4   (29 frames at 25 fps; audio inside or ABOUT_00001.wav beside it)
  <root>/ABOUT/train/...  <root>/ABOUT/val/...
optional: <root>/lists/<split>.txt|json"""


def _lrw_key(entry: str, split: str) -> str:
    """A list entry -> clip id; ``ABOUT/train/ABOUT_00001`` in the test list keeps its folder, so it
    is reported as not on disk instead of picking test's ``ABOUT_00001``."""
    parts = entry_parts(entry)
    if len(parts) > 1 and parts[-2] in SPLITS and parts[-2] != split:
        return "/".join(parts[-2:])
    return parts[-1]


def _is_lrw_name(video: Path) -> bool:
    """``<WORD>/<split>/<WORD>_<n>.mp4``: the file name starts with its word folder's name."""
    return video.stem.startswith(f"{video.parent.parent.name}_")


def _holds_clips(folder: Path) -> bool:
    """``folder`` holds ``<WORD>/<split>/<WORD>_<n>.mp4`` clips."""
    return any(_is_lrw_name(v) for split in SPLITS for v in videos_matching(folder, f"*/{split}/*"))


def read_lrw(root: Path, split: str = "test") -> list[Clip]:
    """LRW clips of ``split`` (the split is the middle folder of ``<WORD>/<split>/``)."""
    root = require_root(root, "lrw", EXPECTED)
    clips, skipped = {}, []
    for video in videos_matching(root, f"*/{split}/*"):
        if not _is_lrw_name(video):
            skipped.append(str(video.relative_to(root)))
            continue
        word = video.parent.parent.name
        clip = Clip(
            id=video.stem,
            dataset="lrw",
            split=split,
            video=video,
            audio=find_audio([video.stem], [video.parent]) or video,
            extra={"word": word},
        )
        add_clip(clips, video.stem, clip)
    if skipped and clips:
        log.warning(
            "%s: %d videos are not <WORD>/%s/<WORD>_<n>.mp4 and are left out (first: %s)",
            root,
            len(skipped),
            split,
            ", ".join(skipped[:3]),
        )
    if not clips:
        found = sorted({p.parent.name for p in videos_matching(root, "*/*/*") if _is_lrw_name(p)})
        if found:
            raise DatasetLayoutError(
                root, f"no LRW clips for split {split!r}; splits present: {', '.join(found)}"
            )
        raise layout_error(root, "lrw", EXPECTED, nearby_root_hint(root, "lrw", _holds_clips))
    list_path = split_list_path(root, split)
    if list_path is None:
        selected = list(clips.values())
    else:
        selected = filter_by_list(clips, list_path, split, lambda entry: _lrw_key(entry, split))
    if not selected:
        raise DatasetLayoutError(list_path, f"none of the listed LRW clips for {split!r} is on disk")
    note_audio_fallbacks(selected, root)
    return selected


READERS.add("lrw", Dataset(read_lrw, title="LRW"))
