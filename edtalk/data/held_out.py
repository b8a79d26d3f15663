"""The evaluation splits stay unseen: no training sees a clip of the dataset's judge or test split
(``HELD_OUT_SPLITS``). ``training_clips`` reads a split to train on and refuses them (``check_unseen``).
The other way round, a checkpoint records the data each of its stages trained on
(``training_record``), and scoring it refuses clips it trained on (``check_not_trained_on``): a folder
dataset without split lists has no held-out split to check at training time.
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
    """The ids of ``clips`` that belong to the dataset's judge or test split, per split it has
    (``shared_clips``)."""
    from edtalk.data.readers import READERS

    by_identity = READERS.get(reader).splits_by_identity
    found: dict[str, list[str]] = {}
    for split in HELD_OUT_SPLITS:
        if ids := shared_clips(clips, _held_out_clips(reader, Path(root), split), by_identity):
            found[split] = ids
    return found


def shared_clips(clips: list[Clip], others: list[Clip], by_identity: bool) -> list[str]:
    """The ids of ``clips`` that are also in ``others``: the same video file (LRW's train and test
    folders reuse clip names) or a copy of it elsewhere (``copied_videos``), or, for a dataset whose
    splits hold out whole people (its reader's ``splits_by_identity``), a clip of the same person."""
    videos = {Path(c.video).resolve() for c in others}
    people = {c.identity or c.id for c in others} if by_identity else set()
    copies = copied_videos([c for c in clips if Path(c.video).resolve() not in videos], others)
    return [
        c.id
        for c in clips
        if Path(c.video).resolve() in videos or (c.identity or c.id) in people or c.id in copies
    ]


def copied_videos(clips: list[Clip], others: list[Clip]) -> set[str]:
    """The ids of ``clips`` whose video is a copy of one of ``others``' (the same name, size and ends:
    ``file_key``), e.g. training clips copied into a test folder. Files are stat'ed only where names
    match and read (128 KiB) only where sizes do too."""
    from edtalk.data.file_key import file_key

    names = {Path(c.video).name for c in clips}
    by_size: dict[tuple[str, int], list[Path]] = {}
    for other in others:
        path = Path(other.video)
        if path.name in names and (size := _size(path)):  # an empty file is no copy of anything
            by_size.setdefault((path.name, size), []).append(path)
    found = set()
    for clip in clips:
        path = Path(clip.video)
        same_size = by_size.get((path.name, _size(path))) if by_size else None
        if same_size and (key := file_key(path)) and any(file_key(o) == key for o in same_size):
            found.add(clip.id)
    return found


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def check_unseen(clips: list[Clip], reader: str, root: str | Path) -> None:
    """Refuse training ``clips`` of the dataset's judge or test split (``held_out_overlap``): the judges
    and the test identities score the trained model, so no training may see them."""
    overlap = held_out_overlap(clips, reader, root)
    if overlap:
        found = "; ".join(
            f"{len(ids)} of the {name} split (first: {ids[0]})" for name, ids in overlap.items()
        )
        split = clips[0].split
        lists = Path(root) / ("splits" if reader == "synthtalk" else "lists")
        fix = f"list the clips to train on, leaving them out, in {lists / split}.txt (one id a line)"
        if split != "train":
            fix = f"train on 'train', or {fix}"
        raise ConfigError(
            f"split {split!r} of {reader}:{root} holds evaluation clips: {found}. Training must never see "
            f"the judges' or the test identities (they score the trained model): {fix}"
        )


def training_clips(reader: str, root: str | Path, split: str) -> list[Clip]:
    """The clips of ``split`` to train on (``read_clips``), refused when any is a judge or test clip."""
    from edtalk.data.readers import read_clips

    clips = read_clips(reader, root, split)
    check_unseen(clips, reader, root)
    return clips


def training_record(meta: dict) -> list[dict]:
    """What a checkpoint's stages trained on, oldest first: ``{"stage", "data", "split"}`` each, with
    ``data`` as ``reader:/absolute/root``. A checkpoint written before the record was kept gives its
    last stage's ``--data``/``--split`` as they were typed (its parents' are not known)."""
    if isinstance(meta.get("trained_on"), list):
        return meta["trained_on"]
    train_config = (meta.get("run") or {}).get("train_config") or {}
    if not train_config.get("data"):
        return []
    return [{"stage": meta.get("stage"), "data": train_config["data"], "split": train_config.get("split")}]


def _trained_split(reader: str, root: Path, split: str) -> str:
    """The split to read for what a stage trained on: a folder split with no list was every clip when it
    trained (lists added since, which now make the reader refuse that split, do not change that)."""
    from edtalk.data.readers.common import split_list_path

    return "all" if reader == "folder" and split_list_path(root, split) is None else split


def check_not_trained_on(clips: list[Clip], meta: dict, ckpt: str | Path) -> None:
    """Refuse scoring ``clips`` that the checkpoint ``ckpt`` (its ``meta``) trained on
    (``shared_clips``; by person only within the dataset it trained on). Training data not on this
    machine cannot be compared and is passed over."""
    from edtalk.data.readers import READERS, read_clips
    from edtalk.model import CheckpointError
    from edtalk.registry import UnknownNameError
    from edtalk.train_cache import parse_data

    seen: set[tuple[str, str]] = set()
    for entry in training_record(meta):
        spec = (str(entry.get("data") or ""), str(entry.get("split") or "train"))
        if spec in seen:
            continue
        seen.add(spec)
        reader, root = parse_data(spec[0])
        root = root.resolve()
        try:
            by_identity = READERS.get(reader).splits_by_identity
            trained = read_clips(reader, root, _trained_split(reader, root, spec[1]))
        except (UnknownNameError, DatasetLayoutError, OSError):
            continue
        same_dataset = [c for c in clips if Path(c.video).resolve().is_relative_to(root)]
        ids = shared_clips(clips, trained, by_identity=False)
        ids += [i for i in shared_clips(same_dataset, trained, by_identity) if i not in ids]
        if ids:
            raise CheckpointError(
                f"{ckpt}: trained on {len(ids)} of the {len(clips)} clips to score, or on copies of them "
                f"(first: {ids[0]}; "
                f"stage {entry.get('stage')}, --data {spec[0]} --split {spec[1]}). A model is never "
                "scored on what it trained on: score the test split, or a split list that leaves them out"
            )
