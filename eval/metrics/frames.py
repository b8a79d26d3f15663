"""Paired GT / predicted frames and landmarks for the full-reference metrics (PSNR, SSIM, L1, LPIPS;
M-LMD, F-LMD, AKD).

Both sides go through the same ``crop`` feature (memoised, so PSNR and SSIM share it), then are
paired with ``ctx.pair_indices`` (EAT's linspace pairing by default). If the two sides still
differ in size (e.g. GT 512 px, prediction 256 px, crop ``none`` without ``size``), everything is
compared at the GT size: ``paired_frames`` resizes the prediction to it with cv2 INTER_AREA /
INTER_LINEAR, and ``paired_landmarks`` scales the prediction's landmarks (detected on its own
frames, so the face judge's one pass per side is kept) by the width and height ratios, so that
landmark distances are in GT pixels. Sides of different shape (a 128 x 100 prediction of 128 x 128
GT) are a ClipFailure: stretching would compare a face cropped another way, and the metrics would
score the crop, not the method. ``eval.run`` fails such a clip as a whole before any metric
(``eval.scoring.geometry_problem``), so that the metrics that resize whatever they get (FID, the judges)
do not score it either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.context import ClipContext
from eval.metrics.base import ClipFailure

# crop kind -> its fixed size (None: any); the crops are made in eval/backbones/align.py
CROP_KINDS: dict[str, int | None] = {"none": None, "eat_frame_align": 128, "pcavs_align": 224}


def check_crop(crop: str, size: int | None) -> None:
    """ValueError (when a metric is built, before any clip) for an unknown crop kind or a size
    the kind does not make."""
    if crop not in CROP_KINDS:
        raise ValueError(f"unknown crop kind {crop!r}; known: {', '.join(CROP_KINDS)}")
    if CROP_KINDS[crop] is not None and size not in (None, CROP_KINDS[crop]):
        raise ValueError(f"{crop} crops are {CROP_KINDS[crop]} x {CROP_KINDS[crop]} px, not {size}")


@dataclass(frozen=True)
class FramePairing:
    """How frames are cropped and paired (shared settings of the image metrics)."""

    crop: str = "none"  # none | eat_frame_align | pcavs_align (see eval/backbones/align.py)
    size: int | None = None  # crop size in pixels (None: as decoded)
    pairing: str = "linspace"  # linspace (EAT) | truncate
    max_length_diff: int | None = None  # ClipFailure when T_gt and T_pred differ by more

    def __post_init__(self) -> None:
        check_crop(self.crop, self.size)


def check_same_aspect(gt_hw: tuple[int, int], pred_hw: tuple[int, int]) -> None:
    """ClipFailure when (height, width) ``pred_hw`` is not ``gt_hw`` scaled (1 % tolerance)."""
    (h, w), (ph, pw) = gt_hw, pred_hw
    if abs(pw * h - ph * w) > 0.01 * ph * w:
        raise ClipFailure(
            f"prediction frames are {pw}x{ph} and GT {w}x{h} (width x height): "
            "another aspect ratio, so not the same crop; crop the prediction as the GT is cropped"
        )


def paired_frames(ctx: ClipContext, p: FramePairing) -> tuple[np.ndarray, np.ndarray]:
    """(gt, pred) uint8 (N, H, W, 3) arrays of the same shape."""
    gi, pi = ctx.pair_indices(p.pairing, p.max_length_diff)
    gt = ctx.feature("crop", "gt", kind=p.crop, size=p.size)[gi]
    pred = ctx.feature("crop", "pred", kind=p.crop, size=p.size)[pi]
    if gt.shape[1:] != pred.shape[1:]:
        from edtalk.data.image import resize_frames

        h, w = gt.shape[1:3]
        check_same_aspect((h, w), pred.shape[1:3])
        pred = resize_frames(pred, h, w)
    return gt, pred


def paired_landmarks(
    ctx: ClipContext,
    backend: str,
    crop: str = "none",
    size: int | None = None,
    pairing: str = "linspace",
    max_length_diff: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(gt, pred) float64 (N, 68, 2) landmarks of the paired frames, both in GT pixels.

    With a ``size`` both sides' crops are ``size`` x ``size``; without one, the prediction's
    coordinates are scaled by W_gt / W_pred and H_gt / H_pred when the decoded sizes differ."""
    gi, pi = ctx.pair_indices(pairing, max_length_diff)
    kw = {"backend": backend, "crop": crop, "size": size}
    gt = ctx.feature("landmarks", "gt", **kw)[gi]
    pred = ctx.feature("landmarks", "pred", **kw)[pi]
    if size is None:
        gt_hw = ctx.feature("crop", "gt", kind=crop, size=None).shape[1:3]
        pred_hw = ctx.feature("crop", "pred", kind=crop, size=None).shape[1:3]
        if gt_hw != pred_hw:
            check_same_aspect(gt_hw, pred_hw)
            pred = pred * np.array([gt_hw[1] / pred_hw[1], gt_hw[0] / pred_hw[0]])
    return gt, pred
