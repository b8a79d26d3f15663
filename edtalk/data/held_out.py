"""The evaluation splits stay unseen: no training sees a clip of the dataset's judge or test split
(``HELD_OUT_SPLITS``). ``training_clips`` reads a split to train on and refuses them (``check_unseen``).
"""

from __future__ import annotations

from pathlib import Path

from edtalk.config import ConfigError
from edtalk.data.clip import Clip
from edtalk.data.errors import DatasetLayoutError

HELD_OUT_SPLITS = ("judge", "test")  # the judges' identities and the scored test split: never trained on


def _held_out_clips(reader: str, root: Path, split: str) -> list[Clip]:
    """The clips of the held-out ``split``; [] where the dataset has no such split (no list, no folder,
    no built-in rule). The folder reader returns every clip for a split it has no list for, so there
    only a list makes a split."""
    from edtalk.data.readers import read_clips
    from edtalk.data.readers.common import split_list_path

    if reader == "folder" and split_list_path(root, split) is None:
        return []
    try:
        return read_clips(reader, root, split)
    except DatasetLayoutError:
        return []


def held_out_overlap(clips: list[Clip], reader: str, root: str | Path) -> dict[str, list[str]]:
    """The ids of ``clips`` that belong to the dataset's judge or test split, per split it has: the same
    video file (LRW's train and test folders reuse clip names), or, for a dataset whose splits hold out
    whole people (its reader's ``splits_by_identity``), a clip of the same person."""
    from edtalk.data.readers import READERS

    videos = [Path(c.video).resolve() for c in clips]
    found: dict[str, list[str]] = {}
    for split in HELD_OUT_SPLITS:
        held = _held_out_clips(reader, Path(root), split)
        held_videos = {Path(c.video).resolve() for c in held}
        people = {c.identity or c.id for c in held} if READERS.get(reader).splits_by_identity else set()
        ids = [
            c.id
            for c, v in zip(clips, videos, strict=True)
            if v in held_videos or (c.identity or c.id) in people
        ]
        if ids:
            found[split] = ids
    return found


def check_unseen(clips: list[Clip], reader: str, root: str | Path) -> None:
    """Refuse training ``clips`` of the dataset's judge or test split (``held_out_overlap``): the judges
    and the test identities score the trained model, so no training may see them."""
    overlap = held_out_overlap(clips, reader, root)
    if overlap:
        found = "; ".join(
            f"{len(ids)} of the {split} split (first: {ids[0]})" for split, ids in overlap.items()
        )
        raise ConfigError(
            f"split {clips[0].split!r} of {reader}:{root} holds evaluation clips: {found}. Training must "
            "never see the judges' or the test identities (they score the trained model): train on "
            "'train', or on a split list that leaves them out"
        )


def training_clips(reader: str, root: str | Path, split: str) -> list[Clip]:
    """The clips of ``split`` to train on (``read_clips``), refused when any is a judge or test clip."""
    from edtalk.data.readers import read_clips

    clips = read_clips(reader, root, split)
    check_unseen(clips, reader, root)
    return clips
