"""identity_sim (higher is better): cosine similarity of the synthtalk face judge's identity
embeddings of the generated frames to the identity source (``clip.extra["identity_source"]`` if
given, else the GT clip; ``source_frames="first"`` = its first frame, EDTalk's source image, or
``"all"``). Per-video mean over frames, then mean over videos."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import MeanMetric
from eval.metrics.functional.disentangle import identity_cosine


@dataclass(frozen=True)
class IdentitySimSettings:
    source_frames: str = "first"  # "first" | "all" frames of the identity source


@METRICS.register("identity_sim")
class IdentitySim(MeanMetric):
    id = "identity_sim"
    label = "ID sim"
    higher_is_better = True
    version = "1"
    weights = ("synthtalk_face_judge",)
    Settings = IdentitySimSettings

    def item_values(self, ctx) -> np.ndarray:
        embeddings = ctx.feature("judge_face", "pred")["identity"]
        source = ctx.feature("identity_source", "gt", frames=self.settings.source_frames)
        return identity_cosine(embeddings, source)
