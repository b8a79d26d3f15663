"""synthtalk clips as arrays for the expert networks, and the identity-split guard.

``load_split(root, split)`` reads the clips of one synthtalk split with
``edtalk.data.readers.read_clips("synthtalk", ...)``, decodes each video once and returns
``ExpertClip`` records: frames, audio and the per-frame ground truth of the sidecar (landmarks,
pose, mouth factors, emotion class, identity).

The split guard keeps the three identity splits apart (DESIGN.md: a judge never sees train or test
identities; a training-loss expert never judges): ``check_split`` raises ``SplitLeakError`` when a
clip's identity also appears in another split's list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edtalk.data.clip import EMOTIONS
from edtalk.data.synthtalk.factors import MOUTH_KEYS
from edtalk.data.synthtalk.presets import SPLITS

TRAINABLE_SPLITS = ("train", "judge")  # experts train on these; never on test
POSE_KEYS = ("yaw", "pitch", "roll")  # degrees


class SplitLeakError(ValueError):
    """A clip whose identity belongs to another identity split than the one requested."""


@dataclass
class ExpertClip:
    """One synthtalk clip with its per-frame ground truth (T frames)."""

    id: str
    identity: str
    emotion: int  # index into edtalk.data.clip.EMOTIONS
    frames: np.ndarray  # uint8 (T, S, S, 3) RGB
    wav: np.ndarray  # float32 mono 16 kHz
    landmarks: np.ndarray  # float32 (T, 68, 2) pixel coordinates at the native size S
    pose: np.ndarray  # float32 (T, 3) yaw, pitch, roll in degrees
    mouth: np.ndarray  # float32 (T, 3) open, width, round
    expression: np.ndarray | None = None  # float32 (14,) action amounts (face_analyser.EXPRESSION_KEYS)
    fps: float = 25.0
    level: int | None = None  # emotion intensity 1..3 (MEAD levels)

    @property
    def size(self) -> int:
        return int(self.frames.shape[1])

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


def sidecar_targets(sidecar: dict, where: str = "sidecar") -> dict[str, np.ndarray]:
    """Per-frame ground truth from a synthtalk sidecar: landmarks (T,68,2), pose (T,3), mouth (T,3)."""
    try:
        factors = sidecar["factors"]
        pose = np.stack([np.asarray(factors[k], np.float32) for k in POSE_KEYS], axis=1)
        mouth = np.stack([np.asarray(factors[k], np.float32) for k in MOUTH_KEYS], axis=1)
        landmarks = np.asarray(sidecar["landmarks"], np.float32)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{where}: sidecar lacks per-frame factors/landmarks ({err!r})") from None
    if landmarks.ndim != 3 or landmarks.shape[1:] != (68, 2):
        raise ValueError(f"{where}: landmarks must be (T, 68, 2), got {landmarks.shape}")
    return {"landmarks": landmarks, "pose": pose, "mouth": mouth}


def expression_amounts(sidecar: dict) -> np.ndarray:
    """The clip's 14 expression amounts (0 for keys the sidecar lacks)."""
    from edtalk.experts.face_analyser import EXPRESSION_KEYS

    amounts = sidecar.get("expression") or {}
    return np.array([float(amounts.get(k, 0.0)) for k in EXPRESSION_KEYS], np.float32)


def emotion_index(name: str | None, where: str = "clip") -> int:
    if name not in EMOTIONS:
        raise ValueError(f"{where}: emotion {name!r} is not one of {EMOTIONS}")
    return EMOTIONS.index(name)


def identity_of(clip_id: str) -> str:
    """synthtalk clip ids start with the identity: ``st003#happy#level_2#001`` -> ``st003``."""
    return clip_id.split("#", 1)[0]


def split_identities(root: str | Path) -> dict[str, set[str]]:
    """Identities listed in each ``splits/<split>.txt`` of a synthtalk root."""
    out: dict[str, set[str]] = {}
    for split in SPLITS:
        path = Path(root) / "splits" / f"{split}.txt"
        if path.is_file():
            ids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
            out[split] = {identity_of(i) for i in ids}
    return out


def _is_synthtalk_set(folder: Path) -> bool:
    """A folder the synthtalk reader reads: ``clips/`` and at least one of the split lists."""
    return (folder / "clips").is_dir() and bool(split_identities(folder))


def require_synthtalk_set(root: str | Path) -> Path:
    """``root`` as a Path when it is a synthtalk set (``_is_synthtalk_set``), else a one-line
    ``DataError`` naming it: missing (with a sibling set of a close name), a file, or another folder
    (with a folder one level off that is one)."""
    import difflib

    from edtalk.data.errors import DataError
    from edtalk.data.readers.common import nearby_root_hint

    root = Path(root)
    how = "give the folder `python -m edtalk.data.synthtalk --out DIR` wrote (e.g. data/synthtalk)"
    if not root.exists():
        siblings = root.parent.iterdir() if root.parent.is_dir() else ()
        sets = [p.name for p in siblings if p.is_dir() and _is_synthtalk_set(p)]
        close = difflib.get_close_matches(root.name, sets, n=1)
        hint = f"did you mean {root.parent / close[0]}?" if close else how
        raise DataError(root, f"no such folder: {hint}")
    if not root.is_dir():
        raise DataError(root, f"is a file, not a synthtalk root folder: {how}")
    if not _is_synthtalk_set(root):
        near = nearby_root_hint(root, "synthtalk", _is_synthtalk_set)
        raise DataError(
            root,
            "not a synthtalk set (no clips/ folder with splits/train.txt, judge.txt or test.txt beside "
            f"it): {near or how}",
        )
    return root


