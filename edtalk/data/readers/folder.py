"""Folder reader: ground-truth videos and a method's generated videos, paired by file stem.

``root/gt/<id>.mp4`` (audio: ``root/gt/<id>.wav``, ``root/audio/<id>.wav``, else the mp4's track) and
``root/pred/<id>.mp4``; ``Clip.video`` is the ground truth, ``Clip.extra["pred"]`` the generated video
(``None`` when the method produced no file for that id, so scoring can record the reason). Without a
``gt/`` folder, the videos directly in ``root`` are the clips (no predictions); so are those of
``root/gt`` when there is no ``root/pred`` (``root_folders``): clips for a method that generates its
own videos, which ``eval.run`` refuses to score as paired predictions.
``pair_folders(gt_dir, pred_dir)`` does the same for any two folders.
Split: ``root/lists/<split>.json|txt`` selects the clips; a folder with no lists has no splits (every
split is every clip). When ``lists/`` holds lists but none for the split asked (``--split tset``), that
is an error naming the lists there, except ``train`` (every clip; training refuses the clips of the
test and judge lists) and ``all`` (every clip). A note beside the lists (``README.txt``, ``notes.txt``,
a name with a space) is not a list.
"""

from __future__ import annotations

import logging
from pathlib import Path

from edtalk.data.clip import Clip
from edtalk.data.errors import DatasetLayoutError
from edtalk.data.readers import READERS, Dataset
from edtalk.data.readers.common import (
    entry_parts,
    filter_by_list,
    find_audio,
    layout_error,
    name_key,
    require_root,
    second_video,
    split_list_path,
    videos_in,
)

log = logging.getLogger(__name__)

PAIRED_EXPECTED = """\
  <root>/gt/<id>.mp4     ground truth (audio: <root>/gt/<id>.wav, <root>/audio/<id>.wav or inside the mp4)
  <root>/pred/<id>.mp4   generated videos, same file stem as the ground truth"""
EXPECTED = PAIRED_EXPECTED + "\nor a folder of videos <root>/<id>.mp4 (no predictions)"
EVERY_CLIP_SPLITS = ("train", "all")  # splits that take every clip when lists/ has none for them
NOTE_NAMES = ("readme", "notes")  # lists/ files named so (any case, any ending) are notes


def pair_folders(gt_dir: str | Path, pred_dir: str | Path | None = None, split: str = "test") -> list[Clip]:
    """One clip per ground-truth video in ``gt_dir``; ``extra["pred"]`` = ``pred_dir/<stem>.<ext>`` or None.

    Generated videos with no ground-truth partner are logged and ignored.
    """
    gt_dir = require_root(Path(gt_dir), "folder", EXPECTED)
    gt_videos = list(_by_stem(gt_dir).values())
    if not gt_videos:
        raise layout_error(gt_dir, "folder", EXPECTED)
    preds: dict[str, Path] = {}
    if pred_dir is not None:
        pred_dir = require_root(Path(pred_dir), "folder", EXPECTED)
        preds = _by_stem(pred_dir)
        if not preds:
            raise DatasetLayoutError(pred_dir, "no generated videos (.mp4) in the prediction folder")
    gt_stems = {name_key(p.stem) for p in gt_videos}
    missing = [p.stem for p in gt_videos if pred_dir is not None and name_key(p.stem) not in preds]
    orphans = sorted(set(preds) - gt_stems)
    if preds and len(missing) == len(gt_videos):  # a naming mismatch, not one failure per clip
        raise DatasetLayoutError(
            pred_dir,
            f"no generated video shares a file stem with the {len(gt_videos)} ground-truth videos in "
            f"{gt_dir} (GT e.g. {gt_videos[0].name}, predictions e.g. {preds[min(preds)].name}); name "
            "each prediction after its ground-truth video, or score the folder with eval.run's --method "
            "folder:DIR, which also reads SadTalker's and EAT's names and a provenance.json name_map",
        )
    if missing:
        log.warning(
            "%s: no generated video for %d of %d clips (first: %s)",
            pred_dir,
            len(missing),
            len(gt_videos),
            ", ".join(missing[:3]),
        )
    if orphans:
        log.warning(
            "%s: %d generated videos have no ground truth and are ignored (first: %s)",
            pred_dir,
            len(orphans),
            ", ".join(orphans[:3]),
        )
    audio_dirs = [gt_dir, gt_dir.parent / "audio"]
    return [
        Clip(
            id=name_key(video.stem),
            dataset="folder",
            split=split,
            video=video,
            audio=find_audio([video.stem], audio_dirs) or video,
            extra={"pred": preds.get(name_key(video.stem))} if pred_dir is not None else {},
        )
        for video in gt_videos
    ]


