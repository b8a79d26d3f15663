"""LSE-C / LSE-D with the synthtalk sync judge (``backbone="synthtalk_sync_judge"``): the metric is
the offset-search maths on the judge's own window embeddings, shifts change it, merges are exact,
and the settings refuse what the judge cannot do."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import eval.backbones as backbones
from edtalk import weights
from edtalk.experts.store import install_judge, save_expert
from edtalk.experts.sync_net import SyncNetConfig, SyncNetJudge, shift_audio
from eval.context import ClipContext
from eval.metrics import get_metric
from eval.metrics.functional.lse import lse

JUDGE = "synthtalk_sync_judge"


def _talking_clip(seed: int, t: int = 60, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A grey face with a dark mouth whose height follows a random envelope; the audio is a
    tone whose loudness follows the same envelope (in sync by construction)."""
    rng = np.random.default_rng(seed)
    env = np.clip(np.convolve(rng.uniform(-0.6, 1.4, t), np.ones(3) / 3, mode="same"), 0, 1)
    frames = np.full((t, size, size, 3), (200, 170, 150), np.uint8)
    for i, e in enumerate(env):
        h = int(1 + 0.12 * size * e)
        top = int(0.64 * size) - h // 2
        frames[i, top : top + h, int(0.38 * size) : int(0.62 * size)] = (90, 20, 30)
    time = np.arange(t * 640) / 16000
    wav = (0.3 * np.repeat(env, 640) * np.sin(2 * np.pi * (160 + 20 * seed) * time)).astype(np.float32)
    return frames, wav


@pytest.fixture
def seeded_judge(tmp_path, monkeypatch):
    """A seeded (untrained) sync judge installed as ``synthtalk_sync_judge`` in a tmp weights dir."""
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    backbones.clear_cache()
    torch.manual_seed(0)
    model = SyncNetJudge(SyncNetConfig()).eval()
    install_judge(JUDGE, save_expert(model, "sync_net", "judge", ["st002"], tmp_path / "out"))
    yield model
    backbones.clear_cache()


def test_judge_lse_is_offset_search_on_judge_embeddings(seeded_judge):
    frames, wav = _talking_clip(0)
    late = shift_audio(wav, 10)  # audio 10 frames late
    ctx_sync = ClipContext.from_arrays(None, frames, audio=wav, clip_id="sync")
    ctx_late = ClipContext.from_arrays(None, frames, audio=late, clip_id="late")
    c = get_metric("lse_c")(backbone=JUDGE, crop="none", size=224, vshift=15)
    d = get_metric("lse_d")(backbone=JUDGE, crop="none", size=224, vshift=15)
    assert c.weights_needed() == (JUDGE,)

    for ctx, audio in ((ctx_sync, wav), (ctx_late, late)):
        ref = lse(seeded_judge.video_features(frames), seeded_judge.audio_features(audio, len(frames)), 15)
        assert c.clip_value(c.clip_state(ctx)) == pytest.approx(ref["lse_c"], abs=1e-9)
        assert d.clip_value(d.clip_state(ctx)) == pytest.approx(ref["lse_d"], abs=1e-9)
        # one judge pass per clip serves both metrics
        assert sum(k[0] == "judge_sync" for k in ctx._memo) == 1
    conf_sync = c.clip_value(c.clip_state(ctx_sync))
    conf_late = c.clip_value(c.clip_state(ctx_late))
    assert conf_sync != pytest.approx(conf_late, abs=1e-6)

    # merged per-clip states == one pass over both clips
    merged = c.compute(c.merge(c.clip_state(ctx_late), c.clip_state(ctx_sync)))
    c.reset()
    for ctx in (ctx_sync, ctx_late):
        c.update(ctx)
    single = c.value()
    assert merged["n"] == single["n"] == 2
    assert merged["value"] == pytest.approx(single["value"], abs=1e-12)
    assert single["value"] == pytest.approx((conf_sync + conf_late) / 2, abs=1e-12)


def test_lse_settings_validation_and_weights():
    assert get_metric("lse_c")().weights_needed() == ("syncnet_v2",)
    assert get_metric("lse_d")(crop="s3fd_track").weights_needed() == ("syncnet_v2", "syncnet_sfd_face")
    # EAT's Sync crop finds its landmarks with face-alignment (2DFAN-4 + S3FD)
    assert get_metric("lse_c")(crop="pcavs_align").weights_needed() == ("syncnet_v2", "fan_2dfan4", "s3fd")
    with pytest.raises(ValueError, match="backbone"):
        get_metric("lse_c")(backbone="syncnet_v3")
    with pytest.raises(ValueError, match="own mouth box"):
        get_metric("lse_c")(backbone=JUDGE, crop="pcavs_align")
    with pytest.raises(ValueError, match="224"):
        get_metric("lse_c")(crop="s3fd_track", size=128)
    with pytest.raises(TypeError, match="unknown setting"):
        get_metric("lse_c")(aggregation="median")


def test_missing_judge_is_missing_weights_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "empty"))
    backbones.clear_cache()
    frames, wav = _talking_clip(1, t=20)
    ctx = ClipContext.from_arrays(None, frames, audio=wav)
    with pytest.raises(weights.MissingWeightsError, match=JUDGE):
        get_metric("lse_c")(backbone=JUDGE).clip_state(ctx)
    backbones.clear_cache()


@pytest.mark.slow
def test_trained_judge_finds_a_ten_frame_shift(tmp_path, monkeypatch):
    """A judge trained briefly on the fixture judge split recovers a 10-frame audio delay and is
    more confident on the in-sync clip (real training; a few minutes on 2 shared cores)."""
    from edtalk.experts.data import load_split
    from edtalk.experts.testing import make_fixture_dataset
    from edtalk.experts.train import TrainSettings, train_sync_net

    data = make_fixture_dataset(tmp_path / "st", n_clips=3, n_frames=60, size=64)
    clips = load_split(data, "judge", progress=False)
    model = train_sync_net(clips, TrainSettings(sync_steps=150, sync_clips=4, progress=False))
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    backbones.clear_cache()
    install_judge(JUDGE, save_expert(model, "sync_net", "judge", ["st002", "st003"], tmp_path / "out"))
    from edtalk.data.audio import load_audio
    from edtalk.data.video import read_video

    test_id = (data / "splits" / "test.txt").read_text().split()[0]  # a held-out identity
    frames = read_video(data / "clips" / f"{test_id}.mp4").frames
    wav = load_audio(data / "clips" / f"{test_id}.wav")
    c = get_metric("lse_c")(backbone=JUDGE)
    in_sync = ClipContext.from_arrays(None, frames, audio=wav)
    late = ClipContext.from_arrays(None, frames, audio=shift_audio(wav, 10))
    feats = late.feature("judge_sync", "pred")
    assert lse(feats["video"], feats["audio"], 15)["offset"] == -10
    assert c.clip_value(c.clip_state(in_sync)) > c.clip_value(c.clip_state(late))
    backbones.clear_cache()


def test_too_little_speech_for_the_sync_judge_says_how_much_there_is(seeded_judge):
    """ "0 frames with audio; the sync judge needs 6" named neither the audio's length nor the clip's."""
    from eval.metrics.base import ClipFailure

    frames, wav = _talking_clip(1, t=12)
    ctx = ClipContext.from_arrays(None, frames, audio=wav[:1600], clip_id="quiet")
    with pytest.raises(ClipFailure, match=r"clip quiet: 2 frames with audio \(0.10 s beside 12 frames\)"):
        get_metric("lse_c")(backbone=JUDGE, crop="none", size=224).clip_state(ctx)
