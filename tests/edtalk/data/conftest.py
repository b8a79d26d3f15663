"""Tiny real media files for the data-layer tests (8 frames, 32 px, 16 kHz), written with our own IO."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edtalk.data.video import write_video


def tiny_frames(n_frames: int = 8, height: int = 32, width: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth moving gradients (compress well, survive H.264 almost exactly)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    frames = np.empty((n_frames, height, width, 3), np.uint8)
    phase = rng.uniform(0, 2 * np.pi, 3)
    for t in range(n_frames):
        for c in range(3):
            wave = np.sin(2 * np.pi * (x / width + y / (2 * height)) + phase[c] + 0.3 * t)
            frames[t, :, :, c] = (127.5 + 100 * wave).astype(np.uint8)
    return frames


def tone(seconds: float, sample_rate: int = 16000, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def make_clip():
    """``make_clip(video_path, wav_path=None, ...)`` writes a tiny mp4 (and wav); returns the paths."""

    def make(
        video: Path,
        wav: Path | None = None,
        *,
        n_frames: int = 8,
        size: tuple[int, int] = (32, 32),
        fps: float = 25.0,
        sample_rate: int = 16000,
        audio_seconds: float | None = None,
        embed_audio: bool = False,
    ) -> tuple[Path, Path | None]:
        seconds = n_frames / fps if audio_seconds is None else audio_seconds
        audio = tone(seconds, sample_rate)
        frames = tiny_frames(n_frames, *size)
        write_video(video, frames, fps=fps, audio=audio if embed_audio else None, sample_rate=sample_rate)
        if wav is not None:
            wav.parent.mkdir(parents=True, exist_ok=True)
            sf.write(wav, audio, sample_rate, subtype="PCM_16")
        return video, wav

    return make


@pytest.fixture(scope="session")
def clip_files(tmp_path_factory) -> tuple[Path, Path]:
    """One good tiny mp4 (with an AAC track) + 16 kHz wav, written once; copy them into fixture trees."""
    folder = tmp_path_factory.mktemp("media")
    video, wav = folder / "good.mp4", folder / "good.wav"
    write_video(video, tiny_frames(), fps=25.0, audio=tone(8 / 25))
    sf.write(wav, tone(8 / 25), 16000, subtype="PCM_16")
    return video, wav


@pytest.fixture
def place(clip_files):
    """``place(dest.mp4[, dest.wav])`` copies the good tiny clip into a fixture tree."""

    def put(video: Path, wav: Path | None = None) -> None:
        video.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip_files[0], video)
        if wav is not None:
            wav.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(clip_files[1], wav)

    return put
