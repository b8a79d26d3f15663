"""M-LMD and F-LMD (lower is better): landmark distance on the mouth (20 points) and the whole face
(68 points), EAT convention: per-set centroid subtraction, frames paired by linspace, frames
without a detection on either side skipped, per-video value, mean over videos. Units are pixels
of the frames the landmarks are detected on (EAT: 128 x 128 aligned crops), of the GT's frames when
the prediction has another resolution (``eval.metrics.frames.paired_landmarks``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import ClipFailure, MeanMetric
from eval.metrics.frames import check_crop, paired_landmarks
from eval.metrics.functional.lmd import video_lmd


@dataclass(frozen=True)
class LMDSettings:
    landmarks: str = "dlib68"  # dlib68 | dlib68_eat (EAT) | fan | a synthtalk judge
    centering: str = "per_set_centroid"  # per_set_centroid (EAT) | none
    crop: str = "none"  # none | eat_frame_align (see eval/backbones/align.py)
    size: int | None = None  # EAT: 128
    pairing: str = "linspace"
    max_length_diff: int | None = None

    def __post_init__(self) -> None:
        check_crop(self.crop, self.size)


class LandmarkDistance(MeanMetric):
    """Shared implementation; ``region`` selects the point set."""

    region: str
    higher_is_better = False
    version = "2"  # 2: a prediction of another resolution is measured in GT pixels
    Settings = LMDSettings

    def weights_needed(self) -> tuple[str, ...]:
        return ("fan_2dfan4", "s3fd") if self.settings.landmarks == "fan" else ()

    def item_values(self, ctx) -> np.ndarray:
        s = self.settings
        gt, pred = paired_landmarks(ctx, s.landmarks, s.crop, s.size, s.pairing, s.max_length_diff)
        value, n = video_lmd(gt, pred, self.region, s.centering)
        if value is None:
            raise ClipFailure(f"{self.id}: no frame with a face on both sides ({s.landmarks})")
        return np.array([value])


@METRICS.register("m_lmd")
class MouthLandmarkDistance(LandmarkDistance):
    id = "m_lmd"
    label = "M-LMD"
    region = "mouth"


@METRICS.register("f_lmd")
class FaceLandmarkDistance(LandmarkDistance):
    id = "f_lmd"
    label = "F-LMD"
    region = "face"
