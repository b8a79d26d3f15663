"""VoxCeleb2 reader. Layouts under ``root/<split>/`` (``train`` and ``dev`` name the same split):

* FOMM-style crops: ``<split>/<id>.mp4`` (e.g. ``id00017#01dfn2spqyE#00001.mp4``); the identity is the
  part before the first ``#`` (a file with none there is left out with a warning).
* per-person tree: ``<split>/<person_id>/<video_id>/<utt>.mp4`` (also ``<split>/mp4/<person_id>/...``
  as VoxCeleb2 ships it); the id is ``<person_id>#<video_id>#<utt>``.

Audio: a same-stem ``.wav``/``.m4a`` beside the mp4 (or under ``<split>/aac/`` mirroring ``mp4/``),
else the mp4's own audio track. An optional ``root/lists/<split>.txt|json`` restricts the clips.
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
    videos_matching,
)

log = logging.getLogger(__name__)

EXPECTED = """\
  <root>/test/id00017#01dfn2spqyE#00001.mp4          (FOMM-style 256x256 crops)
or
  <root>/test/id00017/01dfn2spqyE/00001.mp4          (also <root>/test/mp4/id00017/...)
  audio: same-stem .wav beside the mp4, or inside the mp4
optional: <root>/lists/<split>.txt|json"""

_ALIASES = {"train": ("train", "dev"), "dev": ("dev", "train")}


def _split_dir(root: Path, split: str) -> Path | None:
    for name in _ALIASES.get(split, (split,)):
        if (root / name).is_dir():
            return root / name
    return None


def _clip(clip_id: str, identity: str, split: str, video: Path, audio_dirs: list[Path]) -> Clip:
    audio = find_audio([video.stem], audio_dirs) or video
    return Clip(id=clip_id, dataset="voxceleb2", split=split, video=video, audio=audio, identity=identity)


def read_voxceleb2(root: Path, split: str = "test") -> list[Clip]:
    """VoxCeleb2 clips of ``split`` (see the module docstring for the two layouts)."""
    root = require_root(root, "voxceleb2", EXPECTED)
    split_dir = _split_dir(root, split)
    if split_dir is None:
        raise layout_error(root, "voxceleb2", EXPECTED)
    clips: dict[str, Clip] = {}
    skipped = []
    for video in videos_in(split_dir):  # FOMM-style flat folder
        identity = video.stem.split("#")[0]
        if "#" not in video.stem or not identity:  # no identity: a stray file, not a FOMM crop
            skipped.append(video.name)
            continue
        add_clip(clips, video.stem, _clip(video.stem, identity, split, video, [video.parent]))
    tree = split_dir / "mp4" if (split_dir / "mp4").is_dir() else split_dir
    for video in videos_matching(tree, "*/*/*"):
        person, video_id = video.parent.parent.name, video.parent.name
        clip_id = f"{person}#{video_id}#{video.stem}"
        aac_dir = split_dir / "aac" / person / video_id
        add_clip(clips, clip_id, _clip(clip_id, person, split, video, [video.parent, aac_dir]))
    if not clips:
        raise layout_error(root, "voxceleb2", EXPECTED)
    if skipped:
        log.warning(
            "%s: %d videos name no identity (neither <person_id>#<video_id>#...mp4 nor inside "
            "<person_id>/<video_id>/) and are left out (first: %s)",
            split_dir,
            len(skipped),
            ", ".join(skipped[:3]),
        )
    list_path = split_list_path(root, split)
    if list_path is None:
        return sorted(clips.values(), key=lambda c: c.id)
    selected = filter_by_list(
        clips, list_path, split, lambda e: e.strip().removesuffix(".mp4").replace("/", "#")
    )
    if not selected:
        raise DatasetLayoutError(list_path, f"none of the listed VoxCeleb2 clips for {split!r} is on disk")
    return selected


READERS.add("voxceleb2", Dataset(read_voxceleb2, title="VoxCeleb2"))
