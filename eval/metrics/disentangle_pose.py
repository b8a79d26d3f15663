"""disentangle_pose (lower is better, degrees): mean absolute error of the generated frames' head
pose (yaw, pitch, roll; read by the synthtalk face judge) against the true pose of the clip that
drove the pose (its sidecar; ``clip.extra["drivers"]["pose"]`` for cross-driving).
Per-video mean over frames and axes, then mean over videos."""

from __future__ import annotations

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import MeanMetric
from eval.metrics.functional.disentangle import factor_errors, no_ground_truth


@METRICS.register("disentangle_pose")
class DisentanglePose(MeanMetric):
    id = "disentangle_pose"
    label = "Pose err (deg)"
    higher_is_better = False
    version = "1"
    weights = ("synthtalk_face_judge",)

    def not_applicable(self, clip) -> str | None:
        return no_ground_truth(clip.sidecar, clip.extra, "pose")

    def item_values(self, ctx) -> np.ndarray:
        predicted = ctx.feature("judge_face", "pred")["pose"]
        truth = ctx.feature("driving_truth", "gt", factor="pose")["pose"]
        return factor_errors(predicted, truth)
