"""Face crops shared by the image metrics: ``ctx.feature("crop", side, kind=..., size=...)``.

Kinds:
- ``none``: the frames as they are, resized to ``size`` x ``size`` when ``size`` is given
  (synthtalk and pre-cropped datasets).
- ``eat_align``: EAT-style aligned face crops (128 x 128 for PSNR/SSIM/LMD/FID in the ``eat``
  protocol; 224 x 224 for the sync crops). One similarity transform per video, fitted (least
  squares, Umeyama) from the median over frames of five landmark anchors (eye centres, nose tip,
  mouth corners) to the standard 5-point face template (ArcFace's 112 px template scaled to
  ``size`` with ``margin``). A single per-video transform keeps the crop steady like EAT's
  preprocessed ``align_crop`` videos. This reproduces EAT's *kind* of crop, not its bytes: EAT
  ships pre-cropped test videos, so users of the ``eat`` protocol on MEAD should score those.
"""

from __future__ import annotations

import numpy as np

from eval.backbones import BACKBONES  # noqa: F401  (package import keeps registration order)
from eval.context import FEATURES, ClipContext
from eval.metrics.base import ClipFailure

# ArcFace / InsightFace 5-point template for 112 x 112 crops (eyes, nose tip, mouth corners).
FIVE_POINT_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


def five_points(lmk68: np.ndarray) -> np.ndarray:
    """(…, 5, 2) anchors from iBUG-68 landmarks: eye centres (36-41, 42-47), nose tip 30,
    mouth corners 48 and 54. Image-left eye first, as in the template."""
    return np.stack(
        [
            lmk68[..., 36:42, :].mean(-2),
            lmk68[..., 42:48, :].mean(-2),
            lmk68[..., 30, :],
            lmk68[..., 48, :],
            lmk68[..., 54, :],
        ],
        axis=-2,
    )


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2 x 3 matrix of the least-squares similarity (rotation, uniform scale, translation)
    mapping ``src`` (N, 2) to ``dst`` (N, 2) (Umeyama 1991, no reflection)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / (s**2).sum(1).mean()
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def template(size: int, margin: float = 0.0) -> np.ndarray:
    """The 5-point template for a ``size`` crop; ``margin`` > 0 zooms out (fraction of size)."""
    pts = FIVE_POINT_TEMPLATE_112 / 112.0
    pts = 0.5 + (pts - 0.5) / (1.0 + 2.0 * margin)
    return pts * size


SIDE_NAMES = {"gt": "ground-truth video", "pred": "generated video"}


def align_video(
    frames: np.ndarray, lmk68: np.ndarray, size: int, margin: float, side: str = "pred"
) -> np.ndarray:
    """Warp every frame with one similarity fitted on the median anchors of the valid frames."""
    import cv2

    valid = ~np.isnan(lmk68).any(axis=(1, 2))
    if not valid.any():
        h, w = frames.shape[1:3]
        small = " (dlib's detector, without upsampling as in EAT, finds faces of about 80 px and up)"
        raise ClipFailure(
            f"eat_align crop: no face found in any frame of the {SIDE_NAMES.get(side, side)} "
            f"({w}x{h} px){small if min(h, w) < 160 else ''}"
        )
    anchors = np.median(five_points(lmk68[valid]), axis=0)
    m = similarity_transform(anchors, template(size, margin))
    return np.stack(
        [
            cv2.warpAffine(f, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            for f in frames
        ]
    )


@FEATURES.register("crop")
def crop_feature(
    ctx: ClipContext,
    side: str,
    kind: str = "none",
    size: int | None = None,
    landmarks: str = "dlib68",
    margin: float = 0.0,
) -> np.ndarray:
    """uint8 (T, size, size, 3) crops of one side (see module docstring for ``kind``)."""
    if kind == "none":
        return ctx.feature("resized", side, size=size)
    if kind == "eat_align":
        if size is None:
            raise ValueError("eat_align crops need a size (128 or 224)")
        lmk = ctx.feature("landmarks", side, backend=landmarks, crop="none", size=None)
        return align_video(ctx.frames(side), lmk, size, margin, side)
    raise ValueError(f"unknown crop kind {kind!r}; known: none, eat_align")
