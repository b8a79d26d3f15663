"""Per-frame factors of a clip: smooth random head pose, blinks, and the viseme-driven mouth.

Pose parameters are sums of three slow sinusoids with random frequencies (0.1-0.7 Hz),
phases and weights, around a random per-clip offset, so motion is smooth and differs per clip.
Frame i is sampled at t = (i + 0.5) / fps, the centre of its audio window
[i / fps, (i + 1) / fps). Units: yaw/pitch/roll in degrees, tx/ty as a fraction of the image
size, scale a multiplier.
"""

from __future__ import annotations

import numpy as np

from edtalk.data.synthtalk.visemes import targets

POSE_KEYS = ("yaw", "pitch", "roll", "tx", "ty", "scale")
MOUTH_KEYS = ("mouth_open", "mouth_width", "mouth_round")
FACTOR_KEYS = POSE_KEYS + MOUTH_KEYS

# (motion amplitude, offset amplitude, centre) per pose parameter
POSE_RANGES = {
    "yaw": (12.0, 6.0, 0.0),
    "pitch": (6.0, 4.0, 0.0),
    "roll": (4.0, 3.0, 0.0),
    # head shifts keep generator 1.0's size relative to the face (x render.FRAMING = 1.45)
    "tx": (0.036, 0.029, 0.0),
    "ty": (0.029, 0.022, 0.0),
    "scale": (0.03, 0.04, 1.0),
}


def pose_tracks(rng: np.random.Generator, n_frames: int, fps: float) -> dict[str, np.ndarray]:
    """Smooth random head motion: one (n_frames,) track per pose key."""
    t = (np.arange(n_frames) + 0.5) / fps
    out = {}
    for key in POSE_KEYS:
        amp, offset, centre = POSE_RANGES[key]
        freqs = rng.uniform(0.1, 0.7, 3)
        phases = rng.uniform(0, 2 * np.pi, 3)
        weights = rng.uniform(0.4, 1.0, 3)
        wave = (weights[:, None] * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None])).sum(
            0
        ) / weights.sum()
        out[key] = centre + rng.uniform(-offset, offset) + amp * wave
    return out


def blink_track(rng: np.random.Generator, n_frames: int, fps: float) -> np.ndarray:
    """Eye closure per frame (0 open .. 1 closed): a blink every 2-4.5 s, 0.08 s down, 0.15 s up."""
    t = (np.arange(n_frames) + 0.5) / fps
    out = np.zeros(n_frames)
    start = rng.uniform(0.3, 2.5)
    while start < t[-1] + 1:
        down = np.clip((t - start) / 0.08, 0, 1)
        up = np.clip((t - start - 0.08) / 0.15, 0, 1)
        out = np.maximum(out, np.where(t < start + 0.08, down, 1 - up) * (t >= start))
        start += rng.uniform(2.0, 4.5)
    return out


def mouth_tracks(weights: np.ndarray, rate_hz: int, n_frames: int, fps: float) -> dict[str, np.ndarray]:
    """Mouth factors at frame times (i + 0.5) / fps: frame i shows the middle of its audio window."""
    grid = np.arange(len(weights)) / rate_hz
    times = (np.arange(n_frames) + 0.5) / fps
    out = {}
    for key, attr in zip(MOUTH_KEYS, ("open", "width", "round"), strict=True):
        out[key] = np.interp(times, grid, weights @ targets(attr))
    return out
