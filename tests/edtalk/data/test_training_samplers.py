"""Who is paired with whom in the stage samplers (``edtalk.data.sampler.StageSampler``).

A tiny in-memory ``FrameCache`` whose every pixel stores its clip's index (red) and its own row of the
cache (green), and whose every mel window is filled with its row, so a sampled image or mel window
says exactly which frame it came from.
"""

import numpy as np
import pytest

from edtalk.data.clip import EMOTIONS
from edtalk.data.errors import DataError
from edtalk.data.mouth_swap import MOUTH
from edtalk.data.sampler import StageSampler
from edtalk.data.training import FrameCache

# (identity, emotion) per clip: identity 0 and 1 have one neutral clip, identity 2 has none
CLIPS = [(0, "neutral"), (0, "happy"), (0, "angry"), (1, "sad"), (1, "neutral"), (2, "fear"), (2, "happy")]
LENGTHS = [3, 5, 4, 7, 3, 6, 4]  # frames per clip: some shorter than the samplers' windows
START = np.concatenate([[0], np.cumsum(LENGTHS)[:-1]])
CLIP_OF_ROW = np.repeat(np.arange(len(CLIPS)), LENGTHS)


def _cache() -> FrameCache:
    n = len(CLIP_OF_ROW)
    frames = np.zeros((n, 4, 4, 3), np.uint8)
    frames[..., 0] = CLIP_OF_ROW[:, None, None] * 10
    frames[..., 1] = np.arange(n)[:, None, None]
    return FrameCache(
        frames=frames,
        landmarks=np.full((n, 68, 2), np.nan, np.float32),
        mels=np.broadcast_to(np.arange(n, dtype=np.float16)[:, None, None], (n, 80, 16)).copy(),
        start=START,
        length=np.array(LENGTHS),
        identity=np.array([i for i, _ in CLIPS]),
        emotion=np.array([EMOTIONS.index(e) for _, e in CLIPS]),
        clip_ids=[f"c{k}" for k in range(len(CLIPS))],
        identities=["id0", "id1", "id2"],
        transcripts=[f"transcript of c{k}" for k in range(len(CLIPS))],
    )


def _pixel(images, channel: int) -> np.ndarray:
    """The uint8 value of ``channel`` at pixel (0, 0) of each sampled image (..., 3, H, W) in [-1, 1]."""
    return ((images[..., channel, 0, 0] + 1.0) * 127.5).round().numpy().astype(int)


def _clip_index(images) -> np.ndarray:
    """The clip each sampled image came from (its red value / 10)."""
    return (_pixel(images, 0) / 10).round().astype(int)


def _row_index(images) -> np.ndarray:
    """The cache row each sampled image came from (its green value)."""
    return _pixel(images, 1)


def test_eg_pretrain_source_is_a_neutral_frame_of_the_targets_identity():
    batch = StageSampler(_cache(), seed=0).frame_pairs(256)
    src, tgt = _clip_index(batch["source"]), _clip_index(batch["target"])
    assert len(set(tgt)) == len(CLIPS)  # targets come from every clip, emotional ones included
    for s, t in zip(src, tgt, strict=True):
        assert CLIPS[s][0] == CLIPS[t][0]  # same person
        if CLIPS[t][0] in (0, 1):
            assert CLIPS[s][1] == "neutral"  # the official stage-1 MEAD pairing
    # an identity without a neutral clip still gets sources, from its own clips
    assert {s for s, t in zip(src, tgt, strict=True) if CLIPS[t][0] == 2} <= {5, 6}


def test_expression_source_is_neutral_and_driver_carries_its_clips_emotion():
    batch = StageSampler(_cache(), seed=1).expression_windows(128, window=3)
    src, drv = _clip_index(batch["source"]), _clip_index(batch["driving"])
    for s, d, emotion in zip(src, drv, batch["emotion"].tolist(), strict=True):
        assert CLIPS[s][0] == CLIPS[d][0]
        assert EMOTIONS[emotion] == CLIPS[d][1]
        if CLIPS[d][0] in (0, 1):
            assert CLIPS[s][1] == "neutral"


