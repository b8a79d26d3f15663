"""Dataset presets: how many identities, how big the frames, how long the clips."""

from __future__ import annotations

from dataclasses import dataclass

from edtalk.data.clip import EMOTIONS


@dataclass(frozen=True)
class Preset:
    name: str
    size: int  # frame side in pixels (square frames)
    splits: tuple[int, int, int]  # identities in train, judge, test (disjoint)
    clips_per_condition: int  # clips per identity x emotion x level
    min_duration: float  # seconds; shorter speech is padded with silence
    max_duration: float  # seconds; longer speech is sped up to fit
    fps: float = 25.0
    sample_rate: int = 16000
    emotions: tuple[str, ...] = EMOTIONS  # a subset only for quick test datasets
    levels: tuple[int, ...] = (1, 2, 3)

    @property
    def n_identities(self) -> int:
        return sum(self.splits)

    @property
    def n_clips(self) -> int:
        return self.n_identities * len(self.emotions) * len(self.levels) * self.clips_per_condition


PRESETS = {
    "tiny": Preset("tiny", 128, (12, 6, 6), 1, 2.0, 2.8),
    "small": Preset("small", 128, (24, 12, 12), 2, 2.0, 4.0),
    "full": Preset("full", 256, (60, 30, 30), 3, 3.0, 6.0),
}
SPLITS = ("train", "judge", "test")

# A tiny clip's bytes per frame (128 px, generator 1.1.0, measured over the whole tiny preset: 576 clips,
# 102.8 MB): H.264 video, which grows about as the frame's side (256 px measured x1.84 per frame), not
# its area; the 16 kHz 16-bit wav; the sidecar (68 landmarks and the factors per frame). Its clips run
# 6.4 frames past the 2 s minimum on average (speech longer than it).
TINY_BYTES_PER_FRAME = {"mp4": 823.0, "wav": 1281.0, "json": 1062.0}
FRAMES_PAST_MINIMUM = 6.4


def estimated_bytes(preset: Preset, n_clips: int) -> int:
    """About the bytes ``n_clips`` clips of ``preset`` take on disk (mp4, wav and sidecar): the tiny
    preset's sizes per frame scaled by the frame side and the sample rate, over clips of the preset's
    minimum duration plus tiny's frames past it (``full``'s 3 s clips are measured 10% smaller)."""
    frames = preset.min_duration * preset.fps + FRAMES_PAST_MINIMUM
    per_frame = (
        TINY_BYTES_PER_FRAME["mp4"] * preset.size / 128
        + TINY_BYTES_PER_FRAME["wav"] * (preset.sample_rate / preset.fps) / 640
        + TINY_BYTES_PER_FRAME["json"]
    )
    return int(n_clips * frames * per_frame)


def get_preset(name: str | Preset) -> Preset:
    if isinstance(name, Preset):
        return name
    if name not in PRESETS:
        raise ValueError(f"unknown synthtalk preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
