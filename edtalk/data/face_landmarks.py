"""dlib's HOG face detector and 68-point shape predictor, shipped offline in ``dlib-bin`` and
``face_recognition_models``: one home for the models that training (landmarks for the mouth swap
when a dataset has no landmark sidecars), inference's face check and evaluation's LMD metrics share.

``detect_landmarks`` takes the first detection per frame, with no upsampling by default; EAT's LMD
convention is its ``swap_rb=True`` (grey as EAT's cv2 code computes it from RGB frames, the ``dlib68_eat``
backend), the plain ``dlib68`` backend its default; ``track_landmarks`` is training's per-clip variant:
small frames are upscaled first and frames without a detection take their nearest detected frame's
landmarks.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from edtalk.data.errors import DataError

DETECT_SIDE = 256  # frames smaller than this are upscaled before detection (HOG finds faces >= ~80 px)


class NoFaceError(DataError):
    """No face found in an image or in any frame of a clip."""


@lru_cache(maxsize=1)
def face_detector():
    import dlib

    return dlib.get_frontal_face_detector()


def dlib_models():
    """``face_recognition_models``, the package of dlib's model files, imported without the warning
    about ``pkg_resources`` that its import prints in every process (each Ray worker of a scoring run
    showed it); the package works with the pinned setuptools."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import face_recognition_models
    return face_recognition_models


@lru_cache(maxsize=1)
def shape_predictor():
    import dlib

    return dlib.shape_predictor(dlib_models().pose_predictor_model_location())


@lru_cache(maxsize=1)
def face_recognizer():
    import dlib

    return dlib.face_recognition_model_v1(dlib_models().face_recognition_model_location())


def gray(frame: np.ndarray, swap_rb: bool = False) -> np.ndarray:
    """Grey image of an RGB frame; ``swap_rb``: weigh it as if it were BGR, as EAT's evaluation
    code does (``cv2.COLOR_BGR2GRAY`` on the RGB frames imageio reads)."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_BGR2GRAY if swap_rb else cv2.COLOR_RGB2GRAY)


def detect_landmarks(frames: np.ndarray, upsample: int = 0, swap_rb: bool = False) -> np.ndarray:
    """(T, 68, 2) float64 landmarks of the first HOG detection per frame; NaN where none
    (``swap_rb``: see ``gray``)."""
    detector, predictor = face_detector(), shape_predictor()
    out = np.full((len(frames), 68, 2), np.nan)
    for t, frame in enumerate(frames):
        image = gray(frame, swap_rb)
        rects = detector(image, upsample)
        if len(rects) == 0:
            continue
        shape = predictor(image, rects[0])
        out[t] = [(p.x, p.y) for p in shape.parts()]
    return out


def track_landmarks(frames: np.ndarray, path: str | Path) -> tuple[np.ndarray, int]:
    """(T, 68, 2) float32 landmarks in the frames' pixels for every frame, and how many frames had no
    detection (filled from the nearest detected frame); ``NoFaceError`` naming ``path`` when none has."""
    import cv2

    side = min(frames.shape[1:3])
    scale = max(1.0, DETECT_SIDE / side)
    if scale > 1:
        frames = np.stack(
            [cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) for f in frames]
        )
    landmarks = detect_landmarks(frames) / scale
    found = np.flatnonzero(~np.isnan(landmarks[:, 0, 0]))
    if not len(found):
        raise NoFaceError(path, f"no face found by dlib's HOG detector in any of its {len(frames)} frames")
    missing = np.flatnonzero(np.isnan(landmarks[:, 0, 0]))
    if len(missing):
        nearest = found[np.abs(found[None, :] - missing[:, None]).argmin(axis=1)]
        landmarks[missing] = landmarks[nearest]
    return landmarks.astype(np.float32), len(missing)
