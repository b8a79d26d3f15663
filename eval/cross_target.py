"""The ideal cross-driven video of synthtalk clips, drawn by the synthtalk generator itself.

Cross-driving asks for A's face with B's mouth, C's head pose and D's expression. A synthtalk clip
is drawn from per-frame factor tracks, so the generator can draw exactly that video: A's identity
parameters, B's mouth tracks, C's pose and blink tracks, D's emotion at D's level (with A's
expressivity, as A would show it). ``eval.proof`` uses it twice:

- dlib's mouth reading of each candidate driver's mouth drawn on A's face is the reference track,
  so the lip geometry of another person's face never counts as mouth motion (dlib reads lip
  distances in pixels, and a perfect cross-driven video still has A's lips, not B's);
- the judges' readings of the ideal video are the ceiling a model can reach on that quadruple.

Tracks are regenerated from the dataset card's seed and the clip id (the same draws as
``python -m edtalk.data.synthtalk``) and checked against the clip's sidecar factors, so a dataset
made by another generator version is refused rather than compared against the wrong video.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from edtalk.data.synthtalk.clip import SynthClip, make_clip
from edtalk.data.synthtalk.expression import expression_params
from edtalk.data.synthtalk.factors import MOUTH_KEYS, POSE_KEYS
from edtalk.data.synthtalk.generate import clip_rng, identity_params
from edtalk.data.synthtalk.render import render_frame
from edtalk.driving import loop_to_length
from edtalk.experts.data import POSE_KEYS as SIDECAR_POSE_KEYS  # the judged rotations (no tx/ty/scale)
from edtalk.experts.extra_identities import read_card


class CrossTargetError(ValueError):
    """A clip whose factor tracks cannot be redrawn as the dataset recorded them."""


def parse_clip_id(clip_id: str) -> tuple[int, str, int, int]:
    """``st012#happy#level_3#001`` -> (identity index 12, "happy", level 3, take 1)."""
    try:
        name, emotion, level, take = clip_id.split("#")
        if not name.startswith("st"):
            raise ValueError(name)
        return int(name[2:]), emotion, int(level.removeprefix("level_")), int(take)
    except ValueError:
        raise CrossTargetError(
            f"{clip_id}: not a synthtalk clip id (expected st<index>#<emotion>#level_<n>#<take>)"
        ) from None


@lru_cache(maxsize=64)
def clip_tracks(root: str, clip_id: str) -> SynthClip:
    """The factor tracks and expression of one clip of the synthtalk set at ``root`` (no pixels)."""
    card = read_card(root)
    index, emotion, level, take = parse_clip_id(clip_id)
    seed = int(card["seed"])
    low, high = card["clip_duration_s"]
    return make_clip(
        identity_params(seed, index),
        emotion,
        level,
        clip_rng(seed, index, emotion, level, take),
        size=int(card["size"]),
        fps=float(card["fps"]),
        min_duration=float(low),
        max_duration=float(high),
        tracks_only=True,
    )


def checked_tracks(root: str | Path, clip) -> SynthClip:
    """``clip_tracks`` of a decoded clip (``ExpertClip``), refused unless its mouth and pose tracks
    match the clip's sidecar (the ground truth the judges are scored against)."""
    tracks = clip_tracks(str(root), clip.id)
    mouth = np.stack([tracks.factors[k] for k in MOUTH_KEYS], 1)
    pose = np.stack([tracks.factors[k] for k in SIDECAR_POSE_KEYS], 1)
    if mouth.shape != clip.mouth.shape or not (
        np.allclose(mouth, clip.mouth, atol=1e-3) and np.allclose(pose, clip.pose, atol=1e-3)
    ):
        raise CrossTargetError(
            f"{clip.id}: the synthtalk generator here does not redraw this clip's factor tracks "
            f"(root {root}); regenerate the set with this version (python -m edtalk.data.synthtalk)"
        )
    return tracks


def render_cross(root: str | Path, identity, mouth, pose, expression, n_frames: int) -> np.ndarray:
    """uint8 (n_frames, S, S, 3): ``identity``'s face with ``mouth``'s mouth, ``pose``'s head pose
    and blinks, and ``expression``'s emotion; every track ping-pong looped to ``n_frames`` as
    ``edtalk.driving.drive_video`` loops its drivers. Arguments are decoded synthtalk clips."""
    card = read_card(root)
    person = identity_params(int(card["seed"]), parse_clip_id(identity.id)[0])
    m, p, e = (checked_tracks(root, x) for x in (mouth, pose, expression))
    face = expression_params(e.emotion, e.level, person["expressivity"])
    tracks = {k: loop_to_length(m.factors[k], n_frames) for k in MOUTH_KEYS}
    tracks.update({k: loop_to_length(p.factors[k], n_frames) for k in (*POSE_KEYS, "blink")})
    size = int(card["size"])
    return np.stack(
        [
            render_frame(person, {k: float(v[i]) for k, v in tracks.items()}, face, size)[0]
            for i in range(n_frames)
        ]
    )
