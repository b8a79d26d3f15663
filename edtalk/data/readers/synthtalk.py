"""synthtalk reader (the built-in procedural dataset, written by ``edtalk.data.synthtalk``).

``root/clips/<id>.mp4|wav|json`` with ``id = <identity>#<emotion>#level_<k>#<nnn>`` and
``root/splits/<split>.txt`` (one id per line; splits train, judge, test). Identity, emotion, level
and transcript come from the JSON sidecar, whose path is ``Clip.sidecar`` (ground-truth factors and
landmarks live there). ``split="all"`` takes every clip in ``clips/``.

A clip is on disk when its video is (any video suffix, in any case: ``.MP4``). List entries are read
as the other readers read theirs (``common.filter_by_list``): a video suffix is dropped (``X.mp4``
names clip ``X``), a repeated entry counts once, listed ids that are not on disk are logged as a
warning, and a list that names no clip on disk is a ``DatasetLayoutError``.

A listed clip whose sidecar is missing or malformed is still returned, with the reader's error in
``Clip.problem`` and the identity, emotion and level its id spells: decoding it raises that error
(``Clip.check``), so ``eval.run`` fails that clip alone and training leaves it out with a warning.
"""

from __future__ import annotations

import json
from pathlib import Path

from edtalk.data.clip import EMOTIONS, Clip
from edtalk.data.errors import DatasetLayoutError
from edtalk.data.readers import READERS, Dataset
from edtalk.data.readers.common import (
    VIDEO_SUFFIXES,
    filter_by_list,
    find_audio,
    layout_error,
    read_id_list,
    require_root,
    second_video,
    videos_in,
)

EXPECTED = """\
  <root>/clips/st000#happy#level_2#001.mp4   (25 fps, square)
  <root>/clips/st000#happy#level_2#001.wav   (16 kHz mono)
  <root>/clips/st000#happy#level_2#001.json  (sidecar: identity, emotion, level, transcript, factors ...)
  <root>/splits/train.txt, judge.txt, test.txt (one clip id per line)
(generate it with edtalk.data.synthtalk; `make demo` does)"""