@pytest.mark.parametrize("window", [3, 5])
def test_expression_window_is_centred_on_the_driving_frame_within_its_clip(window):
    """The K frames whose expression features are averaged are t - K//2 .. t + K//2 around the driving
    frame t, clamped to its own clip: catches a window starting at t, or taken from another clip."""
    batch = StageSampler(_cache(), seed=4).expression_windows(256, window=window)
    drv, win = _row_index(batch["driving"]), _row_index(batch["window"])
    assert batch["window"].shape == (256, window, 3, 4, 4) and win.shape == (256, window)
    half, interior = window // 2, 0
    for d, rows in zip(drv, win, strict=True):
        clip = CLIP_OF_ROW[d]
        t, length = d - START[clip], LENGTHS[clip]
        expected = START[clip] + np.clip(np.arange(t - half, t + half + 1), 0, length - 1)
        assert rows.tolist() == expected.tolist(), (d, rows)
        if half <= t < length - half:  # away from the clip's ends: exactly the frames around t
            assert rows.tolist() == list(range(d - half, d + half + 1))
            interior += 1
    assert interior > 20
    assert len(set(drv)) == len(CLIP_OF_ROW)  # every frame drives, the first and last ones included


def _check_runs(batch, n_frames: int) -> np.ndarray:
    """``frames`` are ``n_frames`` consecutive rows of one clip, each with its own mel window; returns
    each sample's clip."""
    frames, mels = batch["frames"], batch["mels"]
    b = len(frames)
    assert frames.shape == (b, n_frames, 3, 4, 4) and mels.shape == (b, n_frames, 1, 80, 16)
    rows = _row_index(frames)
    clips = CLIP_OF_ROW[rows[:, 0]]
    for row, clip in zip(rows, clips, strict=True):
        first, length = row[0] - START[clip], LENGTHS[clip]
        assert 0 <= first <= length - n_frames, (row, length)
        assert row.tolist() == list(range(row[0], row[0] + n_frames)), row
    # mel window of sample i, frame t is the cache's window of exactly that frame's row
    wrong = np.argwhere((mels[:, :, 0].numpy() != rows[:, :, None, None]).any(axis=(2, 3)))
    assert not len(wrong), [(i, t, rows[i, t], mels[i, t, 0, 0, 0].item()) for i, t in wrong[:5]]
    return clips


def test_audio_windows_pair_each_frame_with_its_own_mel_window():
    """audio_lip / audio_pose: catches mel windows of another sample, frame or clip (unsynchronised
    audio), runs that are not consecutive frames of one clip, and a source frame of another clip."""
    batch = StageSampler(_cache(), seed=2).audio_windows(128, n_frames=4)
    clips = _check_runs(batch, 4)
    assert set(clips) == {c for c, n in enumerate(LENGTHS) if n >= 4}  # the 3-frame clips are left out
    assert (_clip_index(batch["source"]) == clips).all()
    assert batch["source"].shape == (128, 3, 4, 4)


def test_emotion_clips_pair_frames_mels_transcript_and_emotion_of_one_clip():
    """audio_expression: frames, mel windows, transcript and emotion all of the sampled clip."""
    batch = StageSampler(_cache(), seed=3).emotion_clips(64, n_frames=5)
    clips = _check_runs(batch, 5)
    assert set(clips) == {c for c, n in enumerate(LENGTHS) if n >= 5}
    assert batch["transcripts"] == [f"transcript of c{c}" for c in clips]
    assert [EMOTIONS[e] for e in batch["emotion"].tolist()] == [CLIPS[c][1] for c in clips]


def test_the_audio_stages_leave_out_clips_shorter_than_their_run_and_name_a_split_with_none():
    """A clip shorter than an audio stage's T frames trained with its last frame repeated: a frozen
    mouth and head for L_sync, L_tem and the flow. Now it is left out of that stage's draws (the
    frames-only stages keep it); a cache with no clip long enough is one DataError."""
    sampler = StageSampler(_cache(), seed=5)
    assert set(CLIP_OF_ROW[_row_index(sampler.audio_windows(256, n_frames=6)["frames"])[:, 0]]) == {3, 5}
    assert set(_clip_index(sampler.frame_pairs(256)["target"])) == set(range(len(CLIPS)))
    for draw in (sampler.audio_windows, sampler.emotion_clips):
        with pytest.raises(
            DataError, match=r"none of the 7 clips with audio .* 8 consecutive .*longest has 7\)"
        ):
            draw(2, n_frames=8)


