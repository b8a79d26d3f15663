"""synthtalk audio is synchronous with the mouth: a known shift of the audio is recovered exactly, on the
factor tracks and on the mouth drawn in the frames."""

import numpy as np
import pytest

from edtalk.data.synthtalk import make_clip, sample_identity
from edtalk.data.synthtalk.clip import landmarks_only
from edtalk.data.synthtalk.visemes import text_visemes, timeline_from_text

HOP = 640  # samples per 40 ms video frame at 16 kHz


def _energy(audio: np.ndarray, n_frames: int) -> np.ndarray:
    audio = np.pad(audio, (0, max(0, n_frames * HOP - len(audio))))[: n_frames * HOP]
    return np.sqrt((audio.reshape(n_frames, HOP) ** 2).mean(1))


def _best_lag(energy: np.ndarray, mouth: np.ndarray, max_lag: int = 15) -> int:
    scores = []
    for lag in range(-max_lag, max_lag + 1):
        a = energy[lag:] if lag >= 0 else energy[: len(energy) + lag]
        b = mouth[: len(mouth) - lag] if lag >= 0 else mouth[-lag:]
        scores.append(np.corrcoef(a, b)[0, 1])
    return int(np.argmax(scores)) - max_lag


def _make_clips(render: bool) -> list:
    identity = sample_identity(np.random.default_rng(3))
    return [
        make_clip(
            identity,
            emotion,
            2,
            np.random.default_rng(seed),
            size=64,
            min_duration=3.6,
            max_duration=4.0,
            render=render,
        )
        for emotion, seed in (("happy", 1), ("sad", 2), ("angry", 3))
    ]


@pytest.fixture(scope="module")
def clips():
    return _make_clips(render=False)


@pytest.fixture(scope="module")
def rendered_clips():
    """The same three clips with their frames drawn (64 px, ~0.7 s each)."""
    return _make_clips(render=True)


def _dark_lip_pixels(clip) -> np.ndarray:
    """Per frame, the dark pixels (< 60) inside the inner-lip box (landmarks 60-67, +-2 px): the open
    mouth as drawn in the frame."""
    dark = []
    for frame, lm in zip(clip.frames, clip.landmarks, strict=True):
        x0, y0 = np.floor(lm[60:68].min(0)).astype(int) - 2
        x1, y1 = np.ceil(lm[60:68].max(0)).astype(int) + 2
        patch = frame[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1].astype(float).mean(-1)
        dark.append((patch < 60).sum())
    return np.array(dark, float)


def test_audio_energy_follows_mouth_openness(clips):
    for clip in clips:
        energy = _energy(clip.audio, clip.n_frames)
        assert np.corrcoef(energy, clip.factors["mouth_open"])[0, 1] > 0.6
        closed = clip.factors["mouth_open"] < 0.01
        assert closed.any() and energy[closed].max() < 0.1 * energy.max(), "silence when the mouth is closed"


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7, 10])
def test_shifted_audio_offset_is_recovered(clips, k):
    for clip in clips:
        delayed = np.concatenate([np.zeros(k * HOP, np.float32), clip.audio])[: len(clip.audio)]
        assert _best_lag(_energy(delayed, clip.n_frames), clip.factors["mouth_open"]) == k
        assert _best_lag(_energy(clip.audio, clip.n_frames), clip.factors["mouth_open"]) == 0


def test_audio_length_and_sentence_timeline(clips):
    for clip in clips:
        assert len(clip.audio) == clip.n_frames * HOP
        assert clip.visemes[0]["start"] == 0.0 and clip.visemes[-1]["end"] == pytest.approx(
            clip.n_frames / 25
        )
        assert all(
            a["end"] == pytest.approx(b["start"])
            for a, b in zip(clip.visemes, clip.visemes[1:], strict=False)
        )
    assert [v for v, _ in text_visemes("mama")] == ["MBP", "AA", "MBP", "AA"]
    timed = timeline_from_text("Stop that right now.", rate=1.0, lead=0.3, max_speech=1.0)
    assert timed[0]["start"] == 0.3 and timed[-1]["end"] <= 1.3 + 1e-6


def test_the_mouth_drawn_in_the_frames_follows_the_audio_at_lag_0(rendered_clips):
    """The frames, not only the factor tracks, are in sync: frames drawn from an earlier frame's factors
    (a lag of 3 frames measured -3 here, correlation ~0.1) fail."""
    for clip in rendered_clips:
        energy, dark = _energy(clip.audio, clip.n_frames), _dark_lip_pixels(clip)
        assert _best_lag(energy, dark) == 0, clip.emotion
        assert np.corrcoef(energy, dark)[0, 1] > 0.5, clip.emotion  # measured 0.76 .. 0.92


def test_each_frames_landmarks_come_from_its_own_factor_row(clips, rendered_clips):
    """Frame i (and the landmarks written beside it) shows the sidecar's factor row i, rendered or not:
    landmarks drawn from another row's factors fail."""
    for clip in clips + rendered_clips:
        for i in range(clip.n_frames):
            expected = landmarks_only(clip.identity_params, clip.factors_at(i), clip.expression, clip.size)
            assert np.allclose(clip.landmarks[i], expected, atol=1e-6), (clip.emotion, i)
