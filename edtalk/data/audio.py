"""Audio IO (16 kHz mono float32) and Wav2Lip's mel features, as EDTalk's audio encoder consumes them.

``melspectrogram`` reproduces Wav2Lip's ``audio.melspectrogram`` (EDTalk's ``audio.py`` + ``hparams.py``):
pre-emphasis 0.97, STFT (n_fft 800, hop 200, Hann window 800, centred with REFLECT padding, as librosa
0.7 did), |STFT| -> 80 Slaney mel bands (55-7600 Hz), dB minus ``ref_level_db`` and a symmetric
normalisation clipped to [-4, 4]. ``mel_windows`` cuts the 16-frame (0.2 s) window per video frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
import soundfile as sf

from edtalk.atomic import atomic_path
from edtalk.data.errors import AudioReadError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MelSettings:
    """Wav2Lip / EDTalk ``hparams.py`` values for the audio encoder's mel spectrogram."""

    sample_rate: int = 16000
    n_fft: int = 800
    hop_size: int = 200  # 12.5 ms -> 80 mel frames per second
    win_size: int = 800
    num_mels: int = 80
    fmin: float = 55.0
    fmax: float = 7600.0
    preemphasis: float = 0.97
    ref_level_db: float = 20.0
    min_level_db: float = -100.0
    max_abs_value: float = 4.0  # symmetric normalisation range [-4, 4]

    @property
    def mel_fps(self) -> float:
        return self.sample_rate / self.hop_size


WAV2LIP = MelSettings()
MEL_WINDOW = 16  # mel frames per video frame window (0.2 s)
SAMPLE_RATE = 16000  # Hz: the speech every network here reads (Wav2Lip's mels, SyncNet, HuBERT)
SAMPLES_PER_FRAME = 640  # samples of 16 kHz audio per 25 fps video frame
PCM_SCALE = 32768.0  # 16-bit PCM sample k stands for k / 32768


def pcm16(audio: np.ndarray) -> np.ndarray:
    """float audio in [-1, 1] -> int16 PCM (exact inverse of reading a 16-bit wav as x / 32768)."""
    scaled = np.round(np.asarray(audio, np.float64) * PCM_SCALE)
    return np.clip(scaled, -PCM_SCALE, PCM_SCALE - 1).astype(np.int16)


