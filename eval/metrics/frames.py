"""Paired GT / predicted frames for the full-reference image metrics (PSNR, SSIM, L1, LPIPS).

Both sides go through the same ``crop`` feature (memoised, so PSNR and SSIM share it), then are
paired with ``ctx.pair_indices`` (EAT's linspace pairing by default). If the two sides still
differ in size (e.g. GT 512 px, prediction 256 px, crop ``none`` without ``size``), the
prediction is resized to the GT size with cv2 INTER_AREA / INTER_LINEAR. Sides of different
shape (a 128 x 100 prediction of 128 x 128 GT) are a ClipFailure: stretching would compare a face
cropped another way, and the metrics would score the crop, not the method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.context import ClipContext
from eval.metrics.base import ClipFailure


@dataclass(frozen=True)
class FramePairing:
    """How frames are cropped and paired (shared settings of the image metrics)."""

    crop: str = "none"  # none | eat_align (see eval/backbones/align.py)
    size: int | None = None  # crop size in pixels (None: as decoded)
    pairing: str = "linspace"  # linspace (EAT) | truncate
    max_length_diff: int | None = None  # ClipFailure when T_gt and T_pred differ by more


def paired_frames(ctx: ClipContext, p: FramePairing) -> tuple[np.ndarray, np.ndarray]:
    """(gt, pred) uint8 (N, H, W, 3) arrays of the same shape."""
    gi, pi = ctx.pair_indices(p.pairing, p.max_length_diff)
    gt = ctx.feature("crop", "gt", kind=p.crop, size=p.size)[gi]
    pred = ctx.feature("crop", "pred", kind=p.crop, size=p.size)[pi]
    if gt.shape[1:] != pred.shape[1:]:
        import cv2

        h, w = gt.shape[1:3]
        if abs(pred.shape[2] * h - pred.shape[1] * w) > 0.01 * pred.shape[1] * w:
            raise ClipFailure(
                f"prediction frames are {pred.shape[2]}x{pred.shape[1]} and GT {w}x{h} (width x height): "
                "another aspect ratio, so not the same crop; crop the prediction as the GT is cropped"
            )
        interp = cv2.INTER_AREA if pred.shape[1] > h else cv2.INTER_LINEAR
        pred = np.stack([cv2.resize(f, (w, h), interpolation=interp) for f in pred])
    return gt, pred