def check_split(identities: set[str] | list[str], split: str, by_split: dict[str, set[str]]) -> None:
    """Refuse identities of any other split than ``split`` (and refuse training on ``test``).

    Raises ``SplitLeakError`` naming the identities and the split they belong to."""
    if split not in TRAINABLE_SPLITS:
        raise SplitLeakError(
            f"experts train only on the {TRAINABLE_SPLITS} identity splits, not {split!r} "
            "(the test identities are for scoring only)"
        )
    found = other_split_of(identities, split, by_split)
    if found:
        other, leaked = found
        raise SplitLeakError(
            f"refusing to train {split!r} experts: identities {leaked} belong to the "
            f"{other!r} split (a judge never sees train/test identities; a loss expert never judges)"
        )


def other_split_of(
    identities: Iterable[str], split: str, by_split: dict[str, set[str]]
) -> tuple[str, list[str]] | None:
    """(the first other split, by name, that holds some of ``identities``; those identities), or
    None when all of them are ``split``'s or no split's."""
    for other, others_ids in sorted(by_split.items()):
        clash = sorted(set(identities) & others_ids)
        if other != split and clash:
            return other, clash
    return None


def dataset_record(root: str | Path) -> dict:
    """What an expert records of the synthtalk set it was trained on (its card's seed, preset and
    generator version); empty when ``root`` has no card."""
    path = Path(root) / "card.json"
    if not path.is_file():
        return {}
    card = json.loads(path.read_text())
    return {key: card.get(key) for key in ("seed", "preset", "generator_version")}


def check_fits_dataset(path: str | Path, meta: dict, root: str | Path, how_to_fix: str) -> None:
    """Refuse an expert (judge or loss expert, its metadata ``meta``) for the synthtalk set at
    ``root`` when the people it was trained on are another split's people there.

    A synthtalk face depends on the seed and the identity's index only, not on the preset: st012 is
    a judge identity of a tiny set and a train identity of a small set with the same seed, so a
    judge trained on a tiny set would have seen a small set's training faces. An expert trained
    with another seed saw other faces (nothing to refuse); a file that records no seed is compared
    by identity name. Raises a ``DataError`` naming the file, the clash and ``how_to_fix``. A root
    with no split lists passes (a real dataset's people are not synthtalk faces): a tool that needs a
    synthtalk set checks ``root`` with ``require_synthtalk_set`` first, as ``eval.zoo`` does."""
    from edtalk.data.errors import DataError

    by_split = split_identities(root)
    if not by_split:
        return  # not a synthtalk root (a real dataset's people are not synthtalk faces)
    trained_on, here = meta.get("dataset") or {}, dataset_record(root)
    if None not in (trained_on.get("seed"), here.get("seed")) and trained_on["seed"] != here["seed"]:
        return
    own = meta.get("split")
    found = other_split_of(meta.get("identities") or (), own, by_split)
    if found:
        other, clash = found
        role = "judge" if own == "judge" else "training-loss expert"
        shown = ", ".join(clash[:4]) + (f" and {len(clash) - 4} more" if len(clash) > 4 else "")
        raise DataError(
            path,
            f"this {role} was trained on {own!r} identities that are {other!r} identities "
            f"of {root} ({shown}; trained on a synthtalk set with "
            f"{trained_on or 'no recorded card'}, this one has {here}): a judge never sees train or "
            f"test faces, a loss expert never judges. {how_to_fix}",
        )


def load_split(
    root: str | Path, split: str, max_clips: int | None = None, guard: bool = True, progress: bool = True
) -> list[ExpertClip]:
    """Decode the clips of ``split`` (every ``k``-th clip when ``max_clips`` limits them).

    With ``guard`` (always for training) the split's identities are checked against the other
    splits' lists first."""
    from edtalk.data.readers import read_clips

    clips = read_clips("synthtalk", root, split=split)
    if guard:
        check_split({c.identity or identity_of(c.id) for c in clips}, split, split_identities(root))
    if max_clips is not None and len(clips) > max_clips:
        idx = np.linspace(0, len(clips), max_clips, endpoint=False).astype(int)
        clips = [clips[i] for i in idx]
    return decode_clips(clips, progress=progress, desc=f"decode {split}")


def decode_clips(clips: list, progress: bool = False, desc: str = "decode") -> list[ExpertClip]:
    """``edtalk.data.clip.Clip`` records (synthtalk, with sidecars) -> ``ExpertClip`` arrays."""
    from edtalk.data.audio import load_audio
    from edtalk.data.video import read_video

    out = []
    iterator = clips
    if progress:
        from tqdm import tqdm

        iterator = tqdm(clips, desc=desc, unit="clip", leave=False)
    for clip in iterator:
        clip.check()  # listed but unreadable (a bad sidecar): refused with the reader's error
        if clip.sidecar is None:
            raise ValueError(f"{clip.video}: clip {clip.id} has no sidecar JSON (synthtalk ground truth)")
        sidecar = json.loads(Path(clip.sidecar).read_text())
        video = read_video(clip.video)
        targets = sidecar_targets(sidecar, str(clip.sidecar))
        t = min(len(video.frames), len(targets["pose"]))
        out.append(
            ExpertClip(
                id=clip.id,
                identity=clip.identity or identity_of(clip.id),
                emotion=emotion_index(clip.emotion, clip.id),
                frames=video.frames[:t],
                wav=load_audio(clip.audio),
                landmarks=targets["landmarks"][:t],
                pose=targets["pose"][:t],
                mouth=targets["mouth"][:t],
                expression=expression_amounts(sidecar),
                fps=float(video.fps),
                level=int(clip.level) if clip.level is not None else sidecar.get("level"),
            )
        )
    return out
