"""The ``Clip`` record: one talking-head clip, as every reader returns it.

Readers (``edtalk.data.readers``) turn a dataset tree into a list of clips; training and scoring
only ever see ``Clip`` objects, so a dataset reader is written once and serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edtalk.data.errors import DataError

EMOTIONS = ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")
"""MEAD's eight emotions, in the alphabetical order used for class indices everywhere."""
# The shortest clip every metric can score: SyncNet (LSE-C/D) reads windows i = 0 .. T - 6 of 5 frames
# and the sync judge WINDOW + 1 frames. eval.run fails shorter clips; the doctor flags them.
MIN_FRAMES = 6
# Audio and video durations of one clip differing by more (seconds) are a problem of the clip: the doctor
# flags it, the training frame cache keeps a clip whose audio is this much shorter out of the audio stages
MAX_LENGTH_MISMATCH_S = 0.1


@dataclass(frozen=True)
class Clip:
    """One clip of a dataset split.

    ``id`` is unique within the dataset and is the key of every cache and per-clip result row.
    MEAD-style ids follow the official EDTalk lists (``M003#angry#level_1#001``), HDTF ones
    ``<video>#<k>`` for 5-second chunks.
    """

    id: str  # dataset-unique clip id (also the key in caches and results)
    dataset: str  # reader name: synthtalk, mead, hdtf, lrw, voxceleb2, folder
    split: str  # train | judge | test | val | all
    video: Path  # 25 fps mp4 (or any PyAV-readable container)
    audio: Path | None = None  # 16 kHz mono wav, when the dataset has audio
    identity: str | None = None  # speaker / identity id
    emotion: str | None = None  # one of EMOTIONS, when known
    level: int | None = None  # emotion intensity 1..3, when known
    transcript: str | None = None  # spoken sentence, when known
    sidecar: Path | None = None  # JSON with ground-truth factors (synthtalk)
    extra: dict = field(default_factory=dict, compare=False, hash=False)  # reader-specific fields
    # why a listed clip cannot be used (e.g. its synthtalk sidecar is missing or malformed): ``check``
    # raises it wherever the clip is decoded, so that clip alone fails, not the whole split
    problem: DataError | None = field(default=None, compare=False, hash=False)

    def check(self) -> None:
        """Raise ``problem`` (a fresh copy of the reader's error) when the reader listed this clip but
        found it unusable. Whoever decodes a clip calls this first: ``eval.run`` records the clip as
        failed with this message and scores the others; training leaves it out with a warning, as it
        does a clip whose video is missing."""
        if self.problem is not None:
            raise type(self.problem)(self.problem.path, self.problem.problem)
