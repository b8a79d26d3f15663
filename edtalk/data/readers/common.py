"""Helpers shared by the readers: split lists, audio lookup, layout errors."""

from __future__ import annotations

import codecs
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

from edtalk.data.clip import Clip
from edtalk.data.errors import DatasetLayoutError

log = logging.getLogger(__name__)

DOCS = "docs/datasets.md"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
AUDIO_SUFFIXES = (".wav", ".flac", ".m4a", ".aac", ".mp3")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def layout_error(root: Path, dataset: str, expected: str, hint: str = "") -> DatasetLayoutError:
    """A ``DatasetLayoutError`` that shows the expected tree and points to the docs, led by ``hint``
    (the likely mistake and its fix, e.g. ``nearby_root_hint``) when there is one."""
    return DatasetLayoutError(
        root,
        f"does not look like a {dataset} dataset{'; ' + hint if hint else ''}. Expected one of these "
        f"trees:\n{expected.rstrip()}\n(see {DOCS}, section '{dataset}')",
    )


def nearby_root_hint(root: Path, dataset: str, holds_clips: Callable[[Path], bool]) -> str:
    """For a root given one level too high or too low: "<folder> does: use that folder as the root",
    naming the folder one level below ``root``, or one or two above it, that ``holds_clips``; else ""."""
    root = root.resolve()
    below = sorted(p for p in root.glob("*") if p.is_dir() and not p.name.startswith("."))
    for folder in (*below, root.parent, root.parent.parent):
        if folder != root and holds_clips(folder):
            return f"{folder} does: use that folder as the {dataset} root"
    return ""


def require_root(root: Path, dataset: str, expected: str) -> Path:
    """``root`` as a Path; a missing root is a ``DatasetLayoutError`` with the expected tree."""
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise DatasetLayoutError(
            root, f"{dataset} root must be a folder, this is a file. Expected:\n{expected}"
        )
    if not root.is_dir():
        raise DatasetLayoutError(
            root,
            f"{dataset} root folder does not exist. Expected:\n{expected.rstrip()}\n(see {DOCS})",
        )
    return root


def is_hidden(path: Path) -> bool:
    """A name or folder starting with '.' (macOS ``._x.mp4`` and ``.DS_Store``, temp files)."""
    return any(part.startswith(".") for part in path.parts if part not in (".", ".."))


def name_key(name: str) -> str:
    """A file name as a clip id, in Unicode NFC: a name saved on macOS (NFD: ``e`` + combining accent)
    and the same name typed or saved elsewhere (``é``) are one clip."""
    return unicodedata.normalize("NFC", name)


def videos_matching(root: Path, pattern: str = "*") -> list[Path]:
    """Video files under ``root`` matching the glob ``pattern`` (sorted): any suffix of
    ``VIDEO_SUFFIXES`` in any case (``.MP4``), hidden files and folders below ``root`` skipped;
    dangling links kept (the clip's video is missing: the doctor says so)."""
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.glob(pattern)
        if p.suffix.lower() in VIDEO_SUFFIXES
        and not is_hidden(p.relative_to(root))
        and (p.is_file() or (p.is_symlink() and not p.exists()))  # a dangling link: a missing video
    )


def videos_in(folder: Path) -> list[Path]:
    """Video files directly inside ``folder`` (sorted; hidden and temp files skipped)."""
    return videos_matching(folder, "*")


def second_video(key: str, first: Path, second: Path) -> DatasetLayoutError:
    """The error for two video files of one clip (``a.mp4`` and ``a.avi``, or MEAD's canonical and EAT
    names of one clip): both named, not a silent pick."""
    return DatasetLayoutError(
        second, f"a second video for clip {key!r} (first: {first}); keep one of the two files"
    )


def add_clip(clips: dict, key: str, clip: object) -> None:
    """``clips[key] = clip``; a second file for the same clip is a ``second_video`` error."""
    if key in clips:
        raise second_video(key, clips[key].video, clip.video)
    clips[key] = clip


