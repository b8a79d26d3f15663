"""LSE-C ("Sync_conf", higher is better) and LSE-D (lower is better).

Per clip: confidence / min distance over audio offsets +-vshift (15 frames) as in syncnet_python's
``evaluate`` (eval/metrics/functional/lse.py: d_i(k) = ||v_i - a_{i+k-vshift}||, D(k) = mean_i,
LSE-D = min_k D(k), LSE-C = median_k D(k) - LSE-D); reported value = mean over videos (EAT's
Sync_conf). The per-window embeddings v_i (lips) and a_i (audio) come from ``backbone``:

- ``syncnet_v2`` (default): SyncNet v2 on 224 x 224 face crops + MFCC windows
  (eval/backbones/syncnet.py). Crops: ``crop="pcavs_align"`` is EAT's PC-AVS-style
  224 crop without S3FD tracking (eval/backbones/align.py; face-alignment landmarks);
  ``crop="none", size=224`` resizes already-cropped faces;
  ``crop="s3fd_track"`` is syncnet_python's ``run_pipeline`` crop (S3FD boxes of one track,
  median-smoothed, padded, 224 x 224; eval/backbones/s3fd_track.py), which always gives 224 crops.
- ``synthtalk_sync_judge``: the synthtalk sync judge (eval/backbones/judges.py, feature
  ``judge_sync``): its lip-window and Wav2Lip-mel audio-window embeddings. The judge cuts its
  own mouth box from the frames as given and resizes it to its ``lip_size``, so only
  ``crop="none"`` is accepted and ``size`` is not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics import METRICS
from eval.metrics.base import ClipFailure, MeanMetric
from eval.metrics.functional.lse import lse

SYNCNET = "syncnet_v2"
SYNC_JUDGE = "synthtalk_sync_judge"
S3FD_WEIGHTS = "syncnet_sfd_face"  # syncnet_python's detectors/s3fd weights (sfd_face.pth)
BACKBONES = (SYNCNET, SYNC_JUDGE)
CROPS = ("none", "pcavs_align", "s3fd_track")


@dataclass(frozen=True)
class LSESettings:
    vshift: int = 15
    crop: str = "none"  # none | pcavs_align | s3fd_track (syncnet_v2); none (judge)
    size: int | None = 224  # crop size for none; pcavs_align and s3fd_track are 224; judge: unused
    side: str = "pred"  # pred (the method) | gt (the GT row)
    backbone: str = SYNCNET  # syncnet_v2 | synthtalk_sync_judge

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"lse backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.crop not in CROPS:
            raise ValueError(f"lse crop must be one of {CROPS}, got {self.crop!r}")
        if self.backbone == SYNC_JUDGE and self.crop != "none":
            raise ValueError(
                f"lse with {SYNC_JUDGE}: crop must be 'none' (the judge cuts its own mouth box), "
                f"got {self.crop!r}"
            )
        if self.crop == "s3fd_track" and self.size not in (None, 224):
            raise ValueError(
                f"lse crop 's3fd_track' is syncnet_python's 224 x 224 crop; got size={self.size}"
            )
        if self.backbone == SYNCNET and self.size not in (None, 224):
            raise ValueError(f"lse with {SYNCNET}: SyncNet reads 224 x 224 crops; got size={self.size}")
        if self.vshift < 1:
            raise ValueError(f"lse vshift must be >= 1, got {self.vshift}")


SYNC_FPS = 25.0  # SyncNet (and the synthtalk sync judge) pair 5 video frames with 0.2 s of audio


def at_sync_rate(fps: float) -> bool:
    """Whether a video at ``fps`` is at the 25 fps LSE's sync networks read."""
    return abs(fps - SYNC_FPS) <= 0.01


def check_sync_rate(ctx, side: str) -> None:
    """ClipFailure unless the scored video is at 25 fps: SyncNet's windows pair 5 frames with 0.2 s of
    audio, so a 30 fps clip compared each window with the wrong stretch of speech (a GT at 30 fps
    scored LSE-C 0.07 where its 25 fps copy gave 0.13), without a word."""
    fps = ctx.fps(side)
    if not at_sync_rate(fps):
        video = ctx.pred_video if side == "pred" and ctx.pred_video is not None else ctx.clip.video
        raise ClipFailure(
            f"{video}: {fps:g} fps; LSE's sync network reads 25 fps video (5 frames against 0.2 s of "
            "audio): resample it to 25 fps"
        )


class SyncScore(MeanMetric):
    key: str
    version = "1"  # state and default numbers unchanged by the backbone / s3fd_track settings
    weights = (SYNCNET, S3FD_WEIGHTS, SYNC_JUDGE)
    Settings = LSESettings

    def weights_needed(self) -> tuple[str, ...]:
        s = self.settings
        if s.backbone == SYNC_JUDGE:
            return (SYNC_JUDGE,)
        if s.crop == "s3fd_track":
            return (SYNCNET, S3FD_WEIGHTS)
        return (SYNCNET, "fan_2dfan4", "s3fd") if s.crop == "pcavs_align" else (SYNCNET,)

    def embeddings(self, ctx) -> tuple[np.ndarray, np.ndarray]:
        """(v, a): per-window lip and audio embeddings of the clip (memoised by the context, so
        LSE-C and LSE-D share one pass)."""
        s = self.settings
        check_sync_rate(ctx, s.side)
        if s.backbone == SYNC_JUDGE:
            feats = ctx.feature("judge_sync", s.side)
            return feats["video"], feats["audio"]
        size = 224 if s.crop == "s3fd_track" else s.size
        return ctx.feature("syncnet", s.side, crop=s.crop, size=size)

    def item_values(self, ctx) -> np.ndarray:
        video, audio = self.embeddings(ctx)
        return np.array([lse(video, audio, self.settings.vshift)[self.key]])


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
