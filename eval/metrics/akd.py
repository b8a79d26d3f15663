"""AKD (lower is better): FOMM's average keypoint distance, all frames pooled over all videos,
landmarks from face-alignment 2DFAN-4 + S3FD (``landmarks="fan"``) on the full frames (in GT pixels
when the prediction has another resolution and ``size`` is None: ``eval.metrics.frames``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import ClipFailure, MeanMetric
from eval.metrics.frames import paired_landmarks
from eval.metrics.functional.pose_eval import frame_akd


@dataclass(frozen=True)
class AKDSettings:
    landmarks: str = "fan"
    crop: str = "none"
    size: int | None = 256
    pairing: str = "truncate"  # FOMM requires equal frame numbers
    max_length_diff: int | None = 0


@METRICS.register("akd")
class AverageKeypointDistance(MeanMetric):
    id = "akd"
    label = "AKD"
    higher_is_better = False
    version = "2"  # 2: a prediction of another resolution is measured in GT pixels (size None)
    weights = ("fan_2dfan4", "s3fd")
    Settings = AKDSettings

    def weights_needed(self) -> tuple[str, ...]:
        return self.weights if self.settings.landmarks == "fan" else ()

    def mean_over(self) -> str:
        return "frames"

    def item_values(self, ctx) -> np.ndarray:
        s = self.settings
        d = frame_akd(*paired_landmarks(ctx, s.landmarks, s.crop, s.size, s.pairing, s.max_length_diff))
        d = d[~np.isnan(d)]
        if d.size == 0:
            raise ClipFailure("akd: no frame with keypoints on both sides")
        return d
