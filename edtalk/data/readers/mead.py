"""MEAD reader (front view). Layouts, auto-detected under ``root``:

* EDTalk flattened: ``MEAD_front/video/M003#angry#level_1#001.mp4`` + ``MEAD_front/audio/<same>.wav``
  (``root`` may be the folder holding ``MEAD_front`` or ``MEAD_front`` itself; ``videos``/``wav``
  folder names work too). EAT's file names (``M003_ang_1_001.mp4``) are accepted in the same places.
* raw MEAD: ``<spk>/video/front/<emotion>/level_<k>/<nnn>.mp4`` with audio at
  ``<spk>/audio/<emotion>/level_<k>/<nnn>.{wav,m4a}`` (else the mp4's own audio track).

Emotions are lower case in file and folder names alike (``ANGRY`` is left out with a warning).
Every name maps to the canonical id ``M003#angry#level_1#001``. Split: ``root/lists/<split>.json|txt``
(EDTalk's official lists) when present; else ``test`` = speakers M003, M030, W009, W015, ``train`` =
all other speakers, ``all`` = everything.
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
from edtalk.data.readers.names import (
    MEAD_TEST_SPEAKERS,
    MeadId,
    canonical_mead_id,
    mead_id_from_raw_path,
    parse_mead_id,
)

log = logging.getLogger(__name__)

EXPECTED = """\
  <root>/MEAD_front/video/M003#angry#level_1#001.mp4   (EDTalk flattened; EAT names M003_ang_1_001.mp4 ok)
  <root>/MEAD_front/audio/M003#angry#level_1#001.wav
or
  <root>/video/M003_ang_1_001.mp4                       (EAT, flat: video/ + audio/, or files in <root>)
  <root>/audio/M003_ang_1_001.wav
or
  <root>/M003/video/front/angry/level_1/001.mp4         (raw MEAD)
  <root>/M003/audio/angry/level_1/001.wav|m4a
optional: <root>/lists/<split>.json|txt  (EDTalk's official split lists)"""

_FLAT_VIDEO_DIRS = ("MEAD_front/video", "MEAD_front/videos", "video", "videos", ".")
_AUDIO_DIR_NAMES = ("audio", "wav", "wavs", "audios")


def _make_clip(mead: MeadId, split: str, video: Path, audio: Path | None, layout: str) -> Clip:
    return Clip(
        id=str(mead),
        dataset="mead",
        split=split,
        video=video,
        audio=audio if audio is not None else video,  # the mp4's own audio track as a fallback
        identity=mead.speaker,
        emotion=mead.emotion,
        level=mead.level,
        extra={"layout": layout, "clip": mead.clip, "eat_name": mead.eat_name},
    )


def _flat_clips(root: Path, split: str) -> dict[str, Clip]:
    for rel in _FLAT_VIDEO_DIRS:
        video_dir = root / rel
        videos = videos_in(video_dir)
        parsed = [(p, parse_mead_id(p.stem)) for p in videos]
        skipped = [p.name for p, m in parsed if m is None]
        parsed = [(p, m) for p, m in parsed if m is not None]
        if not parsed:
            continue
        if skipped:
            log.warning(
                "%s: %d of %d videos do not name a MEAD clip (M003#angry#level_1#001 or M003_ang_1_001, "
                "lower case, levels 1-3) and are left out (first: %s)",
                video_dir,
                len(skipped),
                len(videos),
                ", ".join(skipped[:3]),
            )
        audio_base = root if rel == "." else video_dir.parent
        audio_dirs = [video_dir] + [audio_base / name for name in _AUDIO_DIR_NAMES]
        clips = {}
        for video, mead in parsed:
            audio = find_audio([video.stem, str(mead), mead.eat_name], audio_dirs)
            add_clip(clips, str(mead), _make_clip(mead, split, video, audio, "flat"))
        if rel == "." and all(clip.audio == clip.video for clip in clips.values()):
            _refuse_a_video_folder_as_root(root, parsed[0])
        return clips
    return {}


def _refuse_a_video_folder_as_root(root: Path, first: tuple[Path, MeadId]) -> None:
    """Videos straight in ``root`` with no audio file beside any of them, whose audio lies in an audio
    folder beside ``root``: the root is the video folder (``MEAD_front/video``), one level too low, and
    every clip would fall back to its mp4's own audio track (none, or not the dataset's wav)."""
    video, mead = first
    beside = find_audio([video.stem, str(mead), mead.eat_name], [root.parent / n for n in _AUDIO_DIR_NAMES])
    if beside is not None:
        raise DatasetLayoutError(
            root,
            f"holds MEAD videos with no audio beside them, and their audio is in {beside.parent}: this root "
            f"is one level too low; use the folder that holds {root.name}/ and {beside.parent.name}/ "
            f"({root.parent})",
        )


def _raw_clips(root: Path, split: str) -> dict[str, Clip]:
    clips, skipped = {}, []
    for video in videos_matching(root, "*/video/front/*/level_*/*"):
        mead = mead_id_from_raw_path(video.relative_to(root))
        if mead is None:
            skipped.append(str(video.relative_to(root)))
            continue
        level_dir = Path(mead.speaker, "audio", mead.emotion, f"level_{mead.level}")
        audio = find_audio([video.stem], [root / level_dir])
        add_clip(clips, str(mead), _make_clip(mead, split, video, audio, "raw"))
    if skipped:
        log.warning(
            "%s: %d videos of the raw MEAD tree are not <spk>/video/front/<emotion>/level_<1-3>/<nnn>.mp4 "
            "(emotion in lower case) and are left out (first: %s)",
            root,
            len(skipped),
            ", ".join(skipped[:3]),
        )
    return clips


def read_mead(root: Path, split: str = "test") -> list[Clip]:
    """MEAD clips of ``split`` (see the module docstring for layouts and split rules)."""
    root = require_root(root, "mead", EXPECTED)
    flat, raw = _flat_clips(root, split), _raw_clips(root, split)
    if flat and raw:  # one stray flat-named file would hide the whole raw tree
        example = next(iter(flat.values())).video
        raise DatasetLayoutError(
            root,
            f"holds both a flattened MEAD layout ({len(flat)} clips, e.g. {example}) and a raw MEAD tree "
            f"({len(raw)} clips under <spk>/video/front/); keep one layout under this root",
        )
    clips = flat or raw
    if not clips:
        raise layout_error(root, "mead", EXPECTED)
    list_path = split_list_path(root, split)
    if list_path is not None:
        selected = filter_by_list(clips, list_path, split, canonical_mead_id)
    elif split == "test":
        selected = [c for c in clips.values() if c.identity in MEAD_TEST_SPEAKERS]
    elif split == "train":
        selected = [c for c in clips.values() if c.identity not in MEAD_TEST_SPEAKERS]
    elif split == "all":
        selected = list(clips.values())
    else:
        raise DatasetLayoutError(
            root / "lists",
            f"no split list {split}.json|txt here, and MEAD's built-in splits are test, train, all",
        )
    if not selected and list_path is not None:
        raise DatasetLayoutError(
            list_path, f"names none of the {len(clips)} MEAD clips found under {root} (split {split!r})"
        )
    if not selected:
        raise DatasetLayoutError(
            root,
            f"no MEAD clips for split {split!r} ({len(clips)} clips found in other splits; "
            f"test speakers are {', '.join(MEAD_TEST_SPEAKERS)})",
        )
    return sorted(selected, key=lambda c: c.id) if list_path is None else selected


READERS.add("mead", Dataset(read_mead, title="MEAD", labels_every_clip=True))
