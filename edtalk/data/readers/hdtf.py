"""HDTF reader: EDTalk's 5-second chunks ``split_5s_video/<video>#<k>.mp4`` + ``split_5s_audio/*.wav``.

Ids are file stems (``RD_Radio1_000#1``); the identity is the source video name before ``#``.
Videos with no ``#<k>`` (``RD_Radio1_000.mp4``, ``RD_Radio1_000#1 (copy).mp4``) are left out with a warning.
HDTF has no built-in split: ``root/lists/<split>.json|txt`` (e.g. EDTalk's official ``test.json``,
whose MEAD entries are ignored here) selects the clips; ``split="all"`` takes every chunk.
A ``video/`` + ``audio/`` pair of folders works as well as the ``split_5s_*`` names (EDTalk's tree keeps
its unsplit source videos in ``video/``: a folder with no chunk is not a layout); chunks in two of these
folders are an error.
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
    videos_in,
)
from edtalk.data.readers.names import parse_hdtf_id, parse_mead_id

log = logging.getLogger(__name__)

EXPECTED = """\
  <root>/split_5s_video/RD_Radio1_000#1.mp4   (25 fps, 256x256 crops)
  <root>/split_5s_audio/RD_Radio1_000#1.wav   (16 kHz mono)
  <root>/lists/test.json|txt                  (ids to use; EDTalk's data_preprocess/lists/test.json works)"""
CROP = "python -m edtalk.data.crop dataset --dataset hdtf --root RAW --out CROPPED"

_LAYOUTS = (("split_5s_video", "split_5s_audio"), ("video", "audio"), ("videos", "audios"))


def _hdtf_key(entry: str) -> str | None:
    """A list entry -> HDTF clip id; MEAD ids (shared EDTalk lists) -> None."""
    name = entry_parts(entry)[-1]
    return None if parse_mead_id(name) is not None else name


def _chunks(folder: Path) -> tuple[list[Path], list[Path]]:
    """The videos in ``folder`` named as chunks ``<video>#<k>``, and the others."""
    chunks, others = [], []
    for video in videos_in(folder):
        (chunks if parse_hdtf_id(video.stem) is not None else others).append(video)
    return chunks, others


def _holds_chunks(folder: Path) -> bool:
    return any(_chunks(folder / video_name)[0] for video_name, _ in _LAYOUTS)


def _no_chunks_error(root: Path) -> DatasetLayoutError:
    """The layout error, naming the root to use instead (one level off) or, for videos with no chunk
    number (raw HDTF), the crop command."""
    if hint := nearby_root_hint(root, "hdtf", _holds_chunks):
        return layout_error(root, "hdtf", EXPECTED, hint)
    raw = [v for folder in (root, *(root / v for v, _ in _LAYOUTS)) for v in _chunks(folder)[1]]
    if raw:
        hint = (
            f"no video is a 5-second chunk <video>#<k> ({len(raw)} others, e.g. {raw[0].relative_to(root)}): "
            f"raw HDTF is cut into chunks first with `{CROP}`"
        )
    return layout_error(root, "hdtf", EXPECTED, hint)


def read_hdtf(root: Path, split: str = "test") -> list[Clip]:
    """HDTF 5-second clips of ``split`` (a split list under ``root/lists`` or ``all``)."""
    root = require_root(root, "hdtf", EXPECTED)
    found = [(names, *_chunks(root / names[0])) for names in _LAYOUTS]
    found = [(names, chunks, others) for names, chunks, others in found if chunks]
    if not found:
        raise _no_chunks_error(root)
    if len(found) > 1:
        folders = " and ".join(f"{names[0]}/ ({len(chunks)})" for names, chunks, _ in found)
        raise DatasetLayoutError(root, f"holds HDTF chunks in {folders}: keep one folder of chunks")
    (video_name, audio_name), chunks, skipped = found[0]
    if skipped:
        log.warning(
            "%s: %d videos are not HDTF chunks <video>#<k>.mp4 and are left out (first: %s)",
            root / video_name,
            len(skipped),
            ", ".join(v.name for v in skipped[:3]),
        )
    clips: dict[str, Clip] = {}
    for video in chunks:
        source, chunk = parse_hdtf_id(video.stem)
        clip = Clip(
            id=video.stem,
            dataset="hdtf",
            split=split,
            video=video,
            audio=find_audio([video.stem], [root / audio_name, video.parent]) or video,
            identity=source,
            extra={"chunk": chunk},
        )
        add_clip(clips, video.stem, clip)
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
    note_audio_fallbacks(selected, root / audio_name)
    return selected


READERS.add("hdtf", Dataset(read_hdtf, title="HDTF"))
