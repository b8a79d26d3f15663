"""Score methods we do not run: their output videos, read from a folder.

``folder:DIR`` indexes the videos in DIR (recursively) and maps each file name to a clip id:

1. an explicit ``name_map`` {file stem or file name: clip id} in ``DIR/provenance.json``;
2. the stem itself (``M003#angry#level_1#001.mp4``), or its %-unescaped form (our own cache
   spelling, eval.cache.escape_clip_id);
3. SadTalker's ``<image>##<audio>.mp4`` (also ``..._full.mp4``, ``..._enhanced.mp4``): the audio
   part names the clip; an image part naming another clip is an error (map it in ``name_map``);
4. a MEAD name in EAT's spelling: ``M003_ang_1_001`` -> ``M003#angry#level_1#001``
   (``edtalk.data.readers.names.canonical_mead_id``), also when EAT nests it in a folder of that
   name (``M003_ang_1_001/M003_ang_1_001.mp4`` or ``.../<anything>.mp4``).

Two files for one clip (``x##x.mp4`` beside ``x##x_enhanced.mp4``, or one clip in two per-emotion
subfolders) are an error naming both; videos that match no clip are named in a warning.

Provenance comes from an optional ``DIR/provenance.json`` (any keys; typically ``method``,
``version``, ``checkpoint``, ``resolution``, ``source``, ``notes``) and is recorded in the results
file together with the folder path and the measured resolution of one output video. Its
``driving`` ("audio" or "video") says what moved the mouth; the report keeps audio-driven results out
of the face-reenactment table (5) and video-driven ones out of the sweep tables (3, 6), and marks each
row "[audio]" or "[video]" in the tables that take both (1, 4).

``paired`` is the method of ``--dataset folder --gt DIR --pred DIR``: the prediction of a clip is
the file the folder reader paired with it by name (``Clip.extra["pred"]``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from baselines import METHODS, Method
from edtalk.data.clip import Clip
from edtalk.data.errors import DataError, DatasetLayoutError
from edtalk.data.readers.common import VIDEO_SUFFIXES, is_hidden, name_key, second_video
from eval.results import DRIVING_MODES

log = logging.getLogger(__name__)


def _mead_name(name: str) -> str | None:
    try:
        from edtalk.data.readers.names import canonical_mead_id
    except ImportError:  # data layer absent: only exact names match
        return None
    return canonical_mead_id(name)


SADTALKER_SUFFIXES = ("_full", "_enhanced")  # its --preprocess full and --enhancer outputs


def sadtalker_names(stem: str) -> tuple[str, list[str]] | None:
    """SadTalker's ``<image>##<audio>`` stem -> (image, [audio, audio less ``_full``/``_enhanced``]);
    None for another stem."""
    image, sep, audio = stem.partition("##")
    if not (sep and image and audio) or "##" in audio:
        return None
    return image, [audio] + [audio[: -len(s)] for s in SADTALKER_SUFFIXES if audio.endswith(s) and audio != s]


def candidate_ids(video: Path, root: Path) -> list[str]:
    """Clip ids a video file in ``root`` may stand for, most specific first."""
    stems = [video.stem, unquote(video.stem)]
    if (sadtalker := sadtalker_names(video.stem)) is not None:
        stems += sadtalker[1]
    if video.parent != root:
        stems.append(video.parent.name)  # EAT: <clip name>/<frames or clip>.mp4
    out: list[str] = []
    for s in stems:
        for cand in (s, _mead_name(s)):
            if cand and cand not in out:
                out.append(cand)
    return out


def read_provenance(folder: Path) -> dict[str, Any]:
    """``folder/provenance.json`` as a dict ({} when absent); a malformed file is an error."""
    path = folder / "provenance.json"
    if not path.is_file():
        return {}
    try:  # utf-8-sig: a file saved "UTF-8 with BOM" (Notepad) reads too
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise DatasetLayoutError(path, f"provenance.json is not UTF-8 text ({e}): save it as UTF-8") from None
    except (OSError, json.JSONDecodeError) as e:
        raise DatasetLayoutError(path, f"unreadable provenance JSON ({e})") from None
    if not isinstance(data, dict):
        raise DatasetLayoutError(path, "provenance.json must be a JSON object")
    return data


METHOD_NAME_RULE = (
    "a method name is one folder name of the results (<out>/<dataset>/<method>/): no '/', '\\' or "
    "'..', no leading '.', no control characters (e.g. \"EAT v2 (ours)\" or \"EAT-v2\")"
)


def _unsafe_method_name(name: str) -> str | None:
    """Why ``name`` cannot be a folder of the results tree, or None when it can."""
    if "/" in name or "\\" in name:
        return "holds a path separator"
    if ".." in name:
        return "holds '..'"
    if name.startswith("."):
        return "starts with '.'"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "holds a control character"
    if not name.strip():
        return "is blank"
    return None


def provenance_method(folder: Path) -> str | None:
    """The ``method`` that ``folder/provenance.json`` names (None when it names none), refused when it
    is one of this suite's own methods (its results would replace that method's) or not a plain folder
    name: the results and the cache go to ``<out>/<dataset>/<method>/``, so a '/' made nested folders
    that ``eval.report`` does not find and '..' wrote outside ``--out``."""
    named = read_provenance(folder).get("method")
    if named is None or named == "":
        return None
    path = folder / "provenance.json"
    if not isinstance(named, str):
        raise DatasetLayoutError(path, f"method must be a JSON string, not {named!r}")
    why = _unsafe_method_name(named)
    if why is not None:
        raise DatasetLayoutError(path, f"method {named!r} {why}; {METHOD_NAME_RULE}")
    ours = {name.casefold(): name for name in METHODS.names()}  # case-insensitive file systems: GT is gt
    if named.casefold() in ours:
        raise DatasetLayoutError(
            path,
            f"method {named!r} is the name of this suite's own method {ours[named.casefold()]!r}; name "
            "these videos' method otherwise (e.g. with the folder's method and version)",
        )
    return named


def videos_below(folder: Path) -> list[Path]:
    """Every video under ``folder`` (sorted), following symlinked subfolders (each real folder once);
    hidden files and folders (macOS ``._x.mp4``) skipped."""
    videos, seen = [], set()
    for here, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(here)
        if real in seen:  # a link back up the tree, or a second link to one folder
            dirs.clear()
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = Path(here, name)
            if path.suffix.lower() in VIDEO_SUFFIXES and not is_hidden(path.relative_to(folder)):
                videos.append(path)
    return sorted(videos)


def read_name_map(folder: Path) -> dict[str, str]:
    """The ``name_map`` of ``folder/provenance.json`` ({} when absent); not {name: clip id} is an error."""
    name_map = read_provenance(folder).get("name_map") or {}
    if not isinstance(name_map, dict) or not all(isinstance(v, str) for v in name_map.values()):
        raise DatasetLayoutError(
            folder / "provenance.json", 'name_map must be a JSON object {"<file stem or name>": "<clip id>"}'
        )
    return name_map


def index_folder(folder: Path, known_ids: set[str] | None = None) -> dict[str, Path]:
    """clip id -> video path for every video under ``folder``.

    With ``known_ids`` the first candidate id that is a known clip wins and the videos matching
    none are logged; two files claiming the same clip is an error naming both."""
    name_map = {name_key(name): clip_id for name, clip_id in read_name_map(folder).items()}
    known = None if known_ids is None else {name_key(i): i for i in known_ids}  # macOS names are NFD
    index: dict[str, Path] = {}
    unmatched: list[str] = []
    for video in videos_below(folder):
        mapped = name_map.get(name_key(video.stem), name_map.get(name_key(video.name)))
        cands = [mapped] if mapped is not None else candidate_ids(video, folder)
        cands = [name_key(c) for c in cands]
        if known is not None:
            cands = [known[c] for c in cands if c in known]
        if not cands:
            shown = str(video.relative_to(folder))
            unmatched.append(shown if mapped is None else f"{shown} (name_map: {mapped!r})")
            continue
        clip_id = cands[0]
        if mapped is None and known is not None:
            _check_sadtalker_image(video, clip_id, known)
        if clip_id in index:
            err = second_video(clip_id, index[clip_id], video)
            if index[clip_id].parent != video.parent:  # per-emotion (or per-run) output subfolders
                hint = "; or score each subfolder as its own method: --method folder:SUBFOLDER"
                err = DatasetLayoutError(err.path, err.problem + hint)
            raise err
        index[clip_id] = video
    if unmatched and known_ids is not None:
        log.warning(
            "%s: %d videos match none of the %d clips and are ignored (first: %s)",
            folder,
            len(unmatched),
            len(known_ids),
            ", ".join(unmatched[:3]),
        )
    return index


def _check_sadtalker_image(video: Path, clip_id: str, known: dict[str, str]) -> None:
    """Refuse SadTalker's ``<image>##<audio>`` whose image names another clip than its audio
    (``known``: ``name_key`` of each clip id -> clip id)."""
    names = sadtalker_names(video.stem)
    image = [name_key(c) for c in (names[0], _mead_name(names[0])) if c] if names else []
    image_ids = {known[c] for c in image if c in known}
    if image_ids and clip_id not in image_ids:
        raise DatasetLayoutError(
            video,
            f"SadTalker's image names clip {min(image_ids)!r} and its audio clip {clip_id!r}; map the "
            "file to the clip to score it against in provenance.json's name_map",
        )


@METHODS.register("folder")
class FolderOfVideos(Method):
    """A method's output videos in a folder (``--method folder:DIR``)."""

    name = "folder"
    generates = False

    def __init__(self, arg: str | None = None, ckpt: str | None = None, device: str = "cpu") -> None:
        super().__init__(arg, ckpt, device)
        if not arg:
            raise ValueError("the folder method needs a folder: --method folder:DIR")
        self.folder = Path(arg).expanduser()
        self._index: dict[str, Path] | None = None

    @property
    def display_name(self) -> str:
        named = provenance_method(self.folder) if self.folder.is_dir() else None
        return named or f"folder-{self.folder.resolve().name}"

    def prepare(self, clips: list[Clip], split: list[Clip] | None = None) -> None:
        """Index the folder's videos against every clip of ``split`` (default ``clips``; eval.run gives
        the whole split, of which ``--limit`` scores ``clips``): a video matching none of them is
        warned about, one of a clip left out is only counted in a note; a folder with videos for none
        of ``clips`` is an error."""
        if not self.folder.is_dir():
            what = (
                "is a file: name the folder holding the videos" if self.folder.exists() else "does not exist"
            )
            raise DatasetLayoutError(self.folder, f"method output folder {what} (--method folder:DIR)")
        provenance_method(self.folder)  # a name that is not a plain folder name, or one of ours: refused
        split = clips if split is None else split
        self._index = index_folder(self.folder, {c.id for c in split})
        if not self._index:
            example = split[0].id if split else "<clip id>"
            raise DatasetLayoutError(
                self.folder,
                f"no video matches any of the {len(split)} clips (expected names like {example}.mp4, "
                f"SadTalker's {example}##{example}.mp4, EAT's M003_ang_1_001.mp4, or a name_map in "
                "provenance.json)",
            )
        missing = sum(1 for c in clips if c.id not in self._index)
        if clips and missing == len(clips):  # --limit: every video is of a clip this run leaves out
            raise DatasetLayoutError(
                self.folder,
                f"none of the {len(clips)} clips this run scores (--limit {len(clips)}, from "
                f"{clips[0].id}) has a video; its {len(self._index)} videos are of the split's other "
                "clips: raise --limit or leave it out",
            )
        if missing:
            log.warning("%s: no output video for %d of %d clips", self.folder, missing, len(clips))
        left_out = len(self._index) - (len(clips) - missing)
        if left_out:
            print(
                f"note: {self.folder}: {left_out} more videos are of clips of the split left out by --limit "
                f"(it takes {len(clips)} of {len(split)})",
                file=sys.stderr,
            )

    def prediction_path(self, clip: Clip, videos_dir: Path) -> Path | None:
        if self._index is None:
            self._index = index_folder(self.folder)
        return self._index.get(clip.id, self._index.get(name_key(clip.id)))

    def driving_mode(self) -> str | None:
        """The ``driving`` of ``DIR/provenance.json`` ("audio" | "video"), None when absent."""
        driving = read_provenance(self.folder).get("driving")
        if driving is not None and driving not in DRIVING_MODES:
            raise DatasetLayoutError(
                self.folder / "provenance.json",
                f"driving {driving!r} is not one of {', '.join(DRIVING_MODES)} (or leave it out)",
            )
        return driving

    def provenance(self) -> dict[str, Any]:
        prov = read_provenance(self.folder)
        prov.pop("name_map", None)
        out: dict[str, Any] = {
            "method": prov.get("method") or self.display_name,
            "folder": str(self.folder.resolve()),
            "provenance_file": str(self.folder / "provenance.json") if prov else None,
            "reported": prov,
        }
        if self._index:
            out["resolution"] = _measured_resolution(next(iter(self._index.values())))
        return out


@METHODS.register("paired")
class PairedFolder(Method):
    """Predictions paired by name by ``--dataset folder --gt DIR --pred DIR``."""

    name = "paired"
    generates = False

    def prepare(self, clips: list[Clip]) -> None:
        if any("pred" not in c.extra for c in clips):  # not from the folder reader: nothing paired
            from eval.run_checks import UsageError

            raise UsageError(
                "--method paired scores the pairs of --dataset folder (--gt DIR --pred DIR); for "
                f"{clips[0].dataset} clips name the method, e.g. --method folder:DIR"
            )

    def prediction_path(self, clip: Clip, videos_dir: Path) -> Path | None:
        pred = clip.extra.get("pred")
        return None if pred is None else Path(pred)

    def provenance(self) -> dict[str, Any]:
        return {"method": "paired", "note": "predictions paired with GT videos by file stem"}


def _measured_resolution(video: Path) -> list[int] | None:
    """[height, width] of one video (header only), None when it cannot be probed."""
    try:
        from edtalk.data.video import probe_video

        return list(probe_video(video).size)
    except (DataError, OSError, ValueError) as e:  # a bad file only loses this field
        log.warning("%s: cannot probe resolution (%s)", video, e)
        return None
