"""FID (lower is better), one value per set of clips: GT frames vs predicted frames.

State per side: feature moments (count, sum, sum of outer products; float64), so shards merge
exactly. A single clip's state keeps its raw feature rows (small; 5 x 2048 in the eat protocol)
and becomes moments when merged. Settings:
- ``backbone``: ``torchvision_eat`` (EAT/EDTalk: ImageNet Inception, Mixed_7c pool, BGR quirk),
  ``pytorch_fid`` (canonical TF-Inception port), or a synthtalk judge embedder.
- ``frames_per_video``: 5 (EAT: frames paired by linspace, then 5 evenly spaced pairs) or None
  (all frames of each side, pytorch-fid/Wav2Lip style).
- ``crop``/``size``: EAT uses 128 x 128 aligned crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import ClipFailure, Metric
from eval.metrics.frames import check_crop
from eval.metrics.functional.fid import empty_moments, frechet_distance, mean_cov, merge_moments, moments

_BACKBONE_WEIGHTS = {
    "pytorch_fid": ("pytorch_fid_inception",),
    "torchvision_eat": ("torchvision_inception_v3",),
}


@dataclass(frozen=True)
class FIDSettings:
    backbone: str = "pytorch_fid"
    dims: int = 2048  # pytorch_fid only: 64 | 192 | 768 | 2048
    frames_per_video: int | None = None
    crop: str = "none"
    size: int | None = None
    pairing: str = "linspace"
    max_length_diff: int | None = None

    def __post_init__(self) -> None:
        check_crop(self.crop, self.size)


def _as_moments(side_state: dict) -> dict:
    return moments(side_state["rows"]) if "rows" in side_state else side_state


@METRICS.register("fid")
class FID(Metric):
    id = "fid"
    label = "FID"
    higher_is_better = False
    version = "1"
    weights = ("pytorch_fid_inception", "torchvision_inception_v3")
    Settings = FIDSettings

    def weights_needed(self) -> tuple[str, ...]:
        return _BACKBONE_WEIGHTS.get(self.settings.backbone, ())

    def _indices(self, ctx) -> tuple[tuple | None, tuple | None]:
        s = self.settings
        if s.frames_per_video is None:
            if s.max_length_diff is not None:
                ctx.pair_indices(s.pairing, s.max_length_diff)  # only for the length check
            return None, None
        gi, pi = ctx.pair_indices(s.pairing, s.max_length_diff)
        k = min(s.frames_per_video, len(gi))
        pick = np.linspace(0, len(gi), k, endpoint=False).astype(np.int64)
        return tuple(int(i) for i in gi[pick]), tuple(int(i) for i in pi[pick])

    def clip_state(self, ctx) -> dict:
        s = self.settings
        options = (("dims", s.dims),) if s.backbone == "pytorch_fid" else ()
        state = {}
        for side, idx in zip(("gt", "pred"), self._indices(ctx), strict=True):
            rows = ctx.feature(
                "embedding", side, backbone=s.backbone, crop=s.crop, size=s.size, indices=idx, options=options
            )
            if len(rows) == 0:
                raise ClipFailure(f"fid: no frames on the {side} side")
            state[side] = {"rows": rows}
        return state

    def empty_state(self) -> dict:
        return {"gt": empty_moments(), "pred": empty_moments()}

    def merge(self, a: dict, b: dict) -> dict:
        return {side: merge_moments(_as_moments(a[side]), _as_moments(b[side])) for side in ("gt", "pred")}

    def compute(self, state: dict) -> dict:
        gt, pred = _as_moments(state["gt"]), _as_moments(state["pred"])
        if min(gt["n"], pred["n"]) < 2:
            return {"value": None, "n": pred["n"], "spread": None, "n_gt": gt["n"]}
        value = frechet_distance(*mean_cov(gt), *mean_cov(pred))
        return {"value": value, "n": pred["n"], "spread": None, "n_gt": gt["n"]}

    def clip_value(self, state: dict) -> None:
        return None  # FID only exists for a set of clips