def from_pcm16(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM -> float32 audio in [-1, 1] (k / 32768, as a 16-bit wav is read)."""
    return np.asarray(pcm, np.float32) / np.float32(PCM_SCALE)


def float_samples(audio: np.ndarray, what: str = "audio") -> np.ndarray:
    """``audio`` as an array of float samples in [-1, 1]; integer samples (the int16 PCM that
    ``scipy.io.wavfile`` returns) are refused with a ValueError: taken as floats they are 32768 times
    too loud, and the mel spectrogram saturates without a word."""
    audio = np.asarray(audio)
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(
            f"{what} must be float samples in [-1, 1], got {audio.dtype}; convert 16-bit PCM with "
            "edtalk.data.audio.from_pcm16 (k / 32768)"
        )
    return audio


# Containers soundfile reads natively; anything else (mp4, m4a, aac, mp3 ...) goes through PyAV.
_SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}
_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError)


@dataclass(frozen=True)
class AudioInfo:
    """The audio track as stored: native sample rate, channel count and length."""

    sample_rate: int
    channels: int
    n_samples: int

    @property
    def duration(self) -> float:
        return self.n_samples / self.sample_rate if self.sample_rate else 0.0


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise AudioReadError(path, "missing: no such file")
    if path.is_dir():
        raise AudioReadError(path, "unreadable: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioReadError(path, "unreadable: empty file (0 bytes)")


def _read_soundfile(path: Path) -> tuple[np.ndarray, int, int]:
    data, rate = _read_soundfile_channels(path)
    return data.mean(axis=1), rate, int(data.shape[1])


def _read_soundfile_channels(path: Path) -> tuple[np.ndarray, int]:
    """(float32 samples (n, channels), sample rate) of a file soundfile reads."""
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioReadError(path, f"unreadable or corrupt audio file ({err})") from None
    return data, int(rate)


# integer sample formats -> (offset, scale) onto [-1, 1]; float formats are already there
_INT_SCALE = {"u8": (128.0, 128.0), "s16": (0.0, 2.0**15), "s32": (0.0, 2.0**31), "s64": (0.0, 2.0**63)}


def _mono(frame: av.AudioFrame, channels: int) -> np.ndarray:
    """One decoded frame as float32 mono in [-1, 1] (PCM, FLAC or ALAC decode to integers)."""
    return _planar(frame, channels).mean(axis=0)


def _planar(frame: av.AudioFrame, channels: int) -> np.ndarray:
    """One decoded frame as float32 (channels, n) in [-1, 1]."""
    samples = frame.to_ndarray().astype(np.float32)  # (channels, n) planar or (1, n * channels) packed
    offset, scale = _INT_SCALE.get(frame.format.name.rstrip("p"), (0.0, 1.0))
    if scale != 1.0:
        samples = (samples - offset) / scale
    if not frame.format.is_planar and channels > 1:
        samples = samples.reshape(-1, channels).T
    return samples


def _read_container(path: Path, keep_channels: bool = False) -> tuple[np.ndarray, int, int]:
    """(samples, rate, channels) of a container's first audio stream: mono, or (n, channels) with
    ``keep_channels``."""
    try:
        container = av.open(str(path), mode="r")
    except _AV_ERRORS as err:
        raise AudioReadError(path, f"unreadable or truncated container ({err})") from None
    try:
        if not container.streams.audio:
            raise AudioReadError(path, "no audio stream in the file")
        stream = container.streams.audio[0]
        rate, channels = int(stream.sample_rate), int(stream.channels)
        chunks = []
        end_pts = 0  # end of the last packet: the encoder's real length (AAC pads its last frame)
        first = None  # time of the first decoded sample (after the decoder dropped any priming)
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.duration:
                    end_pts = max(end_pts, packet.pts + packet.duration)
                for frame in packet.decode():
                    if first is None and frame.time is not None:
                        first = float(frame.time)
                    chunks.append(_planar(frame, channels).T if keep_channels else _mono(frame, channels))
        except _AV_ERRORS as err:
            raise AudioReadError(path, f"corrupt audio stream ({err})") from None
        time_base = stream.time_base
        video_start = _video_start(container)
    finally:
        container.close()
    empty = (0, channels) if keep_channels else 0
    wav = np.concatenate(chunks) if chunks else np.zeros(empty, np.float32)
    first = first or 0.0
    if end_pts > 0 and time_base is not None:  # drop the padding of the last frame
        wav = wav[: max(0, int(round((float(end_pts * time_base) - first) * rate)))]
    if video_start is not None:  # sample 0 under frame 0
        wav = _shifted(wav, int(round((video_start - first) * rate)), path, rate)
    return wav, rate, channels


def _video_start(container: av.container.InputContainer) -> float | None:
    """When the container's video stream starts, in seconds (None without video or a start time)."""
    if not container.streams.video:
        return None
    video = container.streams.video[0]
    if video.start_time is None or video.time_base is None:
        return None
    return float(video.start_time * video.time_base)


def _shifted(wav: np.ndarray, shift: int, path: Path, rate: int) -> np.ndarray:
    """``wav`` without its first ``shift`` samples (audio before the first video frame: a cut or
    remuxed download), or after ``-shift`` samples of silence (audio starting after it)."""
    if shift:
        log.info("%s: audio starts %+.3f s from the first video frame: aligned", path, -shift / rate)
    if shift > 0:
        return wav[shift:]
    if shift < 0:
        return np.concatenate([np.zeros((-shift, *wav.shape[1:]), wav.dtype), wav])
    return wav


def _read_native(path: Path) -> tuple[np.ndarray, int, int]:
    """(mono float32 samples, native sample rate, channel count)."""
    _check_exists(path)
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        return _read_soundfile(path)
    return _read_container(path)


def audio_info(path: str | Path) -> AudioInfo:
    """Native sample rate, channels and sample count (header only for wav; containers are decoded)."""
    path = Path(path)
    _check_exists(path)
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError, OSError) as err:
            raise AudioReadError(path, f"unreadable or corrupt audio file ({err})") from None
        return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames))
    wav, rate, channels = _read_container(path)
    return AudioInfo(rate, channels, int(wav.shape[0]))


