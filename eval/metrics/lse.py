"""LSE-C ("Sync_conf", higher is better) and LSE-D (lower is better) with SyncNet v2.

Per clip: SyncNet confidence / min distance over offsets +-vshift (15 frames) as in
syncnet_python's ``evaluate`` (see eval/metrics/functional/lse.py); reported value = mean over
videos (EAT's Sync_conf). Crops: ``crop="eat_align", size=224`` reproduces EAT's aligned 224
crops without S3FD tracking; ``crop="none", size=224`` resizes already-cropped faces (synthtalk).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import MeanMetric
from eval.metrics.functional.lse import lse


@dataclass(frozen=True)
class LSESettings:
    vshift: int = 15
    crop: str = "none"  # none | eat_align
    size: int = 224
    side: str = "pred"  # pred (the method) | gt (the GT row)


class SyncScore(MeanMetric):
    key: str
    version = "1"
    weights = ("syncnet_v2",)
    Settings = LSESettings

    def item_values(self, ctx) -> np.ndarray:
        s = self.settings
        video, audio = ctx.feature("syncnet", s.side, crop=s.crop, size=s.size)
        return np.array([lse(video, audio, s.vshift)[self.key]])


@METRICS.register("lse_c")
class SyncConfidence(SyncScore):
    id = "lse_c"
    label = "Sync_conf"
    higher_is_better = True
    key = "lse_c"


@METRICS.register("lse_d")
class SyncDistance(SyncScore):
    id = "lse_d"
    label = "LSE-D"
    higher_is_better = False
    key = "lse_d"
