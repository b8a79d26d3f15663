"""synthtalk reader (the built-in procedural dataset, written by ``edtalk.data.synthtalk``).

``root/clips/<id>.mp4|wav|json`` with ``id = <identity>#<emotion>#level_<k>#<nnn>`` and
``root/splits/<split>.txt`` (one id per line; splits train, judge, test). Identity, emotion, level
and transcript come from the JSON sidecar, whose path is ``Clip.sidecar`` (ground-truth factors and
landmarks live there). ``split="all"`` takes every clip in ``clips/``.

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
from edtalk.data.readers.common import layout_error, read_id_list, require_root

EXPECTED = """\
  <root>/clips/st000#happy#level_2#001.mp4   (25 fps, square)
  <root>/clips/st000#happy#level_2#001.wav   (16 kHz mono)
  <root>/clips/st000#happy#level_2#001.json  (sidecar: identity, emotion, level, transcript, factors ...)
  <root>/splits/train.txt, judge.txt, test.txt (one clip id per line)
(generate it with edtalk.data.synthtalk; `make demo` does)"""


def _load_sidecar(path: Path) -> dict:
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


def _metadata(sidecar: Path) -> dict:
    """identity, emotion, level and transcript of a clip from its sidecar; ``DatasetLayoutError``
    naming the file when it is missing, unreadable or holds a bad level."""
    meta = _load_sidecar(sidecar)
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


def _clip(clips_dir: Path, clip_id: str, split: str) -> Clip:
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
        video=clips_dir / f"{clip_id}.mp4",
        audio=clips_dir / f"{clip_id}.wav",
        sidecar=sidecar,
        problem=problem,
        **meta,
    )


def read_synthtalk(root: Path, split: str = "test") -> list[Clip]:
    """synthtalk clips of ``split`` (ids from ``splits/<split>.txt``, metadata from the sidecars)."""
    root = require_root(root, "synthtalk", EXPECTED)
    clips_dir = root / "clips"
    if not clips_dir.is_dir():
        raise layout_error(root, "synthtalk", EXPECTED)
    if split == "all":
        ids = sorted(p.stem for p in clips_dir.glob("*.json"))
    else:
        list_path = root / "splits" / f"{split}.txt"
        if not list_path.is_file():
            known = sorted(p.stem for p in (root / "splits").glob("*.txt"))
            raise DatasetLayoutError(
                list_path,
                f"no split list for {split!r}; splits present: {', '.join(known) or '(none)'}, or 'all' "
                "(every clip; for scoring, not training)",
            )
        ids = read_id_list(list_path)
    if not ids:
        raise DatasetLayoutError(root, f"no synthtalk clips for split {split!r}")
    return [_clip(clips_dir, clip_id, split) for clip_id in ids]


READERS.add(
    "synthtalk", Dataset(read_synthtalk, title="synthtalk", labels_every_clip=True, splits_by_identity=True)
)
