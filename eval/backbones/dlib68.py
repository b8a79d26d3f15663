"""dlib's HOG face detector, 68-point shape predictor and 128-D face-recognition ResNet.

All three ship offline in ``dlib-bin`` + ``face_recognition_models`` (no weights manager needed).
EAT's LMD convention: detector on the grayscale frame with 0 upsampling, first detection,
``shape_predictor_68_face_landmarks.dat``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from eval.backbones import BACKBONES
from eval.backbones.landmarks import LANDMARKERS
from eval.context import FEATURES, ClipContext


@lru_cache(maxsize=1)
def _models():
    import dlib
    import face_recognition_models as frm

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(frm.pose_predictor_model_location()),
        dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
    )


@BACKBONES.register("dlib68")
def load_dlib68(device: str = "cpu"):
    """(detector, 68-point predictor, face-recognition model); dlib runs on the CPU."""
    return _models()


def _gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def detect_landmarks(frames: np.ndarray, device: str = "cpu", upsample: int = 0) -> np.ndarray:
    """(T, 68, 2) float64 landmarks of the first HOG detection per frame; NaN if none."""
    detector, predictor, _ = _models()
    out = np.full((len(frames), 68, 2), np.nan)
    for t, frame in enumerate(frames):
        gray = _gray(frame)
        rects = detector(gray, upsample)
        if len(rects) == 0:
            continue
        shape = predictor(gray, rects[0])
        out[t] = [(p.x, p.y) for p in shape.parts()]
    return out


LANDMARKERS.add("dlib68", detect_landmarks)


def face_descriptors(frames: np.ndarray, upsample: int = 0) -> np.ndarray:
    """(T, 128) dlib face-recognition embeddings of the first face per frame; NaN if none."""
    detector, predictor, recognizer = _models()
    out = np.full((len(frames), 128), np.nan)
    for t, frame in enumerate(frames):
        rgb = np.ascontiguousarray(frame)
        rects = detector(_gray(rgb), upsample)
        if len(rects) == 0:
            continue
        shape = predictor(rgb, rects[0])
        out[t] = np.asarray(recognizer.compute_face_descriptor(rgb, shape))
    return out


@FEATURES.register("dlib_face_descriptor")
def dlib_face_descriptor_feature(ctx: ClipContext, side: str, crop: str = "none", size: int | None = None):
    return face_descriptors(ctx.feature("crop", side, kind=crop, size=size))