# frames per clip: every clip at least the 10 frames of audio_pose, as synthtalk's (50 to 78 frames)
LONG = [12, 15, 10, 11]


def test_draws_of_clips_long_enough_for_every_stage_are_unchanged():
    """Leaving short clips out of the audio stages' draws must not change the draws where none is short
    (the demo's synthtalk clips): the rows below are those the sampler drew before the change."""
    n = sum(LONG)
    frames = np.zeros((n, 4, 4, 3), np.uint8)
    frames[..., 1] = np.arange(n)[:, None, None]
    cache = FrameCache(
        frames=frames,
        landmarks=np.full((n, 68, 2), np.nan, np.float32),
        mels=np.broadcast_to(np.arange(n, dtype=np.float16)[:, None, None], (n, 80, 16)).copy(),
        start=np.concatenate([[0], np.cumsum(LONG)[:-1]]),
        length=np.array(LONG),
        identity=np.array([0, 0, 1, 1]),
        emotion=np.array([EMOTIONS.index(e) for e in ("neutral", "happy", "neutral", "sad")]),
        clip_ids=["c0", "c1", "c2", "c3"],
        identities=["id0", "id1"],
        transcripts=[""] * 4,
    )
    sampler = StageSampler(cache, seed=0)
    lip, pose, emotion = (
        sampler.audio_windows(3, 5),
        sampler.audio_windows(3, 10),
        sampler.emotion_clips(3, 5),
    )
    assert _row_index(lip["frames"])[:, 0].tolist() == [38, 28, 27]
    assert _row_index(lip["source"]).tolist() == [37, 27, 28]
    assert _row_index(pose["frames"])[:, 0].tolist() == [38, 27, 38]
    assert _row_index(emotion["frames"])[:, 0].tolist() == [28, 31, 41]
    assert _row_index(sampler.frame_pairs(3)["target"]).tolist() == [6, 12, 45]


def test_run_frames_reads_the_t_each_audio_stage_samples():
    from edtalk.data.sampler import run_frames
    from edtalk.stages import get_stage
    from edtalk.train_chain import stage_config_for

    def frames(stage: str, **overrides) -> int:
        return run_frames(
            get_stage(stage).sample, stage_config_for(stage, preset="tiny", overrides=overrides)
        )

    assert (
        frames("audio_lip") == 5
        and frames("audio_lip", n_frames=3) == 5
        and frames("audio_lip", n_frames=7) == 7
    )
    assert frames("audio_pose") == 10 and frames("audio_expression") == 5


# --- mouth_pose: I^a, I^b and the mouth-swapped I^{m_a}_{p_b}, I^{m_b}_{p_a} --------------------------

FACE_SIZE = 64
# identities 0 and 1 have a neutral clip, identity 2 has none
FACE_CLIPS = [(0, "neutral"), (0, "happy"), (1, "sad"), (1, "neutral"), (2, "fear")]
FACE_LENGTHS = [2, 2, 2, 3, 2]


def _landmarks(shift: float) -> np.ndarray:
    """Plausible 68 landmarks (as in test_mouth_swap.py): eyes at y=0.35, mouth ring at y=0.72 (x size)."""
    size = FACE_SIZE
    lm = np.random.default_rng(0).uniform(0.3, 0.7, (68, 2)).astype(np.float32) * size
    lm[36:42] = [0.33 * size + shift, 0.35 * size]
    lm[42:48] = [0.67 * size + shift, 0.35 * size]
    a = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    lm[48:68] = np.stack(
        [0.5 * size + shift + 0.12 * size * np.cos(a), 0.72 * size + 0.05 * size * np.sin(a)], 1
    )
    return lm


