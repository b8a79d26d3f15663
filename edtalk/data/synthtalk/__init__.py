"""synthtalk: the built-in procedural talking-head dataset, with ground truth for every factor.

Command line::

    python -m edtalk.data.synthtalk --out data/synthtalk --preset tiny --seed 0 [--workers N]

Public API (for judges, training and tests):

- ``sample_identity(rng) -> dict``: one person's appearance (face shape, skin, eyes, brows, nose,
  lips, hair, background, voice pitch); ``identity_params(seed, index)`` is identity ``index`` of a
  generated dataset (``st{index:03d}``).
- ``expression_params(emotion, level, expressivity=1.0) -> dict``: MEAD emotion x level 1..3 as
  action amounts (brows, lids, cheeks, lip corners, contempt asymmetry ...).
- ``render_frame(identity_params, factors_at_t, expression_params, size) -> (image, landmarks)``:
  uint8 (size, size, 3) RGB and (68, 2) iBUG landmarks in pixels. ``factors_at_t`` holds yaw, pitch,
  roll (degrees), tx, ty (fraction of the image), scale, mouth_open, mouth_width, mouth_round and
  optionally blink.
- ``make_clip(identity, emotion, level, rng, size=128, ..., render=True) -> SynthClip``: one clip in
  memory (factors, landmarks, viseme timeline, transcript, 16 kHz speech, and frames unless
  ``render=False``); unlimited fresh training data.
- ``generate(out, preset="tiny", seed=0, workers=None) -> card``: write a dataset (layout in
  ``card.LAYOUT``; presets in ``presets.PRESETS``); a finished one of the same settings is kept
  (``generate.ensure_dataset`` also says whether it wrote anything).

Modules, one job each: identity (appearance sampling), expression (emotion prototypes), template
(3D 68-point face + dense contours), render (pose, projection, painting), visemes (transcript ->
coarticulated viseme weights), factors (pose motion, blinks, mouth tracks), audio (source-filter
speech), transcripts (sentences per emotion), clip (one clip in memory), generate (dataset writer),
card (card + contact sheet), files (atomic writes), presets.
"""

from edtalk.data.synthtalk.clip import SynthClip, make_clip
from edtalk.data.synthtalk.expression import EXPRESSION_KEYS, expression_params
from edtalk.data.synthtalk.factors import FACTOR_KEYS
from edtalk.data.synthtalk.generate import generate, identity_params
from edtalk.data.synthtalk.identity import sample_identity
from edtalk.data.synthtalk.presets import PRESETS
from edtalk.data.synthtalk.render import render_frame

__all__ = [
    "EXPRESSION_KEYS",
    "FACTOR_KEYS",
    "PRESETS",
    "SynthClip",
    "expression_params",
    "generate",
    "identity_params",
    "make_clip",
    "render_frame",
    "sample_identity",
]
