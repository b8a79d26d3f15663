"""Decoding clips for the training frame cache (``edtalk.data.training``): a clip's frames resized to
the cache's size, its 68-point landmarks (sidecar, or dlib on the frames), and from one read of its
16 kHz audio the Wav2Lip mel window of each frame and each frame's own stretch of the waveform
(``wav_rows``, what HuBERT's E_S reads), in ``decode_workers`` spawned processes.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import cv2
import numpy as np

from edtalk.data.audio import SAMPLE_RATE, SAMPLES_PER_FRAME, load_audio, mel_windows, melspectrogram, pcm16
from edtalk.data.clip import MAX_LENGTH_MISMATCH_S, Clip
from edtalk.data.errors import AudioReadError, DataError


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


def wav_rows(wav: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """Each frame's stretch of the 16 kHz waveform ``wav``: int16 PCM (n_frames, SAMPLES_PER_FRAME),
    row i the SAMPLES_PER_FRAME samples from frame i's time, ``round(i * 16000 / fps)``, zero-padded
    where the audio runs short (16-bit, so a PCM_16 wav is cached exactly). At 25 fps the rows laid
    end to end are the waveform itself: frames s .. s+T-1 hold samples [s * 640, (s + T) * 640)."""
    first = np.round(np.arange(n_frames) * (SAMPLE_RATE / fps)).astype(np.int64)
    index = first[:, None] + np.arange(SAMPLES_PER_FRAME)[None, :]
    padded = np.zeros(int(index.max()) + 1 if n_frames else 0, np.float32)
    kept = min(len(wav), len(padded))
    padded[:kept] = wav[:kept]
    return pcm16(padded[index])


def _clip_audio(clip: Clip, n_frames: int, fps: float) -> tuple[np.ndarray, np.ndarray] | str | None:
    """(Wav2Lip mel window per frame, float16 (n_frames, 80, 16); ``wav_rows``) from one read of the
    clip's audio; None for a clip without audio (no audio file and no audio track in its video), and
    why, for audio more than ``MAX_LENGTH_MISMATCH_S`` shorter than the video (its last frames would
    pair with silence): the frames-only stages train on both, the audio stages leave them out
    (``FrameCache.no_audio``)."""
    if clip.audio is None:
        return None
    try:
        wav = load_audio(clip.audio, SAMPLE_RATE)
    except AudioReadError:
        if Path(clip.audio) == Path(clip.video) and not _has_audio_track(clip.video):
            return None
        raise
    if not np.isfinite(wav).all():  # e.g. silence normalised by its peak, 0 / 0: NaN losses in audio stages
        raise DataError(clip.audio, "audio holds NaN or infinite samples")
    audio_s, video_s = len(wav) / SAMPLE_RATE, n_frames / fps
    if video_s - audio_s > MAX_LENGTH_MISMATCH_S:
        return f"{clip.audio}: {audio_s:.2f} s of audio for {video_s:.2f} s of video ({n_frames} frames)"
    try:
        mel = mel_windows(melspectrogram(wav), n_frames, fps=fps).astype(np.float16)
    except ValueError as err:  # under 0.2 s of audio: no mel window to read
        raise DataError(clip.audio, str(err)) from None
    return mel, wav_rows(wav, n_frames, fps)


def _has_audio_track(path: str | Path) -> bool:
    """Whether the container at ``path`` has an audio stream (True when it cannot be opened: the
    audio reader's own error then names the problem)."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.FFmpegError, OSError):
        return True


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


CACHE_FPS = SAMPLE_RATE / SAMPLES_PER_FRAME  # 25, the networks' rate: a cached frame holds 1/25 s of audio
FPS_TOLERANCE = 0.1  # a header's 25.0x is 25 fps; 24, 29.97 or 30 fps is another rate


def not_a_face_crop(clip: Clip, video) -> DataError | None:
    """The error for a clip (its ``VideoData`` or ``VideoInfo``) whose frames are not square face crops
    at 25 fps, with how to make them; None for one that is."""
    (height, width), fps = video.size, video.fps
    if height == width and abs(fps - CACHE_FPS) <= FPS_TOLERANCE:
        return None
    if clip.dataset in ("mead", "hdtf", "folder"):
        how = (
            f"`python -m edtalk.data.crop dataset --dataset {clip.dataset} --root RAW --out CROPPED` makes "
            "them; train on CROPPED"
        )
    else:  # lrw, voxceleb2 ship as crops: a clip of another layout is cropped a file at a time
        how = "`python -m edtalk.data.crop video` makes them"
    if height != width:
        return DataError(
            clip.video, f"frames are {width}x{height} (width x height), not square face crops; {how}"
        )
    return DataError(clip.video, f"{fps:g} fps, not the {CACHE_FPS:g} fps the networks take; {how}")


NO_AUDIO = "no audio"  # _decode_clip's audio problem of a clip without audio file or track


def _decode_clip(clip: Clip, size: int):
    """(frames resized to ``size``, landmarks, mel windows, waveform rows, frames filled, audio problem)
    of one clip, or the ``DataError`` that says why it cannot be read. The audio problem is None, or
    ``NO_AUDIO``, or why its audio is too short (``_clip_audio``); with one, the mel windows and waveform
    rows are zeros. The error is returned, so a pool hands it back in order; any other exception becomes
    one naming the clip's video."""
    from edtalk.data.video import read_video

    try:
        clip.check()  # listed but unreadable (a bad sidecar): left out with its reason, as a missing video
        video = read_video(clip.video)
        if problem := not_a_face_crop(clip, video):
            raise problem
        landmarks, filled = _clip_landmarks(clip, video.frames, size)
        audio = _clip_audio(clip, video.n_frames, video.fps)
        audio_problem = NO_AUDIO if audio is None else audio if isinstance(audio, str) else None
        if audio_problem:
            n = video.n_frames
            audio = np.zeros((n, 80, 16), np.float16), np.zeros((n, SAMPLES_PER_FRAME), np.int16)
        return resized(video.frames, size), landmarks, *audio, filled, audio_problem
    except DataError as err:
        return err
    except Exception as err:  # an unforeseen failure on one clip is that clip's problem, not the run's end
        return DataError(clip.video, f"failed ({type(err).__name__}: {err})")


def decode_clips(clips: list[Clip], size: int, workers: int):
    """Yield (clip, ``_decode_clip`` result) in ``clips``' order, from ``workers`` spawned processes
    when more than one (at most two clips each in flight, so memory stays bounded)."""
    if workers <= 1:
        for clip in clips:
            yield clip, _decode_clip(clip, size)
        return
    from collections import deque

    from edtalk.data.pool_worker import worker_pool

    todo = iter(clips)
    # workers leave Ctrl-C to this process and end with it; on Ctrl-C here, or the caller stopping early
    # (Ctrl-C there closes this generator later: GeneratorExit), the clips in flight are not waited for
    with worker_pool(workers, stop_on=(BaseException,)) as pool:
        pending = deque((c, pool.submit(_decode_clip, c, size)) for c in itertools.islice(todo, 2 * workers))
        while pending:
            clip, future = pending.popleft()
            result = future.result()
            for nxt in itertools.islice(todo, 1):
                pending.append((nxt, pool.submit(_decode_clip, nxt, size)))
            yield clip, result
