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


PRESETS = {
    "tiny": Preset("tiny", 128, (12, 6, 6), 1, 2.0, 2.8),
    "small": Preset("small", 128, (24, 12, 12), 2, 2.0, 4.0),
    "full": Preset("full", 256, (60, 30, 30), 3, 3.0, 6.0),
}
SPLITS = ("train", "judge", "test")


def get_preset(name: str | Preset) -> Preset:
    if isinstance(name, Preset):
        return name
    if name not in PRESETS:
        raise ValueError(f"unknown synthtalk preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
