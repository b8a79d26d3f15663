"""disentangle_mouth (lower is better): mean absolute error of the generated frames' mouth factors
(open, width, round; read by the synthtalk face judge) against the true factors of the clip that
drove the mouth (its sidecar; ``clip.extra["drivers"]["mouth"]`` for cross-driving).
Per-video mean over frames, then mean over videos."""

from __future__ import annotations

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import MeanMetric
from eval.metrics.functional.disentangle import factor_errors, no_ground_truth


@METRICS.register("disentangle_mouth")
class DisentangleMouth(MeanMetric):
    id = "disentangle_mouth"
    label = "Mouth err"
    higher_is_better = False
    version = "1"
    weights = ("synthtalk_face_judge",)

    def not_applicable(self, clip) -> str | None:
        return no_ground_truth(clip.sidecar, clip.extra, "mouth")

    def item_values(self, ctx) -> np.ndarray:
        predicted = ctx.feature("judge_face", "pred")["mouth"]
        truth = ctx.feature("driving_truth", "gt", factor="mouth")["mouth"]
        return factor_errors(predicted, truth)