def load_sidecar(path: Path) -> dict:
    """A clip's sidecar JSON object; ``DatasetLayoutError`` naming the file when it is missing,
    unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetLayoutError(path, "missing sidecar JSON for a listed synthtalk clip") from None
    except (OSError, json.JSONDecodeError) as err:
        raise DatasetLayoutError(path, f"unreadable sidecar JSON ({err})") from None
    if not isinstance(data, dict):
        raise DatasetLayoutError(path, "sidecar JSON must be an object")
    return data


LEVELS = (1, 2, 3)
PER_FRAME_KEYS = ("factors", "landmarks")  # the sidecar's per-frame ground truth: one row per video frame


def sidecar_frames_problem(sidecar: dict, n_frames: int | None) -> str | None:
    """Why the per-frame ground truth of a sidecar (every ``factors`` track and the ``landmarks``)
    does not fit its video of ``n_frames`` frames: a missing or malformed key, or arrays of another
    length (both lengths named). None when it fits; ``n_frames=None`` checks only the keys."""
    factors, landmarks = sidecar.get("factors"), sidecar.get("landmarks")
    missing = [key for key, value in zip(PER_FRAME_KEYS, (factors, landmarks), strict=True) if value is None]
    if missing:
        return f"sidecar has no {' and no '.join(repr(k) for k in missing)} (its per-frame ground truth)"
    if not isinstance(factors, dict) or not factors:
        return "sidecar 'factors' must be an object of per-frame lists ({'yaw': [...], ...})"
    arrays = {f"factors.{name}": track for name, track in factors.items()} | {"landmarks": landmarks}
    not_lists = [name for name, value in arrays.items() if not isinstance(value, list)]
    if not_lists:
        return f"sidecar {', '.join(not_lists[:3])} must be per-frame lists"
    if n_frames is None:
        return None
    by_length: dict[int, list[str]] = {}
    for name, value in arrays.items():
        if len(value) != n_frames:
            by_length.setdefault(len(value), []).append(name)
    if not by_length:
        return None
    parts = [
        f"of {length} frames ({', '.join(names[:3])}{f' +{len(names) - 3} more' if len(names) > 3 else ''})"
        for length, names in sorted(by_length.items())
    ]
    return f"sidecar per-frame arrays {' and '.join(parts)} for a video of {n_frames} frames"


def _metadata(sidecar: Path) -> dict:
    """identity, emotion, level and transcript of a clip from its sidecar; ``DatasetLayoutError``
    naming the file when it is missing, unreadable or holds a bad level."""
    meta = load_sidecar(sidecar)
    level = meta.get("level")  # 2 or "level_2"
    if isinstance(level, str):
        level = level.removeprefix("level_")
    try:
        level = int(level) if level is not None else None
    except (TypeError, ValueError):
        level = 0  # refused below
    if level is not None and level not in LEVELS:
        raise DatasetLayoutError(sidecar, f"sidecar 'level' must be 1..3, got {meta.get('level')!r}")
    return {
        "identity": meta.get("identity"),
        "emotion": meta.get("emotion"),
        "level": level,
        "transcript": meta.get("transcript"),
    }


def _metadata_from_id(clip_id: str) -> dict:
    """identity, emotion and level as a synthtalk id spells them (``st000#happy#level_2#001``);
    None for what it does not spell."""
    parts = clip_id.split("#")
    level = parts[2].removeprefix("level_") if len(parts) == 4 else ""
    return {
        "identity": parts[0] or None,
        "emotion": parts[1] if len(parts) == 4 and parts[1] in EMOTIONS else None,
        "level": int(level) if level.isdigit() and int(level) in LEVELS else None,
    }


def _clip(video: Path, split: str) -> Clip:
    clip_id, clips_dir = video.stem, video.parent
    sidecar = clips_dir / f"{clip_id}.json"
    problem = None
    try:
        meta = _metadata(sidecar)
    except DatasetLayoutError as err:
        # This clip fails alone where it is decoded (Clip.check), not the whole split here; the id
        # still names its person, so the guard that keeps test people out of training sees it.
        meta, problem = _metadata_from_id(clip_id), err
    return Clip(
        id=clip_id,
        dataset="synthtalk",
        split=split,
        video=video,
        audio=find_audio([clip_id], [clips_dir]) or clips_dir / f"{clip_id}.wav",  # missing: named when read
        sidecar=sidecar,
        problem=problem,
        **meta,
    )


def _list_key(entry: str) -> str:
    """A split-list entry -> clip id: the file stem when it names a video (``X.mp4``, ``X.MP4``)."""
    name = Path(entry.strip()).name
    return Path(name).stem if Path(name).suffix.lower() in VIDEO_SUFFIXES else name


def read_synthtalk(root: Path, split: str = "test") -> list[Clip]:
    """synthtalk clips of ``split`` (ids from ``splits/<split>.txt``, metadata from the sidecars)."""
    root = require_root(root, "synthtalk", EXPECTED)
    clips_dir = root / "clips"
    videos: dict[str, Path] = {}
    for video in videos_in(clips_dir):
        if video.stem in videos:
            raise second_video(video.stem, videos[video.stem], video)
        videos[video.stem] = video
    if not videos:
        raise layout_error(root, "synthtalk", EXPECTED)
    if split == "all":
        return [_clip(videos[clip_id], split) for clip_id in sorted(videos)]
    list_path = root / "splits" / f"{split}.txt"
    if not list_path.is_file():
        known = sorted(p.stem for p in (root / "splits").glob("*.txt"))
        raise DatasetLayoutError(
            list_path,
            f"no split list for {split!r}; splits present: {', '.join(known) or '(none)'}, or 'all' "
            "(every clip; for scoring, not training)",
        )
    selected = filter_by_list(videos, list_path, split, _list_key)
    if not selected and not read_id_list(list_path):
        raise DatasetLayoutError(list_path, f"lists no synthtalk clip ids for split {split!r}")
    if not selected:
        raise DatasetLayoutError(
            list_path,
            f"none of the listed synthtalk clips for {split!r} is on disk "
            f"({len(videos)} videos in {clips_dir})",
        )
    return [_clip(video, split) for video in selected]


READERS.add(
    "synthtalk",
    Dataset(
        read_synthtalk, title="synthtalk", labels_every_clip=True, splits_by_identity=True, rendered=True
    ),
)