def _face_cache() -> tuple[FrameCache, np.ndarray]:
    """Flat frames whose red value is 10 * row + 5 (rows stay apart through the mask's feathering), and
    landmarks shifted per identity; returns the cache and the clip of each row."""
    clip_of_row = np.repeat(np.arange(len(FACE_CLIPS)), FACE_LENGTHS)
    n = len(clip_of_row)
    frames = np.zeros((n, FACE_SIZE, FACE_SIZE, 3), np.uint8)
    frames[..., 0] = (10 * np.arange(n) + 5)[:, None, None]
    frames[..., 1] = 128
    identity = np.array([i for i, _ in FACE_CLIPS])
    landmarks = np.stack([_landmarks(3.0 * (identity[c] - 1)) for c in clip_of_row])
    cache = FrameCache(
        frames=frames,
        landmarks=landmarks,
        mels=np.zeros((n, 80, 16), np.float16),
        start=np.concatenate([[0], np.cumsum(FACE_LENGTHS)[:-1]]),
        length=np.array(FACE_LENGTHS),
        identity=identity,
        emotion=np.array([EMOTIONS.index(e) for _, e in FACE_CLIPS]),
        clip_ids=[f"c{k}" for k in range(len(FACE_CLIPS))],
        identities=["id0", "id1", "id2"],
        transcripts=[""] * len(FACE_CLIPS),
    )
    return cache, clip_of_row


def _face_row(images, y: int | np.ndarray, x: int | np.ndarray) -> np.ndarray:
    """The cache row whose colour the pixel (y, x) of each image (B, 3, H, W) carries."""
    red = ((images[np.arange(len(images)), 0, y, x] + 1.0) * 127.5).numpy()
    return np.round((red - 5) / 10).astype(int)


def test_mouth_swap_pairs_put_as_mouth_on_bs_face_and_bs_mouth_on_as_face():
    """ma_pb is b's frame (face, pose, background) with a's mouth, mb_pa the mirror, both built from the
    very frames returned as a and b, of two different people: catches donor and recipient swapped
    (the mouth_pose loss would then pair each swap with the wrong driver)."""
    cache, clip_of_row = _face_cache()
    batch = StageSampler(cache, seed=5).mouth_swap_pairs(48)
    row = {k: _face_row(batch[k], 2, 2) for k in ("a", "b", "id_a", "id_b")}
    identity = cache.identity[clip_of_row]
    assert (identity[row["a"]] != identity[row["b"]]).all()
    assert (identity[row["id_a"]] == identity[row["a"]]).all()
    assert (identity[row["id_b"]] == identity[row["b"]]).all()
    for key in ("a", "b"):  # identities 0 and 1 have a neutral clip: it is preferred
        has_neutral = identity[row[key]] < 2
        assert all(FACE_CLIPS[c][1] == "neutral" for c in clip_of_row[row[key]][has_neutral])
    assert len(set(identity[row["a"]])) == 3  # every identity takes part
    # the mouth centre of the recipient (whose landmarks place the mask) shows the donor's colour,
    # the far corner the recipient's own
    for swapped, donor, recipient in (("ma_pb", "a", "b"), ("mb_pa", "b", "a")):
        centre = cache.landmarks[row[recipient]][:, MOUTH].mean(1).round().astype(int)
        assert (_face_row(batch[swapped], centre[:, 1], centre[:, 0]) == row[donor]).all(), swapped
        assert (_face_row(batch[swapped], 2, 2) == row[recipient]).all(), swapped
        assert (_face_row(batch[swapped], FACE_SIZE - 3, 2) == row[recipient]).all(), swapped


def test_mouth_swap_pairs_need_landmarks_and_may_use_every_clip():
    """A cache without landmarks is refused with a message saying so; ``neutral_only=False`` also draws
    emotional clips."""
    with pytest.raises(DataError, match="68-point landmarks"):
        StageSampler(_cache(), seed=0).mouth_swap_pairs(2)
    cache, clip_of_row = _face_cache()
    batch = StageSampler(cache, seed=6).mouth_swap_pairs(48, neutral_only=False)
    emotions = {FACE_CLIPS[c][1] for c in clip_of_row[_face_row(batch["a"], 2, 2)]}
    assert emotions - {"neutral"}  # without the neutral preference, emotional clips come too
