"""face-alignment 2DFAN-4 + S3FD landmarks (``LANDMARKERS["fan"]``): FOMM's AKD keypoints and the
``canonical`` protocol's LMD backend.

This is ``face_alignment.FaceAlignment(LandmarksType.TWO_D, flip_input=False, face_detector="sfd")``
followed by ``get_landmarks(frame)[0]`` (FOMM pose-evaluation ``extract.py``), built from the
package's own pieces but with weights **only** from the weights manager (``s3fd``,
``fan_2dfan4``; the package would download them from its authors' host):

1. S3FD (``face_alignment.detection.sfd.net_s3fd.s3fd``) on the RGB frame via the package's
   ``batch_detect`` (it flips to BGR and subtracts 104/117/123), then, as ``SFDDetector``: NMS at
   IoU 0.3 (the package's ``nms``) and keep boxes scoring > 0.5. The first box (highest score)
   is the face, as FOMM's ``kp[0]``.
2. Box (x0, y0, x1, y1) -> centre ((x0+x1)/2, (y0+y1)/2 - 0.12 (y1-y0)) and scale
   (w + h) / 195; the package's ``crop`` to 256 x 256, RGB / 255.
3. FAN (``face_alignment.models.FAN``; 4 hourglass modules for 2DFAN-4), last heatmaps (64 x 64),
   the package's ``get_preds_fromhm`` (argmax + quarter-pixel shift, mapped back to the frame).

Frames are batched through both networks. A frame without a detection gives NaN landmarks.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from edtalk.weights import resolve
from eval.backbones import BACKBONES, get_backbone
from eval.backbones.checkpoints import unwrap_state_dict
from eval.backbones.landmarks import LANDMARKERS

DETECT_NMS_IOU = 0.3  # SFDDetector._filter_bboxes
DETECT_MIN_SCORE = 0.5  # SFDDetector filter_threshold default
CENTER_Y_OFFSET = 0.12  # face_alignment.utils.CENTER_Y_OFFSET
REFERENCE_SCALE = 195.0  # face_alignment.utils.REFERENCE_SCALE


def _torch_state(path) -> dict:
    return unwrap_state_dict(torch.load(path, map_location="cpu", weights_only=True))


def fan_modules_in(state_dict: dict) -> int:
    """Number of hourglass modules in a FAN state dict (4 for 2DFAN-4)."""
    found = {int(m.group(1)) for k in state_dict if (m := re.match(r"m(\d+)\.", k))}
    if not found:
        raise RuntimeError("not a face-alignment FAN state dict (no 'm<i>.' hourglass keys)")
    return max(found) + 1


class FANLandmarker:
    """S3FD detector + FAN landmark network, both in eval mode on ``device``."""

    def __init__(self, detector: torch.nn.Module, fan: torch.nn.Module, device: str) -> None:
        self.detector = detector
        self.fan = fan
        self.device = device

    @torch.no_grad()
    def detect(self, frames: np.ndarray, batch: int = 8) -> list[np.ndarray]:
        """Per frame, the kept S3FD boxes (K, 5) = x0, y0, x1, y1, score, best first."""
        from face_alignment.detection.sfd.bbox import nms
        from face_alignment.detection.sfd.detect import batch_detect

        out = []
        for i in range(0, len(frames), batch):
            chunk = torch.from_numpy(np.ascontiguousarray(frames[i : i + batch])).permute(0, 3, 1, 2)
            boxes = batch_detect(self.detector, chunk.float(), device=self.device)
            for j in range(len(chunk)):
                b = np.asarray(boxes[j]).reshape(-1, 5) if len(boxes[j]) else np.zeros((0, 5))
                if len(b):
                    b = b[nms(b, DETECT_NMS_IOU)]
                    b = b[b[:, 4] > DETECT_MIN_SCORE]
                out.append(b)
        return out

    @torch.no_grad()
    def landmarks_for_boxes(self, frames: np.ndarray, boxes: list, batch: int = 8) -> np.ndarray:
        """(T, 68, 2) landmarks of box ``boxes[t]`` (x0, y0, x1, y1[, score]) in frame t; NaN where
        ``boxes[t]`` is None."""
        from face_alignment.utils import crop, get_preds_fromhm

        out = np.full((len(frames), 68, 2), np.nan)
        jobs = []
        for t, box in enumerate(boxes):
            if box is None:
                continue
            x0, y0, x1, y1 = (float(v) for v in box[:4])
            center = np.array([x1 - (x1 - x0) / 2.0, y1 - (y1 - y0) / 2.0])
            center[1] -= (y1 - y0) * CENTER_Y_OFFSET
            scale = (x1 - x0 + y1 - y0) / REFERENCE_SCALE
            patch = crop(frames[t], center, scale).transpose(2, 0, 1).astype(np.float32) / 255.0
            jobs.append((t, center, scale, patch))
        for i in range(0, len(jobs), batch):
            part = jobs[i : i + batch]
            x = torch.from_numpy(np.stack([p for *_, p in part])).to(self.device)
            heat = self.fan(x)
            heat = heat[-1] if isinstance(heat, (list, tuple)) else heat
            heat = heat.float().cpu().numpy()
            for k, (t, center, scale, _) in enumerate(part):
                _, pts_img, _ = get_preds_fromhm(heat[k : k + 1], center, scale)
                out[t] = np.asarray(pts_img, np.float64).reshape(68, 2)
        return out

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(T, 68, 2) landmarks of the first detected face per frame (NaN if none)."""
        frames = np.asarray(frames)
        detections = self.detect(frames)
        return self.landmarks_for_boxes(frames, [d[0] if len(d) else None for d in detections])


@BACKBONES.register("fan")
def load_fan(device: str = "cpu", fan_weights: str | None = None, s3fd_weights: str | None = None):
    """2DFAN-4 + S3FD with weights from the manager (``fan_2dfan4``, ``s3fd``); the keyword
    arguments override the files (tests). Raises MissingWeightsError naming file, URL, target."""
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    s3fd_state = _torch_state(s3fd_weights or resolve("s3fd"))
    fan_state = _torch_state(fan_weights or resolve("fan_2dfan4"))
    detector = s3fd()
    detector.load_state_dict(s3fd_state)
    fan = FAN(fan_modules_in(fan_state))
    fan.load_state_dict(fan_state)
    return FANLandmarker(detector.eval().to(device), fan.eval().to(device), device)


def fan_landmarks(frames: np.ndarray, device: str = "cpu") -> np.ndarray:
    """LANDMARKERS entry: (T, 68, 2) float64, NaN rows for frames without a face."""
    return get_backbone("fan", device=device)(frames)


LANDMARKERS.add("fan", fan_landmarks)
