"""Decoding clips for the training frame cache (``edtalk.data.training``): a clip's frames resized to
the cache's size, its 68-point landmarks (sidecar, or dlib on the frames) and the Wav2Lip mel window
of each frame, in ``decode_workers`` spawned processes.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import cv2
import numpy as np

from edtalk.data.clip import Clip
from edtalk.data.errors import DataError


def _clip_landmarks(clip: Clip, frames: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """(T, 68, 2) landmarks in pixels of the cached ``size``, from the clip's sidecar or, without
    one, detected on its frames; and how many frames had no detection (0 from a sidecar)."""
    n_frames, scale = len(frames), size / frames.shape[1]
    if clip.sidecar is None:
        from edtalk.data.face_landmarks import track_landmarks

        landmarks, filled = track_landmarks(frames, clip.video)
        return landmarks * scale, filled
    if not Path(clip.sidecar).exists():
        raise DataError(clip.sidecar, "missing landmark sidecar JSON")
    try:
        meta = json.loads(Path(clip.sidecar).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(clip.sidecar, f"unreadable sidecar JSON ({err})") from None
    lm = np.asarray(meta.get("landmarks", []), np.float32)
    if lm.shape[1:] != (68, 2) or len(lm) < n_frames:
        raise DataError(clip.sidecar, f"'landmarks' must be T x 68 x 2 with T >= {n_frames}, got {lm.shape}")
    return lm[:n_frames] * scale, 0


def _clip_mels(clip: Clip, n_frames: int, fps: float) -> np.ndarray:
    from edtalk.data.audio import load_audio, mel_windows, melspectrogram

    if clip.audio is None:
        return np.zeros((n_frames, 80, 16), np.float16)
    mel = melspectrogram(load_audio(clip.audio))
    return mel_windows(mel, n_frames, fps=fps).astype(np.float16)


def resized(native_frames: np.ndarray, size: int) -> np.ndarray:
    """Frames area-resized to ``size`` x ``size`` (uint8 (T, size, size, 3))."""
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in native_frames])


CLIPS_PER_DECODER = 16  # fewer clips than this per extra process: decode in this one (spawn costs ~2 s)
MOST_DECODERS = 8


def decode_workers(n_clips: int, detect: bool) -> int:
    """Processes that decode a split: with landmark detection one per core (at most 8; none beyond
    this one for a few clips); without, this one (benchmarks/frame_cache.py: 64 synthtalk clips with
    dlib on 2 cores 1.36x faster in 2 processes; from sidecars 0.40x, decoding is cheap)."""
    if not detect:
        return 1
    return max(1, min(MOST_DECODERS, os.cpu_count() or 1, n_clips // CLIPS_PER_DECODER))


def not_square(clip: Clip, height: int, width: int) -> DataError:
    """The error for a clip whose frames are not square face crops, with how to make them."""
    if clip.dataset in ("mead", "hdtf"):
        how = (
            f"`python -m edtalk.data.crop dataset --dataset {clip.dataset} --root RAW --out CROPPED` makes "
            "them; train on CROPPED"
        )
    else:
        how = "`python -m edtalk.data.crop video` makes them"
    return DataError(
        clip.video, f"frames are {width}x{height} (width x height), not square face crops; {how}"
    )


def _decode_clip(clip: Clip, size: int):
    """(frames resized to ``size``, landmarks, mel windows, frames filled) of one clip, or the
    ``DataError`` that says why it cannot be read (returned, so a pool hands it back in order)."""
    from edtalk.data.video import read_video

    try:
        clip.check()  # listed but unreadable (a bad sidecar): left out with its reason, as a missing video
        video = read_video(clip.video)
        if video.size[0] != video.size[1]:
            raise not_square(clip, *video.size)
        landmarks, filled = _clip_landmarks(clip, video.frames, size)
        mel = _clip_mels(clip, video.n_frames, video.fps)
    except DataError as err:
        return err
    return resized(video.frames, size), landmarks, mel, filled


def decode_clips(clips: list[Clip], size: int, workers: int):
    """Yield (clip, ``_decode_clip`` result) in ``clips``' order, from ``workers`` spawned processes
    when more than one (at most two clips each in flight, so memory stays bounded)."""
    if workers <= 1:
        for clip in clips:
            yield clip, _decode_clip(clip, size)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    todo = iter(clips)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = deque((c, pool.submit(_decode_clip, c, size)) for c in itertools.islice(todo, 2 * workers))
        while pending:
            clip, future = pending.popleft()
            result = future.result()
            for nxt in itertools.islice(todo, 1):
                pending.append((nxt, pool.submit(_decode_clip, nxt, size)))
            yield clip, result
