"""68-point landmarks of a clip side, by backend: ``ctx.feature("landmarks", side, backend=...)``.

``LANDMARKERS`` maps a backend name to ``detect(frames uint8 (T,H,W,3), device) -> (T, 68, 2)`` float64
pixel coordinates in iBUG order, NaN for frames without a face. Backends: ``dlib68``, and
``dlib68_eat``/``dlib68_eat_crop`` for the ``eat`` protocol (eval/backbones/dlib68.py, offline), ``fan``
(eval/backbones/fan.py, 2DFAN-4 + S3FD), and the synthtalk judges (registered by eval/backbones/judges.py).

``crop``/``size`` select the frames the landmarks are detected on (EAT detects on its 128 x 128
aligned crops), so the coordinates are in that crop's pixels.
"""

from __future__ import annotations

import numpy as np

from edtalk.registry import Registry
from eval.context import FEATURES, ClipContext

LANDMARKERS: Registry = Registry("landmark backend")

MOUTH = slice(48, 68)  # iBUG 68: outer + inner lip (20 points)


@FEATURES.register("landmarks")
def landmarks_feature(
    ctx: ClipContext, side: str, backend: str = "dlib68", crop: str = "none", size: int | None = None
) -> np.ndarray:
    """(T, 68, 2) landmarks of every frame of one side (NaN rows where no face was found)."""
    if backend not in LANDMARKERS:
        import eval.backbones

        eval.backbones.load_all()
    frames = ctx.feature("crop", side, kind=crop, size=size)
    out = np.asarray(LANDMARKERS.get(backend)(frames, ctx.device), dtype=np.float64)
    if out.shape != (len(frames), 68, 2):
        raise RuntimeError(f"landmark backend {backend!r} returned {out.shape}, want ({len(frames)}, 68, 2)")
    return out
