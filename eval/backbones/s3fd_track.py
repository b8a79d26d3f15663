"""syncnet_python's S3FD face-track crop (``run_pipeline.py``) for the canonical LSE-C / LSE-D.

``ctx.feature("s3fd_track", side)`` -> {"frames": uint8 (N, 224, 224, 3) RGB crops, "start": first
frame of the track}. Steps, as in syncnet_python (shared/reference/metrics-conventions.md 1.2):

1. Detection: S3FD (``syncnet_python.detectors.s3fd``, network ``S3FDNet``, weights
   ``syncnet_sfd_face`` = sfd_face.pth from the weights manager) on each RGB frame with
   ``conf_th=0.9`` and ``scales=[facedet_scale=0.25]``.
2. Track: ONE track per clip (our inputs are pre-cropped single-face videos): the best box of
   each frame; frames without a box inside the track are linearly interpolated (as the
   reference's ``interp1d``). Gaps longer than ``num_failed_det`` (25) split the detections and
   the longest segment is kept. A track whose mean box side is not above ``min_face_size``
   (100 px) fails the clip, as the reference drops it.
3. Crop (``track_crops``, pure): half-size s = max(w, h)/2 and centre (x, y) per frame,
   each median-filtered over the track with kernel 13 (``scipy.signal.medfilt``, zero padded
   at the ends like the reference); frame padded by bsi = int(s(1+2cs)) with value 110,
   cs = 0.40; crop ``[my-s : my+s(1+2cs), mx-s(1+cs) : mx+s(1+cs)]`` (padded coordinates);
   ``cv2.resize`` to 224 x 224 (bilinear).

Deviations, all because our clips are already single-face, single-shot crops: no scene detection
(PySceneDetect), a single track, ``min_track`` (100 frames) not enforced below the clip length,
and frames are used as decoded (no ffmpeg re-encode to 25 fps AVI / JPEG round trip). The audio
is trimmed to the track by the caller (``eval/backbones/syncnet.py``), like the reference's
per-track audio cut.
"""

from __future__ import annotations

import numpy as np
import torch

from edtalk.weights import resolve
from eval.backbones import BACKBONES, get_backbone
from eval.context import FEATURES, ClipContext
from eval.metrics.base import ClipFailure

FACEDET_SCALE = 0.25
CONF_TH = 0.9
CROP_SCALE = 0.40
MEDIAN_KERNEL = 13
PAD_VALUE = 110
NUM_FAILED_DET = 25
MIN_FACE_SIZE = 100
CROP_SIZE = 224
WEIGHTS = "syncnet_sfd_face"


@BACKBONES.register("syncnet_s3fd")
def load_s3fd(device: str = "cpu", weights: str | None = None):
    """syncnet_python's ``S3FD`` detector around ``S3FDNet`` with ``sfd_face.pth`` weights."""
    from syncnet_python.detectors.s3fd import S3FD
    from syncnet_python.detectors.s3fd.nets import S3FDNet

    path = weights or resolve(WEIGHTS)  # MissingWeightsError names the file, URL and target
    net = S3FDNet(device=device)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return S3FD(net=net.eval(), device=device)


def detect(frames_rgb: np.ndarray, device: str = "cpu") -> list[np.ndarray]:
    """Per frame, the kept S3FD boxes (K, 5) = x0, y0, x1, y1, score, best first."""
    detector = get_backbone("syncnet_s3fd", device=device)
    return [
        np.asarray(detector.detect_faces(f, conf_th=CONF_TH, scales=[FACEDET_SCALE])).reshape(-1, 5)
        for f in frames_rgb
    ]


def single_track(detections: list[np.ndarray], where: str = "clip") -> tuple[int, np.ndarray]:
    """(start, boxes (N, 4)): one track over consecutive frames from per-frame detections.

    Best box per frame; detected frames separated by more than ``NUM_FAILED_DET`` frames split
    segments (the longest is kept); missing frames inside are linearly interpolated."""
    found = [i for i, d in enumerate(detections) if len(d)]
    if not found:
        raise ClipFailure(f"{where}: S3FD found no face (conf >= {CONF_TH})")
    segments, current = [], [found[0]]
    for i in found[1:]:
        if i - current[-1] > NUM_FAILED_DET:
            segments.append(current)
            current = []
        current.append(i)
    segments.append(current)
    frames = max(segments, key=len)
    known = np.stack([detections[i][0, :4] for i in frames]).astype(np.float64)
    span = np.arange(frames[0], frames[-1] + 1)
    boxes = np.stack([np.interp(span, frames, known[:, j]) for j in range(4)], axis=1)
    side = max(np.mean(boxes[:, 2] - boxes[:, 0]), np.mean(boxes[:, 3] - boxes[:, 1]))
    if side <= MIN_FACE_SIZE:
        raise ClipFailure(f"{where}: S3FD face track is {side:.0f} px, not above {MIN_FACE_SIZE} px")
    return int(frames[0]), boxes


def smooth_boxes(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, x, y): half-size max(w, h)/2 and centre of (N, 4) boxes, each median-filtered with
    kernel 13 over the track (scipy's medfilt, zero padded, as the reference)."""
    from scipy.signal import medfilt

    b = np.asarray(boxes, np.float64)
    s = np.maximum(b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]) / 2
    y = (b[:, 1] + b[:, 3]) / 2
    x = (b[:, 0] + b[:, 2]) / 2
    return tuple(medfilt(v, kernel_size=MEDIAN_KERNEL) for v in (s, x, y))


def crop_box(s: float, x: float, y: float, cs: float = CROP_SCALE) -> tuple[int, int, int, int, int]:
    """(bsi, top, bottom, left, right): the pad and the crop rows/columns in the padded frame."""
    bsi = int(s * (1 + 2 * cs))
    my, mx = y + bsi, x + bsi
    return bsi, int(my - s), int(my + s * (1 + 2 * cs)), int(mx - s * (1 + cs)), int(mx + s * (1 + cs))


def track_crops(frames: np.ndarray, boxes: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """uint8 (N, size, size, 3) crops of N frames along their (N, 4) track boxes."""
    import cv2

    s, x, y = smooth_boxes(boxes)
    out = []
    for frame, si, xi, yi in zip(frames, s, x, y, strict=True):
        bsi, top, bottom, left, right = crop_box(si, xi, yi)
        padded = np.pad(frame, ((bsi, bsi), (bsi, bsi), (0, 0)), "constant", constant_values=PAD_VALUE)
        face = padded[top:bottom, left:right]
        if face.size == 0:
            raise ClipFailure(f"S3FD crop is empty (box half-size {si:.1f} at {xi:.1f}, {yi:.1f})")
        out.append(cv2.resize(face, (size, size)))
    return np.stack(out)


@FEATURES.register("s3fd_track")
def s3fd_track_feature(ctx: ClipContext, side: str) -> dict:
    """{"frames": (N, 224, 224, 3) track crops, "start": first frame of the track}."""
    frames = ctx.frames(side)
    start, boxes = single_track(detect(frames, ctx.device), f"clip {ctx.clip.id} ({side})")
    return {"frames": track_crops(frames[start : start + len(boxes)], boxes), "start": start}
