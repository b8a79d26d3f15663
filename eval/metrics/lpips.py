"""LPIPS (lower is better): LPIPS v0.1 AlexNet on [-1, 1] frames; per-video mean over frames, then
mean over videos (LIA's ``evaluation.py``); ``pooling="frames"`` pools all frames instead."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import MeanMetric
from eval.metrics.frames import FramePairing


@dataclass(frozen=True)
class LPIPSSettings(FramePairing):
    pooling: str = "videos"
    net: str = "alex"  # only alex is wired (the paper's Table 5 convention)


@METRICS.register("lpips")
class LPIPS(MeanMetric):
    id = "lpips"
    label = "LPIPS"
    higher_is_better = False
    version = "1"
    weights = ("torchvision_alexnet",)
    Settings = LPIPSSettings

    def __init__(self, **settings):
        super().__init__(**settings)
        if self.settings.net != "alex":
            raise ValueError("lpips: only net='alex' is available")

    def mean_over(self) -> str:
        return self.settings.pooling

    def item_values(self, ctx) -> np.ndarray:
        s = self.settings
        return ctx.feature(
            "lpips_pairs",
            "pred",
            crop=s.crop,
            size=s.size,
            pairing=s.pairing,
            max_length_diff=s.max_length_diff,
        )