def _by_stem(folder: Path) -> dict[str, Path]:
    """stem (``name_key``) -> video in ``folder``; two videos of one stem (``a.mp4``, ``a.avi``) are an
    error naming both, as the clip id would be ambiguous."""
    videos: dict[str, Path] = {}
    for video in videos_in(folder):
        key = name_key(video.stem)
        if key in videos:
            raise second_video(key, videos[key], video)
        videos[key] = video
    return videos


def _folder_key(entry: str) -> str:
    r"""A list entry -> clip id: its last path part (``/`` or ``\``), less a video or audio suffix
    (``gt\clip one.MP4`` -> ``clip one``; ``entry_parts``)."""
    return name_key(entry_parts(entry)[-1])


def root_folders(root: Path) -> tuple[Path, Path | None]:
    """The ground-truth and prediction folders ``read_folder`` pairs under ``root``: ``root/gt`` and
    ``root/pred`` (None when that folder does not exist); without ``root/gt``, ``root`` and None."""
    root = Path(root).expanduser()
    if not (root / "gt").is_dir():
        return root, None
    return root / "gt", root / "pred" if (root / "pred").is_dir() else None


def read_folder(root: Path, split: str = "test") -> list[Clip]:
    """``root/gt`` paired with ``root/pred`` (or the videos in ``root``); optional ``lists/<split>``."""
    root = require_root(root, "folder", EXPECTED)
    clips = pair_folders(*root_folders(root), split)
    list_path = split_list_path(root, split)
    if list_path is None:
        _check_unlisted_split(root, split)
    else:  # list order; missing entries logged (docs/datasets.md)
        clips = filter_by_list({c.id: c for c in clips}, list_path, split, _folder_key)
        if not clips:
            raise DatasetLayoutError(list_path, f"none of the listed clips for {split!r} is on disk")
    return clips


def _check_unlisted_split(root: Path, split: str) -> None:
    """Refuse a ``split`` with no list when ``root/lists`` holds lists of other splits (a mistyped
    ``--split`` would otherwise take every clip), naming them; ``EVERY_CLIP_SPLITS`` take every clip."""
    if split in EVERY_CLIP_SPLITS:
        return
    folder = root / "lists"
    found = sorted(p.name for p in folder.glob("*") if _is_split_list(p))
    if found:
        raise DatasetLayoutError(
            folder,
            f"no list for split {split!r} ({split}.txt or {split}.json), only {', '.join(found)}: give one "
            f"of their splits, 'all' for every clip, or write lists/{split}.txt (one clip id a line)",
        )


def _is_split_list(path: Path) -> bool:
    """Whether ``path`` in ``lists/`` counts as a split's list: a visible ``.json``/``.txt`` file whose stem
    could be a ``--split`` (no whitespace) and is no note (``NOTE_NAMES``: ``README.txt``, ``notes.txt``).
    A note reads as a list (each line an id), so it is told by its name, not its content."""
    stem = path.stem.lower()
    return (
        path.suffix.lower() in (".json", ".txt")
        and not path.name.startswith(".")
        and not any(c.isspace() for c in stem)
        and not stem.startswith(NOTE_NAMES)
        and path.is_file()
    )


# Scored as synthtalk renders by default (the synthtalk-generated pairs of the tests and docs), with a
# note naming --protocol eat for real faces; --protocol synthtalk is not refused.
READERS.add("folder", Dataset(read_folder, title="folder", rendered=True))
