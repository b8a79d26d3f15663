"""Audio IO and Wav2Lip mel features, the mel checked against a direct librosa reference."""

from __future__ import annotations

import logging

import librosa
import numpy as np
import pytest
import soundfile as sf
from scipy.signal import lfilter

from edtalk.data.audio import (
    audio_info,
    fit_to_frames,
    frames_covered,
    load_audio,
    mel_window_starts,
    mel_windows,
    melspectrogram,
)
from edtalk.data.errors import AudioReadError


def speechlike(seconds: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Voiced harmonics with a syllable envelope, noise bursts and a silent gap."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 3.1 * t), 0, None)
    wav = 0.2 * voiced * envelope + 0.02 * rng.standard_normal(t.size)
    wav[int(0.4 * rate) : int(0.55 * rate)] = 0.0
    return wav.astype(np.float32)


def wav2lip_reference(wav: np.ndarray) -> np.ndarray:
    """Wav2Lip's audio.melspectrogram written directly with librosa (reflect-padded centred STFT)."""
    emphasised = lfilter([1, -0.97], [1], wav)
    stft = librosa.stft(
        emphasised, n_fft=800, hop_length=200, win_length=800, center=True, pad_mode="reflect"
    )
    mel = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600) @ np.abs(stft)
    s_db = 20 * np.log10(np.maximum(1e-5, mel)) - 20
    return np.clip(2 * 4 * ((s_db - -100) / 100) - 4, -4, 4)


@pytest.mark.parametrize("n_samples", [16000, 16000 + 137, 3 * 6400])
def test_melspectrogram_matches_librosa_reference(n_samples):
    wav = speechlike(n_samples / 16000)[:n_samples]
    ours = melspectrogram(wav)
    ref = wav2lip_reference(wav)
    assert ours.shape == ref.shape == (80, 1 + n_samples // 200)
    assert ours.dtype == np.float32
    assert np.abs(ours - ref).max() <= 1e-4
    assert ours.min() >= -4 and ours.max() <= 4 and ours.max() > 0  # real content, not all clipped


def test_melspectrogram_uses_reflect_not_zero_padding():
    wav = speechlike(1.0)
    emphasised = lfilter([1, -0.97], [1], wav)
    stft = librosa.stft(emphasised, n_fft=800, hop_length=200, center=True, pad_mode="constant")
    mel = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600) @ np.abs(stft)
    zero_padded = np.clip(8 * ((20 * np.log10(np.maximum(1e-5, mel)) - 20 + 100) / 100) - 4, -4, 4)
    ours = melspectrogram(wav)
    assert np.abs(ours[:, 0] - zero_padded[:, 0]).max() > 1e-2  # edge frames differ between paddings
    assert np.abs(ours[:, 0] - wav2lip_reference(wav)[:, 0]).max() <= 1e-4


def test_mel_windows_follow_the_edtalk_indexing():
    mel = np.arange(80 * 100, dtype=np.float32).reshape(80, 100)
    windows = mel_windows(mel, n_frames=40, fps=25)
    assert windows.shape == (40, 80, 16)
    for i in range(40):
        start = min(max(int(80.0 * (i - 2) / 25), 0), 100 - 16)  # the loop EDTalk/Wav2Lip run
        np.testing.assert_array_equal(windows[i], mel[:, start : start + 16])
    assert list(mel_window_starts(5)) == [-6, -3, 0, 3, 6]  # int() truncates toward zero
    np.testing.assert_array_equal(windows[-1], mel[:, -16:])  # clamped at the end


def test_mel_windows_need_16_mel_frames():
    with pytest.raises(ValueError, match="too short"):
        mel_windows(np.zeros((80, 10), np.float32), n_frames=3)


@pytest.mark.parametrize("fps", [25, 30, 29.97, 24, 12.5])
def test_audio_fitted_to_n_frames_covers_exactly_n_frames(fps):
    assert int(18560 / 16000 * 25) == 28  # the float trap: 29 frames' worth of samples read as 28
    assert frames_covered(18560, 25) == 29
    for n in range(1, 400):
        wav = fit_to_frames(np.ones(50, np.float32), n, fps)
        assert frames_covered(len(wav), fps) == n, n
        assert frames_covered(len(wav) - 1, fps) == n - 1, n  # the fewest samples that cover n
    np.testing.assert_array_equal(fit_to_frames(np.arange(1000, dtype=np.float32), 1, 25), np.arange(640))


def test_load_audio_mono_float32_and_stereo_mixdown(tmp_path):
    wav = speechlike(0.5)
    sf.write(tmp_path / "mono.wav", wav, 16000, subtype="FLOAT")
    loaded = load_audio(tmp_path / "mono.wav")
    assert loaded.dtype == np.float32 and loaded.ndim == 1
    np.testing.assert_allclose(loaded, wav, atol=1e-7)
    sf.write(tmp_path / "stereo.wav", np.stack([wav, -wav * 0.5], 1), 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(tmp_path / "stereo.wav"), wav * 0.25, atol=1e-6)


