"""Expression parameters: MEAD's 8 emotions x 3 intensity levels as facial action amounts.

Each emotion is a prototype (its level-3 amounts of a few action-unit-like parameters, in
[-1, 1]); level k scales it by ``LEVEL_SCALE[k]`` and the identity's ``expressivity``.
The renderer reads these names; the parameters are constant over a clip.
"""

from __future__ import annotations

from edtalk.data.clip import EMOTIONS

EXPRESSION_KEYS = (
    "brow_inner_raise",  # + inner brow ends up (sad, fear, surprise), - pulled down (anger)
    "brow_outer_raise",  # + outer brow ends up (surprise), - down (sad)
    "brow_lower",  # whole brow lowered (anger, disgust)
    "brow_squeeze",  # brows pulled together, frown lines (anger, fear)
    "upper_lid_raise",  # + eyes wide (surprise, fear), - drooping lids (sad, contempt)
    "lower_lid_raise",  # lower lid pushed up, squint (happy, anger, disgust)
    "cheek_raise",  # cheeks up, blush, deeper nasolabial folds (happy, disgust)
    "lip_corner_pull",  # + smile, - corners down (sad)
    "lip_stretch",  # lips stretched sideways (fear)
    "upper_lip_raise",  # upper lip lifted, shows upper teeth (disgust)
    "lip_press",  # thin pressed lips (anger)
    "jaw_drop",  # mouth falls open (surprise)
    "nose_wrinkle",  # wrinkles on the nose bridge, nostrils up (disgust)
    "asymmetry",  # one-sided corner pull and brow raise on the image-right side (contempt)
)

LEVEL_SCALE = {1: 0.45, 2: 0.75, 3: 1.0}

# Level-3 prototypes (unlisted keys are 0). Neutral is all zeros at every level.
_PROTOTYPES: dict[str, dict[str, float]] = {
    "angry": {
        "brow_inner_raise": -0.8,
        "brow_lower": 1.0,
        "brow_squeeze": 1.0,
        "upper_lid_raise": 0.35,
        "lower_lid_raise": 0.6,
        "lip_press": 1.0,
        "lip_corner_pull": -0.35,
        "nose_wrinkle": 0.3,
    },
    "contempt": {
        "asymmetry": 1.0,
        "upper_lid_raise": -0.35,
        "brow_outer_raise": 0.1,
        "lip_press": 0.3,
    },
    "disgusted": {
        "upper_lip_raise": 1.0,
        "nose_wrinkle": 1.0,
        "brow_lower": 0.7,
        "brow_squeeze": 0.5,
        "lower_lid_raise": 0.7,
        "cheek_raise": 0.5,
        "lip_corner_pull": -0.55,
        "upper_lid_raise": -0.25,
    },
    "fear": {
        "brow_inner_raise": 1.0,
        "brow_outer_raise": 0.35,
        "brow_squeeze": 0.7,
        "upper_lid_raise": 1.0,
        "lower_lid_raise": 0.3,
        "lip_stretch": 1.0,
        "jaw_drop": 0.3,
        "lip_corner_pull": -0.25,
    },
    "happy": {
        "lip_corner_pull": 1.0,
        "cheek_raise": 1.0,
        "lower_lid_raise": 0.65,
        "brow_outer_raise": 0.1,
        "upper_lip_raise": 0.5,
        "jaw_drop": 0.3,
    },
    "neutral": {},
    "sad": {
        "brow_inner_raise": 1.0,
        "brow_outer_raise": -0.7,
        "brow_squeeze": 0.5,
        "upper_lid_raise": -0.6,
        "lip_corner_pull": -1.0,
        "lip_press": 0.2,
    },
    "surprised": {
        "brow_inner_raise": 1.0,
        "brow_outer_raise": 1.0,
        "upper_lid_raise": 1.0,
        "jaw_drop": 0.55,
        "lip_stretch": -0.25,
    },
}


def expression_params(emotion: str, level: int, expressivity: float = 1.0) -> dict[str, float]:
    """The expression parameters of ``emotion`` at intensity ``level`` (1..3) for one person."""
    if emotion not in _PROTOTYPES:
        raise ValueError(f"unknown emotion {emotion!r}; expected one of {', '.join(EMOTIONS)}")
    if level not in LEVEL_SCALE:
        raise ValueError(f"level must be 1, 2 or 3, got {level!r}")
    gain = LEVEL_SCALE[level] * expressivity
    proto = _PROTOTYPES[emotion]
    return {key: round(float(proto.get(key, 0.0)) * gain, 4) for key in EXPRESSION_KEYS}


def neutral_expression() -> dict[str, float]:
    """All expression parameters at zero."""
    return dict.fromkeys(EXPRESSION_KEYS, 0.0)
