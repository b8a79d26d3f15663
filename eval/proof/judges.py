"""The proof's judges and the small readings it takes with them: the installed face and sync
judges (``Judges``), dlib's independent mouth reading, landmark error, track gaps, PSNR."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edtalk.data.image import resize_frames
from eval.metrics.functional.disentangle import mouth_opening

DLIB_SIZE = 256  # frames are resized to this for dlib's HOG detector and 68-point predictor
# The mouth factors (open, width, round) the face judge is compared on: the opening only. On 12 GT
# test clips the judge's reading correlates 0.96 with the true opening but 0.13 / 0.23 with width /
# round (its round output barely moves: 1 % of the truth's spread), so errors on those two ranked
# the drivers by how near their width / round sit to the judge's near-constant output, not by what
# the video shows. Every run re-measures this on its own clips (reconstruction
# ["judge_mouth_corr_on_gt"], per factor).
JUDGE_MOUTH_FACTORS = (0,)
MOUTH_FACTOR_NAMES = ("open", "width", "round")


def _mean(values) -> float | None:
    """Mean of the finite figures (None and NaN left out); None when there are none."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else None


def dlib_mouth_opening(frames: np.ndarray) -> np.ndarray:
    """(T,) mouth opening of uint8 frames read by dlib's 68-point predictor (``mouth_opening``;
    NaN where no face is found).

    The second opinion on the mouth: regression trees trained on photographs, a family that shares
    nothing with the synthtalk judges or with the loss experts that L_mot trains G through, so G
    cannot have learned to please it. On 24 GT test clips resized to 64 px its reading correlates
    0.79 with the true opening (median per clip 0.86; no face in 13 of 1471 frames); 0.93 at the
    native 128 px.
    """
    import cv2

    from eval.backbones.dlib68 import detect_landmarks

    if frames.shape[1] < DLIB_SIZE:  # bicubic up-sampling reads small mouths better than bilinear
        frames = np.stack(
            [cv2.resize(f, (DLIB_SIZE, DLIB_SIZE), interpolation=cv2.INTER_CUBIC) for f in frames]
        )
    return mouth_opening(detect_landmarks(resize_frames(frames, DLIB_SIZE)))


class Judges:
    """The installed judges and dlib's mouth reading, with the few measurements the proof needs
    (``sync=False``: the face judge alone, for tools that measure no sync)."""

    def __init__(self, device: str = "cpu", data: str | Path | None = None, sync: bool = True) -> None:
        from edtalk.experts.store import load_judge

        self.face = load_judge("face_analyser", device, data)
        self.sync = load_judge("sync_net", device, data) if sync else None
        self._gt_mouth: dict[tuple[str, int], np.ndarray] = {}

    def analyse(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        return self.face.predict(frames)

    def mouth_dlib(self, frames: np.ndarray) -> np.ndarray:
        return dlib_mouth_opening(frames)

    def mouth_dlib_gt(self, clip, size: int) -> np.ndarray:
        """``mouth_dlib`` of a clip's GT frames at the model's ``size`` (cached: clips recur)."""
        key = (clip.id, size)
        if key not in self._gt_mouth:
            self._gt_mouth[key] = self.mouth_dlib(resize_frames(clip.frames, size))
        return self._gt_mouth[key]

    def lse(self, frames: np.ndarray, wav: np.ndarray, fps: float = 25.0) -> dict:
        from edtalk.experts.sync_net import SAMPLES_PER_FRAME, offset_search

        n = min(len(frames), len(wav) // SAMPLES_PER_FRAME)
        v = self.sync.video_features(frames[:n])
        a = self.sync.audio_features(wav[: n * SAMPLES_PER_FRAME], n, fps)
        return offset_search(v, a, vshift=15)


def _judged_mouth(mouth: np.ndarray) -> np.ndarray:
    """The mouth factors the proof compares with the face judge (``JUDGE_MOUTH_FACTORS``)."""
    return np.asarray(mouth)[:, list(JUDGE_MOUTH_FACTORS)]


def _looped(track: np.ndarray, n: int) -> np.ndarray:
    """A driver's per-frame track looped to ``n`` frames exactly as ``drive_video`` loops a short
    driver (ping-pong: forward, backward, ...), so frame i is compared with what drove frame i."""
    from edtalk.driving import loop_to_length

    return loop_to_length(track, n)


def _track_gap(a: np.ndarray, b: np.ndarray) -> float | None:
    """Mean |a - b| over frames where both tracks are finite (None if there are none)."""
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.abs(a[ok] - b[ok]).mean()) if ok.any() else None


def _mean_psnr(reference: np.ndarray, frames: np.ndarray) -> float | None:
    """Mean per-frame PSNR over the finite frames (identical frames give inf and are left out)."""
    from eval.metrics.functional.psnr import frame_psnr

    psnr = frame_psnr(reference, frames)
    return float(np.mean(psnr[np.isfinite(psnr)])) if np.isfinite(psnr).any() else None


def _amplitude_ratio(track: np.ndarray, reference: np.ndarray) -> float | None:
    """std of ``track`` over std of ``reference`` (finite frames only; None without enough of them)."""
    a, b = track[np.isfinite(track)], reference[np.isfinite(reference)]
    if len(a) < 2 or len(b) < 2 or b.std() == 0:
        return None
    return float(a.std() / b.std())


def landmark_error_px(
    judges: Judges, frames: np.ndarray, truth: np.ndarray, native: int, analysed: dict | None = None
) -> float:
    """Mean L2 (px at the native size) of judge landmarks on ``frames`` vs true landmarks
    (``analysed``: ``judges.analyse(frames)`` when the caller already has it)."""
    analysed = judges.analyse(frames) if analysed is None else analysed
    pred = analysed["landmarks"] * (native / frames.shape[1])
    n = min(len(pred), len(truth))
    return float(np.linalg.norm(pred[:n] - truth[:n], axis=-1).mean())
