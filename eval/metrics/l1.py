"""L1 (lower is better): mean |pred - gt| on the [0, 1] scale. ``pooling="videos"`` (LIA: per-video
mean, then mean over videos, the default) or ``"frames"`` (FOMM: all frames pooled)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import MeanMetric
from eval.metrics.frames import FramePairing, paired_frames
from eval.metrics.functional.l1 import frame_l1


@dataclass(frozen=True)
class L1Settings(FramePairing):
    pooling: str = "videos"


@METRICS.register("l1")
class L1(MeanMetric):
    id = "l1"
    label = "L1"
    higher_is_better = False
    version = "1"
    Settings = L1Settings

    def mean_over(self) -> str:
        return self.settings.pooling

    def item_values(self, ctx) -> np.ndarray:
        gt, pred = paired_frames(ctx, self.settings)
        return frame_l1(gt, pred)
