"""AED (lower is better): FOMM's average (squared) Euclidean distance of identity embeddings,
all frames pooled. ``backbone="openface"`` is FOMM's OpenFace nn4.small2 on the 96 x 96 resized
full BGR frame; other embedders from ``eval.backbones.embeddings.EMBEDDERS`` (e.g. a synthtalk
judge) can be named instead."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import MeanMetric
from eval.metrics.functional.pose_eval import frame_aed


@dataclass(frozen=True)
class AEDSettings:
    backbone: str = "openface"  # an EMBEDDERS name (eval/backbones/openface.py)
    crop: str = "none"
    size: int | None = 256
    pairing: str = "truncate"
    max_length_diff: int | None = 0


@METRICS.register("aed")
class AverageEuclideanDistance(MeanMetric):
    id = "aed"
    label = "AED"
    higher_is_better = False
    version = "2"  # 2: setting renamed identity -> backbone (the protocols' name)
    weights = ("openface_nn4_small2",)
    Settings = AEDSettings

    def weights_needed(self) -> tuple[str, ...]:
        return self.weights if self.settings.backbone == "openface" else ()

    def mean_over(self) -> str:
        return "frames"

    def item_values(self, ctx) -> np.ndarray:
        s = self.settings
        gi, pi = ctx.pair_indices(s.pairing, s.max_length_diff)
        kw = {"backbone": s.backbone, "crop": s.crop, "size": s.size}
        e_gt = ctx.feature("embedding", "gt", indices=tuple(int(i) for i in gi), **kw)
        e_pred = ctx.feature("embedding", "pred", indices=tuple(int(i) for i in pi), **kw)
        return frame_aed(e_gt, e_pred)
