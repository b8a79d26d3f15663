"""Identities: the per-person appearance parameters, sampled from a seeded generator.

An identity is a plain JSON-able dict (it goes into every sidecar as ``identity_params``):
face shape, skin tone, eye / brow / nose / lip geometry and colours, hair style and colour,
background and clothing colours, the voice's base pitch, and how expressive the person is.
All lengths are in template units (face half-width at the cheekbones is about 1).
"""

from __future__ import annotations

import numpy as np

HAIR_STYLES = ("short", "fringe", "long", "volume", "receding")

# Skin tones from light to deep (RGB); a person's tone is a point on this polyline.
_SKIN_TONES = np.array(
    [[246, 214, 190], [232, 190, 160], [214, 164, 126], [188, 134, 96], [150, 100, 68], [104, 68, 46]],
    dtype=np.float64,
)
_IRIS_COLOURS = np.array(
    [
        [82, 52, 30],
        [110, 70, 40],
        [60, 40, 28],
        [70, 110, 150],
        [80, 120, 90],
        [120, 100, 60],
        [100, 110, 120],
    ],
    dtype=np.float64,
)
_HAIR_COLOURS = np.array(
    [
        [28, 22, 20],
        [60, 40, 28],
        [100, 68, 40],
        [150, 110, 70],
        [200, 170, 110],
        [130, 60, 30],
        [120, 120, 125],
    ],
    dtype=np.float64,
)


def _rgb(values: np.ndarray) -> list[int]:
    return [int(round(float(v))) for v in np.clip(values, 0, 255)]


def _skin(tone: float) -> np.ndarray:
    pos = tone * (len(_SKIN_TONES) - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, len(_SKIN_TONES) - 1)
    return _SKIN_TONES[lo] * (1 - (pos - lo)) + _SKIN_TONES[hi] * (pos - lo)


def sample_identity(rng: np.random.Generator) -> dict:
    """Draw one identity's appearance parameters (a JSON-able dict) from ``rng``."""
    u = rng.uniform
    tone = float(u(0.0, 1.0))
    skin = _skin(tone) * u(0.96, 1.04, size=3)
    lips = skin * np.array([0.82, 0.55, 0.55]) + np.array([30.0, 0.0, 5.0])
    hair = _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))] * u(0.85, 1.15)
    bg_hue = rng.uniform(0, 1, size=3)
    background = 70 + 120 * bg_hue * np.array([0.9, 0.95, 1.0])
    shirt = rng.uniform(30, 200, size=3)
    return {
        "face_width": float(u(0.88, 1.02)),  # cheekbone half-width
        "face_length": float(u(0.92, 1.10)),  # vertical stretch of the lower face
        "jaw_square": float(u(0.55, 1.0)),  # < 1 squarer jaw, 1 oval
        "chin_taper": float(u(0.0, 0.25)),  # narrower chin (heart-shaped face)
        "forehead_height": float(u(1.25, 1.5)),
        "skin_tone": tone,
        "skin": _rgb(skin),
        "eye_spacing": float(u(0.38, 0.45)),  # x of each eye centre
        "eye_size": float(u(0.19, 0.23)),  # eye half-width
        "eye_height": float(u(0.34, 0.46)),  # eye opening height / width
        "eye_tilt": float(u(-0.03, 0.05)),  # outer corner raise (canthal tilt)
        "eye_y": float(u(-0.34, -0.26)),
        "iris": _rgb(_IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))] * u(0.9, 1.1)),
        "iris_ratio": float(u(0.36, 0.42)),  # iris radius / eye half-width
        "brow_thickness": float(u(0.05, 0.09)),
        "brow_arch": float(u(0.02, 0.08)),
        "brow_gap": float(u(0.12, 0.18)),  # brow height above the eye
        "brow_colour": _rgb(hair * u(0.75, 0.95)),
        "nose_length": float(u(0.16, 0.28)),  # y of the nose tip
        "nose_width": float(u(0.15, 0.23)),
        "nose_depth": float(u(0.25, 0.42)),
        "mouth_width": float(u(0.28, 0.36)),  # mouth half-width
        "mouth_y": float(u(0.56, 0.66)),
        "upper_lip": float(u(0.045, 0.08)),
        "lower_lip": float(u(0.06, 0.11)),
        "lips": _rgb(lips * u(0.9, 1.05)),
        "hair_style": HAIR_STYLES[int(rng.integers(len(HAIR_STYLES)))],
        "hair": _rgb(hair),
        "background": _rgb(background),
        "shirt": _rgb(shirt),
        "voice_f0": float(u(95.0, 230.0)),  # base pitch of the voice, Hz
        "expressivity": float(u(0.85, 1.15)),  # scales every expression parameter
    }
