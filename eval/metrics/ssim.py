"""SSIM (higher is better): skimage's ``structural_similarity(channel_axis=-1)`` per frame on uint8,
pooled over all frames (EAT) or averaged per video first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import ClipFailure, MeanMetric
from eval.metrics.frames import FramePairing, paired_frames
from eval.metrics.functional.ssim import check_win_size, frame_ssim


@dataclass(frozen=True)
class SSIMSettings(FramePairing):
    pooling: str = "frames"  # frames (EAT) | videos
    win_size: int = 7

    def __post_init__(self) -> None:
        super().__post_init__()
        check_win_size(self.win_size)  # when the metric is built, not at the first clip


@METRICS.register("ssim")
class SSIM(MeanMetric):
    id = "ssim"
    label = "SSIM"
    higher_is_better = True
    version = "1"
    Settings = SSIMSettings

    def mean_over(self) -> str:
        return self.settings.pooling

    def item_values(self, ctx) -> np.ndarray:
        gt, pred = paired_frames(ctx, self.settings)
        if min(gt.shape[1:3]) < self.settings.win_size:  # this clip's problem, not a bug: recorded, cached
            raise ClipFailure(
                f"ssim: frames of {gt.shape[2]}x{gt.shape[1]} px are smaller than the SSIM window "
                f"({self.settings.win_size} px)"
            )
        return frame_ssim(gt, pred, win_size=self.settings.win_size)