def test_load_audio_resamples_with_a_logged_note(tmp_path, caplog):
    rate = 22050
    t = np.arange(rate) / rate
    sf.write(tmp_path / "cd.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    with caplog.at_level(logging.INFO, logger="edtalk.data.audio"):
        loaded = load_audio(tmp_path / "cd.wav")
    assert len(loaded) == 16000
    spectrum = np.abs(np.fft.rfft(loaded))
    assert abs(np.argmax(spectrum) * 16000 / len(loaded) - 440) < 2  # still a 440 Hz tone
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "cd.wav" in message and "22050" in message and "16000" in message
    assert audio_info(tmp_path / "cd.wav").sample_rate == rate


def test_audio_errors_name_file_and_problem(tmp_path):
    with pytest.raises(AudioReadError, match="missing") as info:
        load_audio(tmp_path / "absent.wav")
    assert "absent.wav" in str(info.value)
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioReadError, match="zero-length"):
        load_audio(tmp_path / "empty.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF not really a wav file at all" * 10)
    with pytest.raises(AudioReadError, match="unreadable"):
        load_audio(tmp_path / "junk.wav")
    (tmp_path / "junk.m4a").write_bytes(b"\x00garbage" * 40)
    with pytest.raises(AudioReadError, match="junk.m4a"):
        load_audio(tmp_path / "junk.m4a")


def test_video_without_audio_track(tmp_path):
    from edtalk.data.video import write_video

    path = write_video(tmp_path / "mute.mp4", np.zeros((4, 16, 16, 3), np.uint8))
    with pytest.raises(AudioReadError, match="no audio stream"):
        load_audio(path)


def mux_int16(path, channels: np.ndarray, codec: str = "pcm_s16le", container: str = "mov"):
    """Write ``channels`` ((C, n) floats in [-1, 1], C = 1 or 2) as 16-bit audio with ``codec`` in a
    ``container`` file, from one packed (interleaved: L R L R ...) s16 frame at 16 kHz."""
    import av

    layout = {1: "mono", 2: "stereo"}[len(channels)]
    packed = (np.asarray(channels).T.reshape(1, -1) * 32767).astype(np.int16)
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=16000, layout=layout)
        frame = av.AudioFrame.from_ndarray(packed, format="s16", layout=layout)
        frame.sample_rate, frame.pts = 16000, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("codec, container", [("pcm_s16le", "mov"), ("flac", "matroska")])
def test_integer_audio_in_a_container_is_scaled_to_plus_minus_one(tmp_path, codec, container):
    """PCM/FLAC inside mov or mkv decode to int16: read as floats they came out 32768 times too loud."""
    t = np.arange(16000) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    name = f"speech.{'mov' if container == 'mov' else 'mkv'}"
    got = load_audio(mux_int16(tmp_path / name, wav[None], codec, container))
    assert np.abs(got).max() == pytest.approx(0.3, abs=0.01)
    np.testing.assert_allclose(got[: len(wav)], wav[: len(got)], atol=1e-3)


def test_packed_stereo_pcm_in_a_container_is_deinterleaved_and_mixed_down(tmp_path):
    """A camera's .MOV with stereo PCM decodes to packed frames (L R L R ...). Container audio was
    tested in mono only, and averaging the packed samples without splitting the channels passed:
    twice the length, interleaved samples, lips drifting from the sound."""
    t = np.arange(16000) / 16000
    left, right = 0.4 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)
    got = load_audio(mux_int16(tmp_path / "camera.mov", np.stack([left, right])))
    assert len(got) == 16000
    np.testing.assert_allclose(got, (left + right) / 2, atol=2e-3)


@pytest.mark.parametrize("n_samples", [1, 350, 400, 401, 599])
def test_a_waveform_of_fewer_than_401_samples_gives_three_mel_frames(n_samples):
    """``melspectrogram`` zero-pads a waveform of 400 samples or fewer to 401 (torch's reflect padding
    needs more samples than its 400-sample width): 3 frames, as its docstring says, where 350 samples
    raised a RuntimeError from torch when the threshold was lowered. Longer ones: 1 + len // 200."""
    wav = speechlike(1.0)[:n_samples]
    assert melspectrogram(wav).shape == (80, 1 + max(n_samples, 401) // 200)


def test_integer_samples_are_refused_where_floats_are_expected(tmp_path):
    """int16 PCM (scipy.io.wavfile's) went into the mel spectrogram as floats, 32768 times too loud: the
    mel saturated and the mouth moved differently, without a word; write_video muxed a track of peak
    about 1400 (a helper's library-API review)."""
    from edtalk.data.audio import from_pcm16, melspectrogram, pcm16
    from edtalk.data.video import write_video

    wav = (0.05 * np.sin(np.arange(8000) * 0.05)).astype(np.float32)
    with pytest.raises(
        ValueError, match="must be float samples in \\[-1, 1\\], got int16; convert 16-bit PCM"
    ):
        melspectrogram(pcm16(wav))
    assert (
        np.abs(melspectrogram(from_pcm16(pcm16(wav))) - melspectrogram(wav)).mean() < 1e-3
    )  # 16-bit rounding
    frames = np.zeros((4, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="got int16"):
        write_video(tmp_path / "v.mp4", frames, audio=pcm16(wav))
    assert not (tmp_path / "v.mp4").exists()