def resample(wav: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling (scipy ``resample_poly``) from ``orig_rate`` to ``target_rate``."""
    from scipy.signal import resample_poly

    if orig_rate == target_rate:
        return wav
    g = gcd(int(orig_rate), int(target_rate))
    return resample_poly(wav, int(target_rate) // g, int(orig_rate) // g).astype(np.float32)


def load_audio(
    path: str | Path, sample_rate: int = 16000, *, note: Callable[[str], None] | None = None
) -> np.ndarray:
    """Mono float32 samples of ``path`` at ``sample_rate`` (channels averaged, resampled if needed).

    wav/flac go through soundfile, audio inside containers (mp4, m4a, ...) through PyAV.
    A resampling is logged, and also passed to ``note`` (a CLI prints it for the user).
    Raises ``AudioReadError`` for a missing, unreadable or empty file.
    """
    path = Path(path)
    wav, rate, _ = _read_native(path)
    if wav.size == 0:
        raise AudioReadError(path, "zero-length audio: the file holds no samples")
    if rate != sample_rate:
        log.info("resampling %s from %d Hz to %d Hz", path, rate, sample_rate)
        if note is not None:
            note(f"{path}: audio resampled from {rate} Hz to {sample_rate} Hz")
        wav = resample(wav, rate, sample_rate)
    return np.ascontiguousarray(wav, dtype=np.float32)


def load_audio_channels(path: str | Path) -> tuple[np.ndarray, int]:
    """(float32 samples (n, channels) in [-1, 1], sample rate) of ``path`` as stored: its own rate and
    channels, aligned to a video's first frame as ``load_audio`` aligns it (a video's soundtrack kept
    as it is, where ``load_audio`` gives a model's mono input). Raises ``load_audio``'s errors."""
    path = Path(path)
    _check_exists(path)
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        samples, rate = _read_soundfile_channels(path)
    else:
        samples, rate, _ = _read_container(path, keep_channels=True)
    if samples.size == 0:
        raise AudioReadError(path, "zero-length audio: the file holds no samples")
    return np.ascontiguousarray(samples, dtype=np.float32), rate


def preemphasis(wav: np.ndarray, coef: float = WAV2LIP.preemphasis) -> np.ndarray:
    """y[n] = x[n] - coef * x[n-1] (y[0] = x[0]), Wav2Lip's ``lfilter([1, -k], [1], x)``."""
    out = np.array(wav, dtype=np.float64, copy=True)
    out[1:] -= coef * np.asarray(wav, dtype=np.float64)[:-1]
    return out


@lru_cache(maxsize=4)
def _mel_basis(settings: MelSettings) -> torch.Tensor:
    import librosa
    import torch

    basis = librosa.filters.mel(
        sr=settings.sample_rate,
        n_fft=settings.n_fft,
        n_mels=settings.num_mels,
        fmin=settings.fmin,
        fmax=settings.fmax,
    )
    return torch.from_numpy(basis.astype(np.float64))


def melspectrogram(wav: np.ndarray, settings: MelSettings = WAV2LIP) -> np.ndarray:
    """Wav2Lip mel spectrogram of a 16 kHz mono waveform: float32 (80, T_mel), values in [-4, 4].

    T_mel = 1 + max(len(wav), n_fft // 2 + 1) // hop (centred frames): a waveform of n_fft // 2
    samples or fewer is zero-padded to n_fft // 2 + 1 first (torch's reflect padding needs more samples
    than its width), so with Wav2Lip's settings anything under 401 samples gives 3 frames, not
    1 + len // 200. Computed in float64 with ``torch.stft``.
    """
    wav = float_samples(wav, "melspectrogram's waveform")
    if wav.ndim != 1 or wav.size == 0:
        raise ValueError(f"melspectrogram needs a non-empty 1-D waveform, got shape {wav.shape}")
    import torch  # imported here: reading and writing audio (crop, doctor, synthtalk) need no torch

    s = settings
    signal = torch.from_numpy(preemphasis(wav, s.preemphasis))
    if signal.numel() <= s.n_fft // 2:  # reflect padding needs more samples than the pad width
        signal = torch.nn.functional.pad(signal, (0, s.n_fft // 2 + 1 - signal.numel()))
    spec = torch.stft(
        signal,
        n_fft=s.n_fft,
        hop_length=s.hop_size,
        win_length=s.win_size,
        window=torch.hann_window(s.win_size, periodic=True, dtype=torch.float64),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    ).abs()
    mel = _mel_basis(s) @ spec
    min_level = 10.0 ** (s.min_level_db / 20.0)  # 1e-5
    s_db = 20.0 * torch.log10(torch.clamp(mel, min=min_level)) - s.ref_level_db
    scale = 2.0 * s.max_abs_value
    norm = scale * ((s_db - s.min_level_db) / (-s.min_level_db)) - s.max_abs_value
    return torch.clamp(norm, -s.max_abs_value, s.max_abs_value).numpy().astype(np.float32)


def frames_covered(n_samples: int, fps: float, sample_rate: int = 16000) -> int:
    """Whole video frames that ``n_samples`` of audio span: floor(n_samples * fps / sample_rate).

    Multiplies before dividing and forgives float rounding (1e-6 frame): ``int(n / sr * fps)``
    gives 28 for 29 frames' worth of audio at 25 fps (18560 / 16000 * 25 = 28.999...).
    """
    return int(np.floor(n_samples * fps / sample_rate + 1e-6))


def fit_to_frames(wav: np.ndarray, n_frames: int, fps: float, sample_rate: int = 16000) -> np.ndarray:
    """``wav`` (samples first: (n,) or (n, channels)) cut or zero-padded to the fewest samples that
    cover ``n_frames`` video frames, so that ``frames_covered`` of the result is exactly ``n_frames``."""
    n = int(np.ceil(n_frames * sample_rate / fps - 1e-6))
    pad = [(0, max(0, n - len(wav)))] + [(0, 0)] * (np.ndim(wav) - 1)
    return np.pad(wav[:n], pad).astype(np.float32, copy=False)


def mel_window_starts(n_frames: int, fps: float = 25.0, mel_fps: float = WAV2LIP.mel_fps) -> np.ndarray:
    """Start mel frame of each video frame's window: ``int(80 * (i - 2) / fps)`` (truncated)."""
    i = np.arange(n_frames, dtype=np.float64)
    return np.trunc(mel_fps * (i - 2) / fps).astype(np.int64)


def mel_windows(mel: np.ndarray, n_frames: int, fps: float = 25.0) -> np.ndarray:
    """Per video frame, the 16 mel frames starting at ``int(80 * (i - 2) / fps)``: (n_frames, 80, 16).

    Starts are clamped to [0, T_mel - 16] at both ends (EDTalk's edge handling).
    """
    mel = np.asarray(mel)
    if mel.ndim != 2:
        raise ValueError(f"mel must be (n_mels, T_mel), got shape {mel.shape}")
    t_mel = mel.shape[1]
    if t_mel < MEL_WINDOW:
        raise ValueError(f"audio too short: {t_mel} mel frames, a window needs {MEL_WINDOW} (0.2 s of audio)")
    starts = np.clip(mel_window_starts(n_frames, fps), 0, t_mel - MEL_WINDOW)
    index = starts[:, None] + np.arange(MEL_WINDOW)[None, :]  # (n_frames, 16)
    return np.ascontiguousarray(mel[:, index].transpose(1, 0, 2))


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = 16000) -> Path:
    """16-bit PCM mono wav (deterministic header, no metadata), written atomically."""
    with atomic_path(path, suffix=".tmp.wav") as tmp:
        sf.write(str(tmp), np.asarray(audio, np.float32), sample_rate, subtype="PCM_16", format="WAV")
    return Path(path)
