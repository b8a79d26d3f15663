"""Clip id parsing: every MEAD naming scheme maps to the canonical id ``M003#angry#level_1#001``.

Accepted MEAD names:
  * EDTalk's split lists / flattened layout: ``M003#angry#level_1#001``
  * EAT's names: ``M003_ang_1_001`` (3-letter emotion codes, see ``EAT_EMOTIONS``)
  * the raw tree: ``M003/video/front/angry/level_1/001.mp4`` (see ``mead_id_from_raw_path``)
Emotions and ``level_<k>`` are lower case, as MEAD spells them, in file and folder names alike.
HDTF 5-second chunks: ``<video>#<k>``, e.g. ``RD_Radio1_000#1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edtalk.data.clip import EMOTIONS

EAT_EMOTIONS = {
    "ang": "angry",
    "con": "contempt",
    "dis": "disgusted",
    "fea": "fear",
    "hap": "happy",
    "neu": "neutral",
    "sad": "sad",
    "sur": "surprised",
}
"""EAT's 3-letter emotion codes -> MEAD emotion names."""

MEAD_TEST_SPEAKERS = ("M003", "M030", "W009", "W015")
"""The official EDTalk/EAT MEAD test speakers."""

_SPEAKER = r"(?P<speaker>[MW]\d{3})"
_LEVEL = r"(?P<level>[1-3])"  # MEAD's three intensity levels
_CANONICAL = re.compile(rf"^{_SPEAKER}#(?P<emotion>[a-z]+)#level_{_LEVEL}#(?P<clip>\d+)$")
_EAT = re.compile(rf"^{_SPEAKER}_(?P<emotion>[a-z]{{3}})_{_LEVEL}_(?P<clip>\d+)$")
_HDTF = re.compile(r"^(?P<video>.+)#(?P<chunk>\d+)$")


@dataclass(frozen=True)
class MeadId:
    """The parts of a MEAD clip name."""

    speaker: str  # M003
    emotion: str  # one of EMOTIONS
    level: int  # 1..3
    clip: int  # 1 -> "001"

    def __str__(self) -> str:
        return f"{self.speaker}#{self.emotion}#level_{self.level}#{self.clip:03d}"

    @property
    def eat_name(self) -> str:
        """EAT's spelling of the same clip: ``M003_ang_1_001``."""
        return f"{self.speaker}_{self.emotion[:3]}_{self.level}_{self.clip:03d}"


def _emotion(name: str) -> str | None:
    """A MEAD emotion name or EAT code, in lower case as MEAD spells them (``ANGRY`` -> None)."""
    if name in EMOTIONS:
        return name
    return EAT_EMOTIONS.get(name)


def parse_mead_id(name: str) -> MeadId | None:
    """Parse a canonical or EAT MEAD name (a file stem or list entry); None if it is neither."""
    stem = Path(name.strip()).name
    for suffix in (".mp4", ".wav", ".m4a", ".npy", ".json"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    match = _CANONICAL.match(stem) or _EAT.match(stem)
    if match is None:
        return None
    emotion = _emotion(match["emotion"])
    if emotion is None:
        return None
    return MeadId(match["speaker"], emotion, int(match["level"]), int(match["clip"]))


def mead_id_from_raw_path(path: Path) -> MeadId | None:
    """``<spk>/video/front/<emotion>/level_<k>/<nnn>.mp4`` (or ``<spk>/audio/<emotion>/...``) -> id."""
    parts = path.parts
    if len(parts) < 4 or not re.fullmatch(r"level_[1-3]", parts[-2]) or not path.stem.isdigit():
        return None
    emotion = _emotion(parts[-3])
    speaker = next((p for p in reversed(parts[:-3]) if re.fullmatch(r"[MW]\d{3}", p)), None)
    if emotion is None or speaker is None:
        return None
    return MeadId(speaker, emotion, int(parts[-2].split("_")[1]), int(path.stem))


def canonical_mead_id(name: str) -> str | None:
    """``M003_ang_1_001`` or ``M003#angry#level_1#001`` -> ``M003#angry#level_1#001``; else None."""
    parsed = parse_mead_id(name)
    return None if parsed is None else str(parsed)


def parse_hdtf_id(name: str) -> tuple[str, int] | None:
    """``RD_Radio1_000#1`` -> (``RD_Radio1_000``, 1); None if it is not an HDTF chunk id."""
    match = _HDTF.match(Path(name.strip()).stem if name.endswith((".mp4", ".wav")) else name.strip())
    if match is None:
        return None
    return match["video"], int(match["chunk"])
