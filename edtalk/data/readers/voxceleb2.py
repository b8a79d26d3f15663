"""VoxCeleb2 reader. Layouts under ``root/<split>/`` (``train`` and ``dev`` name the same split; both
folders are read when both exist):

* FOMM-style crops: ``<split>/<id>.mp4`` (e.g. ``id00017#01dfn2spqyE#00001.mp4``); the identity is the
  part before the first ``#`` (a file with none there is left out with a warning).
* per-person tree: ``<split>/<person_id>/<video_id>/<utt>.mp4`` (also ``<split>/mp4/<person_id>/...``
  as VoxCeleb2 ships it); the id is ``<person_id>#<video_id>#<utt>``.

Audio: a same-stem ``.wav``/``.m4a`` beside the mp4 (or under ``<split>/aac/`` mirroring ``mp4/``),
else the mp4's own audio track. An optional ``root/lists/<split>.txt|json`` restricts the clips: ids,
or paths ending ``<person_id>/<video_id>/<utt>.mp4``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from edtalk.data.clip import Clip
from edtalk.data.errors import DatasetLayoutError
from edtalk.data.readers import READERS, Dataset
from edtalk.data.readers.common import (
    VIDEO_SUFFIXES,
    add_clip,
    entry_parts,
    filter_by_list,
    find_audio,
    layout_error,
    nearby_root_hint,
    note_audio_fallbacks,
    read_id_list,
    require_root,
    split_list_path,
    videos_in,
    videos_matching,
)

log = logging.getLogger(__name__)

EXPECTED = """\
  <root>/test/id00017#01dfn2spqyE#00001.mp4          (FOMM-style 256x256 crops)
or
  <root>/test/id00017/01dfn2spqyE/00001.mp4          (also <root>/test/mp4/id00017/...)
  audio: same-stem .wav beside the mp4, or <root>/test/aac/id00017/01dfn2spqyE/00001.m4a, or inside the mp4
optional: <root>/lists/<split>.txt|json"""

_ALIASES = {"train": ("train", "dev"), "dev": ("dev", "train")}
_TREE_PATTERNS = ("*/*/*", "mp4/*/*/*")  # <person>/<video>/<utt>.mp4, directly or under mp4/


def _split_dirs(root: Path, split: str) -> list[Path]:
    return [root / name for name in _ALIASES.get(split, (split,)) if (root / name).is_dir()]


def _clip(clip_id: str, identity: str, split: str, video: Path, audio_dirs: list[Path]) -> Clip:
    audio = find_audio([video.stem], audio_dirs) or video
    return Clip(id=clip_id, dataset="voxceleb2", split=split, video=video, audio=audio, identity=identity)


def _list_key(entry: str) -> str:
    """A list entry -> clip id: a FOMM-style name, or the last three parts of a tree path."""
    parts = entry_parts(entry)
    return parts[-1] if "#" in parts[-1] else "#".join(parts[-3:])


def _holds_clips(folder: Path, split: str) -> bool:
    """``folder`` has a ``split`` folder with a FOMM-style or tree video (stops at the first)."""
    videos = (v for d in _split_dirs(folder, split) for p in ("*#*", *_TREE_PATTERNS) for v in d.glob(p))
    return any(video.suffix.lower() in VIDEO_SUFFIXES for video in videos)


def _layout_error(root: Path, split: str) -> DatasetLayoutError:
    """The layout error, naming the root to use instead, or the split folder that mp4/ belongs in."""
    hint = nearby_root_hint(root, "voxceleb2", lambda folder: _holds_clips(folder, split))
    if not hint and not _split_dirs(root, split) and any((root / name).is_dir() for name in ("mp4", "aac")):
        hint = f"mp4/ and aac/ go inside a split folder: move them to {root / split}/"
    return layout_error(root, "voxceleb2", EXPECTED, hint)


def _split_clips(split_dir: Path, split: str, clips: dict[str, Clip]) -> list[str]:
    """Add the clips of one split folder to ``clips``; returns the names of the videos left out."""
    skipped = []
    for video in videos_in(split_dir):  # FOMM-style flat folder
        identity = video.stem.split("#")[0]
        if "#" not in video.stem or not identity:  # no identity: a stray file, not a FOMM crop
            skipped.append(video.name)
            continue
        add_clip(clips, video.stem, _clip(video.stem, identity, split, video, [video.parent]))
    for pattern in _TREE_PATTERNS:
        for video in videos_matching(split_dir, pattern):
            *_, person, video_id, _ = video.relative_to(split_dir).parts
            if person == "mp4":  # mp4/<a>/<b>.mp4: a level short, not a person's folder
                skipped.append(str(video.relative_to(split_dir)))
                continue
            clip_id = f"{person}#{video_id}#{video.stem}"
            aac_dir = split_dir / "aac" / person / video_id
            add_clip(clips, clip_id, _clip(clip_id, person, split, video, [video.parent, aac_dir]))
    return skipped


def read_voxceleb2(root: Path, split: str = "test") -> list[Clip]:
    """VoxCeleb2 clips of ``split`` (see the module docstring for the two layouts)."""
    root = require_root(root, "voxceleb2", EXPECTED)
    clips: dict[str, Clip] = {}
    skipped = {split_dir: _split_clips(split_dir, split, clips) for split_dir in _split_dirs(root, split)}
    if not clips:
        raise _layout_error(root, split)
    for split_dir, names in skipped.items():
        if names:
            log.warning(
                "%s: %d videos name no identity (neither <person_id>#<video_id>#...mp4 nor inside "
                "<person_id>/<video_id>/) and are left out (first: %s)",
                split_dir,
                len(names),
                ", ".join(names[:3]),
            )
    list_path = split_list_path(root, split)
    if list_path is None:
        selected = sorted(clips.values(), key=lambda c: c.id)
    else:
        selected = filter_by_list(clips, list_path, split, _list_key)
    if not selected:
        people = {c.identity for c in clips.values()}
        if named := [e for e in read_id_list(list_path, split) if e in people]:
            raise DatasetLayoutError(
                list_path,
                f"lists speakers ({', '.join(named[:3])}), not clips: list one clip per line, as "
                "<person_id>#<video_id>#<utt> or <person_id>/<video_id>/<utt>.mp4",
            )
        raise DatasetLayoutError(list_path, f"none of the listed VoxCeleb2 clips for {split!r} is on disk")
    note_audio_fallbacks(selected, root)
    return selected


READERS.add("voxceleb2", Dataset(read_voxceleb2, title="VoxCeleb2"))
