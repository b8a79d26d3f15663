"""One clip in memory: factors, landmarks, frames and speech, all from one seeded generator.

``make_clip`` is what the generator writes to disk and what training code can call directly for
unlimited fresh data (e.g. the synthtalk judges): pass ``render=False`` to get only the factors,
landmarks and audio without rasterising frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edtalk.data.synthtalk.audio import prosody, synthesize
from edtalk.data.synthtalk.expression import expression_params
from edtalk.data.synthtalk.factors import FACTOR_KEYS, blink_track, mouth_tracks, pose_tracks
from edtalk.data.synthtalk.render import project, render_frame, rotation
from edtalk.data.synthtalk.template import face_geometry
from edtalk.data.synthtalk.transcripts import pick_sentence
from edtalk.data.synthtalk.visemes import close_timeline, timeline_from_text, viseme_weights

GRID_HZ = 1000  # resolution of the viseme weight grid


@dataclass
class SynthClip:
    """A generated clip. ``frames`` is None when made with ``render=False``."""

    identity_params: dict
    emotion: str
    level: int
    transcript: str
    expression: dict
    factors: dict[str, np.ndarray]  # FACTOR_KEYS (+ blink) -> (T,) float
    landmarks: np.ndarray  # (T, 68, 2) pixels, iBUG order
    visemes: list[dict]  # [{viseme, start, end}] seconds, covering [0, duration]
    audio: np.ndarray  # float32 mono, T * sample_rate / fps samples
    fps: float
    sample_rate: int
    size: int
    frames: np.ndarray | None = None  # uint8 (T, size, size, 3) RGB
    extra: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.landmarks.shape[0])

    def factors_at(self, i: int) -> dict[str, float]:
        return {k: float(v[i]) for k, v in self.factors.items()}


def landmarks_only(identity: dict, factors: dict, expression: dict, size: int) -> np.ndarray:
    """The 68 projected landmarks of one frame without rasterising it (same maths as render_frame)."""
    mouth = (factors.get("mouth_open", 0.0), factors.get("mouth_width", 0.0), factors.get("mouth_round", 0.0))
    geo = face_geometry(identity, expression, mouth, factors.get("blink", 0.0))
    rot = rotation(factors.get("yaw", 0.0), factors.get("pitch", 0.0), factors.get("roll", 0.0))
    return project(geo["landmarks"], rot, factors, size)


def make_clip(
    identity: dict,
    emotion: str,
    level: int,
    rng: np.random.Generator,
    size: int = 128,
    fps: float = 25.0,
    sample_rate: int = 16000,
    min_duration: float = 2.0,
    max_duration: float = 3.0,
    render: bool = True,
    tracks_only: bool = False,
) -> SynthClip:
    """Draw one clip of ``identity`` speaking an ``emotion`` sentence at ``level`` (1..3).

    ``tracks_only`` draws only the factor tracks and the expression (the same values as a full
    clip: the audio draws come after every visual one): silent audio, zero landmarks, no frames."""
    transcript = pick_sentence(emotion, rng)
    lead, trail = rng.uniform(0.2, 0.4), rng.uniform(0.2, 0.4)
    speech = timeline_from_text(
        transcript, prosody(emotion, level)["rate"], lead, max_duration - lead - trail
    )
    duration = max(min_duration, speech[-1]["end"] + trail)
    n_frames = int(np.ceil(duration * fps - 1e-9))
    duration = n_frames / fps
    segments = close_timeline(speech, duration)
    weights = viseme_weights(segments, duration, GRID_HZ)
    factors = pose_tracks(rng, n_frames, fps)
    factors.update(mouth_tracks(weights, GRID_HZ, n_frames, fps))
    factors["blink"] = blink_track(rng, n_frames, fps)
    factors = {k: np.round(v, 5) for k, v in factors.items()}
    expression = expression_params(emotion, level, identity["expressivity"])
    n_samples = int(round(duration * sample_rate))
    if not tracks_only:
        audio = synthesize(
            weights, GRID_HZ, n_samples, sample_rate, identity["voice_f0"], emotion, level, rng
        )
    else:
        audio = np.zeros(n_samples, np.float32)
    clip = SynthClip(
        identity_params=identity,
        emotion=emotion,
        level=level,
        transcript=transcript,
        expression=expression,
        factors=factors,
        landmarks=np.zeros((n_frames, 68, 2)),
        visemes=segments,
        audio=audio,
        fps=fps,
        sample_rate=sample_rate,
        size=size,
    )
    render = render and not tracks_only
    frames = np.empty((n_frames, size, size, 3), np.uint8) if render else None
    for i in range(0 if tracks_only else n_frames):
        at = clip.factors_at(i)
        if render:
            frames[i], clip.landmarks[i] = render_frame(identity, at, expression, size)
        else:
            clip.landmarks[i] = landmarks_only(identity, at, expression, size)
    clip.frames = frames
    return clip


__all__ = ["FACTOR_KEYS", "SynthClip", "landmarks_only", "make_clip"]
