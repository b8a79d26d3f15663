"""dlib's HOG face detector, 68-point shape predictor and 128-D face-recognition ResNet.

All three ship offline in ``dlib-bin`` + ``face_recognition_models`` (no weights manager needed);
the models and the landmark detection live in ``edtalk.data.face_landmarks``, shared with training.
EAT's LMD convention (``dlib68_eat``): detector on the grey frame with 0 upsampling, first
detection, ``shape_predictor_68_face_landmarks.dat``, the grey image made with ``COLOR_BGR2GRAY``
from RGB frames (test_lmd.py's ``get_lmk``; its comment says the frames are not BGR). EAT's
128 px crop finds its landmarks the same way with one upsampling (``dlib68_eat_crop``, used by
eval/backbones/align.py). ``dlib68`` is the plain convention (RGB to grey, no upsampling).
"""

from __future__ import annotations

import numpy as np

from edtalk.data.face_landmarks import detect_landmarks as _detect
from edtalk.data.face_landmarks import face_detector, face_recognizer, gray, shape_predictor
from eval.backbones import BACKBONES
from eval.backbones.landmarks import LANDMARKERS
from eval.context import FEATURES, ClipContext


def _models():
    return face_detector(), shape_predictor(), face_recognizer()


@BACKBONES.register("dlib68")
def load_dlib68(device: str = "cpu"):
    """(detector, 68-point predictor, face-recognition model); dlib runs on the CPU."""
    return _models()


def detect_landmarks(frames: np.ndarray, device: str = "cpu", upsample: int = 0) -> np.ndarray:
    """(T, 68, 2) float64 landmarks of the first HOG detection per frame; NaN if none
    (``edtalk.data.face_landmarks.detect_landmarks``, with the landmarker registry's signature)."""
    return _detect(frames, upsample)


def detect_landmarks_eat(frames: np.ndarray, device: str = "cpu") -> np.ndarray:
    """EAT's LMD landmarks: no upsampling, BGR2GRAY on the RGB frames."""
    return _detect(frames, 0, swap_rb=True)


def detect_landmarks_eat_crop(frames: np.ndarray, device: str = "cpu") -> np.ndarray:
    """EAT's crop landmarks (``utils_crop.crop_image``): one upsampling, BGR2GRAY on RGB."""
    return _detect(frames, 1, swap_rb=True)


LANDMARKERS.add("dlib68", detect_landmarks)
LANDMARKERS.add("dlib68_eat", detect_landmarks_eat)
LANDMARKERS.add("dlib68_eat_crop", detect_landmarks_eat_crop)


def face_descriptors(frames: np.ndarray, upsample: int = 0) -> np.ndarray:
    """(T, 128) dlib face-recognition embeddings of the first face per frame; NaN if none."""
    detector, predictor, recognizer = _models()
    out = np.full((len(frames), 128), np.nan)
    for t, frame in enumerate(frames):
        rgb = np.ascontiguousarray(frame)
        rects = detector(gray(rgb), upsample)
        if len(rects) == 0:
            continue
        shape = predictor(rgb, rects[0])
        out[t] = np.asarray(recognizer.compute_face_descriptor(rgb, shape))
    return out


@FEATURES.register("dlib_face_descriptor")
def dlib_face_descriptor_feature(ctx: ClipContext, side: str, crop: str = "none", size: int | None = None):
    return face_descriptors(ctx.feature("crop", side, kind=crop, size=size))
