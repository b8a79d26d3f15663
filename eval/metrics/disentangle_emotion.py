"""disentangle_emotion (lower is better): video-level emotion error rate of the generated clip,
judged by the synthtalk face judge (argmax of frame-averaged logits), against the emotion of the
clip that drove the expression (its sidecar; ``clip.extra["drivers"]["expression"]`` for
cross-driving). Mean over videos = share of videos showing the wrong emotion."""

from __future__ import annotations

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import MeanMetric
from eval.metrics.functional.disentangle import emotion_error, no_ground_truth


@METRICS.register("disentangle_emotion")
class DisentangleEmotion(MeanMetric):
    id = "disentangle_emotion"
    label = "Emotion err"
    higher_is_better = False
    version = "1"
    weights = ("synthtalk_face_judge",)

    def not_applicable(self, clip) -> str | None:
        return no_ground_truth(clip.sidecar, clip.extra, "expression")

    def item_values(self, ctx) -> np.ndarray:
        logits = ctx.feature("judge_face", "pred")["emotion"]
        label = ctx.feature("driving_truth", "gt", factor="expression")["emotion"]
        return np.array([emotion_error(logits, label)])