def find_audio(stems: Iterable[str], folders: Iterable[Path]) -> Path | None:
    """The first ``<folder>/<stem><audio suffix>`` that exists (suffix in lower or upper case:
    ``.wav``, ``.WAV``), trying folders then stems in order."""
    stems = list(stems)
    for folder in folders:
        for stem in stems:
            for suffix in (*AUDIO_SUFFIXES, *(s.upper() for s in AUDIO_SUFFIXES)):
                candidate = folder / f"{stem}{suffix}"
                if candidate.is_file():
                    return candidate
    return None


def note_audio_fallbacks(clips: list[Clip], where: Path) -> None:
    """Log the clips left with their video's own audio track (no audio file found) when other clips
    have one: audio files missing from ``where``, not a dataset that keeps its audio in the videos."""
    fallback = [c.id for c in clips if c.audio == c.video]
    if fallback and len(fallback) < len(clips):
        log.warning(
            "%s: %d of %d clips have no audio file: their video's own audio track is used, and a video "
            "without one is a clip without audio (first: %s)",
            where,
            len(fallback),
            len(clips),
            ", ".join(fallback[:3]),
        )


def entry_parts(entry: str) -> list[str]:
    """The path parts of a split list entry (``/`` or ``\\``), the last without a video or audio suffix
    (any case): ``ABOUT\\test\\ABOUT_00001.MP4`` -> ``["ABOUT", "test", "ABOUT_00001"]``."""
    parts = [part for part in re.split(r"[\\/]", entry.strip()) if part] or [""]
    suffix = Path(parts[-1]).suffix
    if suffix.lower() in (*VIDEO_SUFFIXES, *AUDIO_SUFFIXES):
        parts[-1] = parts[-1][: -len(suffix)]
    return parts


def _entries_from_json(data: object, split: str, path: Path) -> list[str]:
    if isinstance(data, list):
        return [str(x) for x in data]
    if isinstance(data, dict):
        if split in data and isinstance(data[split], list):
            return [str(x) for x in data[split]]
        if data and all(isinstance(v, list) for v in data.values()):  # {"MEAD": [...], "HDTF": [...]}
            return [str(x) for v in data.values() for x in v]
        return [str(k) for k in data]  # {clip_id: metadata}
    raise DatasetLayoutError(path, "split list must be a JSON list of clip ids (or {split: [ids]})")


def read_id_list(path: Path, split: str = "") -> list[str]:
    """Clip ids from a ``.json`` list (or ``{split: [...]}``) or a ``.txt`` file with one id per line
    (the whole line, stripped: folder ids may hold spaces; ``#`` lines are comments). UTF-8, with or
    without a BOM, or UTF-16 with its BOM (Notepad's "Unicode"); other bytes are refused asking for
    UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DatasetLayoutError(path, f"split list cannot be read ({err})") from None
    utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:  # lists saved as "UTF-8 with BOM" (Notepad, Excel) or as UTF-16 (Notepad's "Unicode")
        text = raw.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as err:
        raise DatasetLayoutError(path, f"split list is not UTF-8 text ({err}): save it as UTF-8") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DatasetLayoutError(path, f"split list is not valid JSON ({err})") from None
        entries = _entries_from_json(data, split, path)
    else:
        entries = [line for line in text.splitlines() if not line.lstrip().startswith("#")]  # whole lines
    return [e.strip() for e in entries if e.strip()]


def split_list_path(root: Path, split: str, folder: str = "lists") -> Path | None:
    """``root/<folder>/<split>.json`` or ``.txt`` when present."""
    for suffix in (".json", ".txt"):
        candidate = root / folder / f"{split}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def filter_by_list(
    clips: dict[str, object], list_path: Path, split: str, canonical: Callable[[str], str | None]
) -> list[object]:
    """The clips named in ``list_path`` (in list order). Entries are mapped with ``canonical``;
    entries that map to None (another dataset's ids in a shared list) are ignored; listed ids that
    are not on disk are logged as a warning."""
    wanted: list[str] = []
    for entry in read_id_list(list_path, split):
        key = canonical(entry)
        if key is not None and key not in wanted:
            wanted.append(key)
    missing = [key for key in wanted if key not in clips]
    if missing:
        log.warning(
            "%s: %d of %d listed clips are not on disk (first: %s)",
            list_path,
            len(missing),
            len(wanted),
            ", ".join(missing[:3]),
        )
    return [clips[key] for key in wanted if key in clips]
