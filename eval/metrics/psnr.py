"""PSNR (dB, higher is better): skimage's per-frame PSNR on uint8, pooled over frames (EAT) or
averaged per video first.

Identical frames: PSNR is +inf (skimage; EAT's np.mean would then print inf). ``identical="inf"``
keeps that (a GT-vs-GT score is +inf and the report prints it as the paper's GT row does);
``identical="exclude"`` averages only the finite frames and reports how many were identical
(``n_inf`` in the result).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import MeanMetric, compute_mean_state
from eval.metrics.frames import FramePairing, paired_frames
from eval.metrics.functional.psnr import frame_psnr


@dataclass(frozen=True)
class PSNRSettings(FramePairing):
    pooling: str = "frames"  # frames: mean over all frames of all videos (EAT) | videos
    identical: str = "inf"  # inf | exclude


@METRICS.register("psnr")
class PSNR(MeanMetric):
    id = "psnr"
    label = "PSNR"
    higher_is_better = True
    version = "1"
    Settings = PSNRSettings

    def __init__(self, **settings):
        super().__init__(**settings)
        if self.settings.pooling not in ("frames", "videos"):
            raise ValueError(f"psnr pooling must be frames or videos, not {self.settings.pooling!r}")
        if self.settings.identical not in ("inf", "exclude"):
            raise ValueError(f"psnr identical must be inf or exclude, not {self.settings.identical!r}")

    def mean_over(self) -> str:
        return self.settings.pooling

    def item_values(self, ctx) -> np.ndarray:
        gt, pred = paired_frames(ctx, self.settings)
        values = frame_psnr(gt, pred)
        if self.settings.pooling == "videos" and self.settings.identical == "exclude":
            finite = values[np.isfinite(values)]
            return finite if finite.size else values  # all identical: stays +inf (n_inf counts it)
        return values

    def compute(self, state: dict) -> dict:
        return compute_mean_state(state, exclude_inf=self.settings.identical == "exclude")
