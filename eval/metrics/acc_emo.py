"""Acc_emo (higher is better, %): video-level top-1 emotion accuracy of the generated video against
the clip's ground-truth emotion label (``Clip.emotion``), EAT's evaluation_eat convention.

``classifier``:
* ``emotion_fan`` (eat, canonical): the 8-class MEAD Emotion-FAN with relation attention on dlib
  face chips at 224 (eval/backbones/emotion_fan.py); the video's class = argmax of the softmax of
  the relation-attention logits;
* ``synthtalk_face_judge`` (synthtalk): the face judge's emotion head (eval/backbones/judges.py,
  ``ctx.feature("judge_face", side)["emotion"]``); the video's class = argmax of the
  frame-averaged logits, as ``disentangle_emotion`` does.

State: {correct, count} (adds across shards). Per clip the value is 1 (correct) or 0.
Acc_emo does not apply to the clips of a dataset without emotion labels (HDTF, LRW, VoxCeleb2,
folder: ``not_applicable``). A clip of a labelled dataset (its reader's ``labels_every_clip``) without
a label, with a label that is not one of ``EMOTIONS`` or without a face fails with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edtalk.data.clip import EMOTIONS
from edtalk.data.readers import READERS
from edtalk.registry import Registry
from eval.metrics import METRICS
from eval.metrics.base import ClipFailure, Metric
from eval.metrics.functional.acc_emo import AGGREGATIONS, accuracy_percent, video_correct

FACE_JUDGE = "synthtalk_face_judge"
NO_LABELS = "the dataset has no emotion labels"

VIDEO_EMOTION: Registry[Callable[..., np.ndarray]] = Registry("video emotion classifier")
"""classifier name -> ``scores(ctx, side, settings) -> (8,)`` in ``EMOTIONS`` order."""


@VIDEO_EMOTION.register("emotion_fan")
def _emotion_fan_scores(ctx, side: str, settings) -> np.ndarray:
    return ctx.feature("emotion_fan_video", side, aggregation=settings.aggregation)["scores"]


@VIDEO_EMOTION.register(FACE_JUDGE)
def _judge_scores(ctx, side: str, settings) -> np.ndarray:
    logits = np.asarray(ctx.feature("judge_face", side)["emotion"], np.float64)
    if logits.ndim != 2 or len(logits) == 0:
        raise ClipFailure(f"clip {ctx.clip.id}: the face judge gave no emotion logits")
    return logits.mean(0)


@dataclass(frozen=True)
class AccEmoSettings:
    classifier: str = "emotion_fan"  # emotion_fan | synthtalk_face_judge
    aggregation: str = "eval_code"  # Emotion-FAN pooling: eval_code (EAT/published) | paper
    side: str = "pred"  # the video that is classified (pred = the method's output)


@METRICS.register("acc_emo")
class EmotionAccuracy(Metric):
    id = "acc_emo"
    label = "Acc_emo"
    higher_is_better = True
    version = "1"
    weights = ("emotion_fan_mead8",)
    Settings = AccEmoSettings

    def __init__(self, **settings) -> None:
        super().__init__(**settings)
        s = self.settings
        if s.classifier not in VIDEO_EMOTION:
            raise ValueError(f"acc_emo: unknown classifier {s.classifier!r}; known: {VIDEO_EMOTION.names()}")
        if s.aggregation not in AGGREGATIONS:
            raise ValueError(f"acc_emo: aggregation must be one of {AGGREGATIONS}, got {s.aggregation!r}")

    def weights_needed(self) -> tuple[str, ...]:
        return self.weights if self.settings.classifier == "emotion_fan" else (self.settings.classifier,)

    def not_applicable(self, clip) -> str | None:
        labelled = clip.dataset in READERS and READERS.get(clip.dataset).labels_every_clip
        if clip.emotion is None and not labelled:
            return NO_LABELS
        return None

    def empty_state(self) -> dict:
        return {"correct": 0, "count": 0}

    def clip_state(self, ctx) -> dict:
        emotion = ctx.clip.emotion
        if emotion is None:
            raise ClipFailure(f"clip {ctx.clip.id}: no emotion label (Acc_emo needs one)")
        if emotion not in EMOTIONS:
            raise ClipFailure(f"clip {ctx.clip.id}: emotion {emotion!r} is not one of {EMOTIONS}")
        s = self.settings
        scores = VIDEO_EMOTION.get(s.classifier)(ctx, s.side, s)
        return {"correct": int(video_correct(scores, EMOTIONS.index(emotion))), "count": 1}

    def merge(self, a: dict, b: dict) -> dict:
        return {"correct": a["correct"] + b["correct"], "count": a["count"] + b["count"]}

    def compute(self, state: dict) -> dict:
        value, spread = accuracy_percent(state["correct"], state["count"])
        return {"value": value, "n": state["count"], "spread": spread, "correct": state["correct"]}

    def clip_value(self, state: dict) -> float | None:
        """1.0 if the clip's emotion was recognised, else 0.0."""
        return float(state["correct"]) / state["count"] if state["count"] else None
