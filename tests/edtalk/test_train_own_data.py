"""`python -m edtalk.train` on a researcher's own data (`--data folder:DIR`, `mead:DIR`, `hdtf:DIR`):
the checks before Ray and the frame cache the CLI builds from the split, with clips that are bad."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import soundfile as sf

from edtalk.config import ConfigError, ModelConfig, TrainConfig
from edtalk.data.video import write_video


def _clip(folder, name, frames, fps=25.0, audio_seconds=1.0):
    """``folder/name.mp4`` (+ ``name.wav``, a 16 kHz tone, unless ``audio_seconds`` is None)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_video(folder / f"{name}.mp4", frames, fps=fps)
    if audio_seconds is not None:
        t = np.arange(int(16000 * audio_seconds)) / 16000
        sf.write(folder / f"{name}.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)


def test_clips_at_another_frame_rate_or_with_too_little_audio_are_left_out_by_name(
    tmp_path, noisy_faces, monkeypatch
):
    """Before: a clip with under 0.2 s of audio ended the cache build, and the run, with a ValueError
    traceback naming no file; a 30 fps clip was cached as if it were 25 fps (each frame's 1/25 s of
    audio misplaced). Both are now left out with their file and the fix, and the other clips train."""
    import edtalk.data.training as training
    from edtalk.data.errors import DataError
    from edtalk.data.training import load_frame_cache
    from edtalk.train_cache import prepare_cache

    rng = np.random.default_rng(0)
    root = tmp_path / "faces"
    _clip(root, "good", noisy_faces(rng, 25))
    _clip(root, "phone", noisy_faces(rng, 30), fps=30.0)
    _clip(root, "blip", noisy_faces(rng, 3), audio_seconds=0.12)
    cfg = TrainConfig(
        data=f"folder:{root}", out=str(tmp_path / "runs"), cache=str(tmp_path / "runs" / "cache")
    )
    cache = load_frame_cache(prepare_cache(cfg, ModelConfig.preset("tiny")))
    assert cache.clip_ids == ["good"]
    reasons = dict(cache.skipped)
    assert reasons["phone"] == (
        f"{root / 'phone.mp4'}: 30 fps, not the 25 fps the networks take; "
        "`python -m edtalk.data.crop dataset --dataset folder --root RAW --out CROPPED` makes them; train on "
        "CROPPED"
    )
    assert reasons["blip"].startswith(f"{root / 'blip.wav'}: audio too short")

    # a split at another frame rate throughout stops at the sampled headers, before any decoding
    only_30 = tmp_path / "phone_videos"
    _clip(only_30, "a", noisy_faces(rng, 6), fps=30.0, audio_seconds=None)
    _clip(only_30, "b", noisy_faces(rng, 6), fps=30.0, audio_seconds=None)
    cfg = TrainConfig(data=f"folder:{only_30}", cache=str(tmp_path / "runs" / "cache"))
    monkeypatch.setattr(training, "decode_clips", lambda *a: pytest.fail("decoded a split of 30 fps video"))
    with pytest.raises(DataError, match=r"a\.mp4: 30 fps, not the 25 fps"):
        prepare_cache(cfg, ModelConfig.preset("tiny"))


def _no_cache(monkeypatch):
    from edtalk import train

    monkeypatch.setattr(train, "prepare_cache", lambda *a, **k: pytest.fail("built the frame cache first"))


def test_missing_loss_experts_on_own_data_are_named_before_the_frame_cache(tmp_path, monkeypatch, capsys):
    """Before: only after the whole split was decoded (hours for MEAD) did the run find it could not
    train L_mot's or L^m_sync's experts on non-synthtalk data, with a message naming neither stage nor
    the shipped set; and experts of another set left in <out>/experts under --experts pretrained:NAME
    ended it with a ValueError traceback. Both are now one error line before any work."""
    from edtalk.train import main

    _no_cache(monkeypatch)
    out = tmp_path / "runs"
    run = ["--preset", "tiny", "--workers", "1", "--data", f"folder:{tmp_path}", "--out", str(out)]
    run += ["--parent", "pretrained:tiny_synthtalk_eg"]
    assert main(["--stages", "expression,audio_lip", *run]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: loss experts ['face_analyser', 'sync_net'] (read by the losses of expression, "
    )
    assert (
        f"not found in {out / 'experts'}" in err and "--experts pretrained:tiny_synthtalk_loss_experts" in err
    )
    assert "synthtalk_face_expert.safetensors, synthtalk_sync_expert.safetensors" in err
    assert "Traceback" not in err and not out.exists()

    (out / "experts").mkdir(parents=True)
    (out / "experts" / "synthtalk_sync_expert.safetensors").write_bytes(b"another run's expert")
    assert main(["--stage", "audio_lip", *run, "--experts", "pretrained:tiny_synthtalk_loss_experts"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out / 'experts' / 'synthtalk_sync_expert.safetensors'}: not the file of")
    assert "Traceback" not in err and not (out / "cache").exists()


def test_max_steps_lists_read_as_typed():
    """``STAGE = N`` (spaces) and a trailing comma read as meant; a stage given twice or a bare N in a
    list is refused, not silently the last value or 'unknown training stage '5''."""
    from edtalk.train import parse_max_steps

    assert parse_max_steps("eg_pretrain = 3, mouth_pose=4,") == {"eg_pretrain": 3, "mouth_pose": 4}
    assert parse_max_steps(" 5 ") == {"*": 5}
    for bad, message in (
        ("eg_pretrain=3,eg_pretrain=5", "eg_pretrain is given steps twice"),
        ("eg_pretrain=3,5", "'5': give N for every stage, or STAGE=N for each listed"),
        ("eg_pretrian=3", "Did you mean 'eg_pretrain'"),
    ):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse_max_steps(bad)


def test_a_folder_split_overlapping_its_test_list_names_the_train_list_to_write(tmp_path):
    """A folder dataset with lists/test.txt and no lists/train.txt trains on every clip, test ones
    too, and is refused; the advice was "train on 'train'", which the run already did."""
    from edtalk.data.held_out import training_clips

    for name in ("a", "b"):
        (tmp_path / f"{name}.mp4").write_bytes(b"")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "test.txt").write_text("b\n")
    with pytest.raises(ConfigError) as err:
        training_clips("folder", tmp_path, "train")
    message = str(err.value)
    assert "1 of the test split (first: b)" in message and "train on 'train'" not in message
    assert f"list the clips to train on, leaving them out, in {tmp_path / 'lists' / 'train.txt'}" in message


def test_a_parent_folder_is_named_as_a_folder(tmp_path, capsys):
    """``--parent runs/eg_pretrain`` (the stage folder) said 'no such checkpoint' of a folder that exists."""
    from edtalk.train import main

    (tmp_path / "eg_pretrain").mkdir()
    argv = ["--stage", "mouth_pose", "--parent", str(tmp_path / "eg_pretrain"), "--out", str(tmp_path / "r")]
    assert main([*argv, "--data", f"folder:{tmp_path}"]) == 2
    assert "a folder, not a checkpoint; give its final.pt" in capsys.readouterr().err


def test_one_clip_failing_unforeseen_or_with_nan_audio_is_left_out_not_the_runs_end(
    tmp_path, noisy_faces, monkeypatch
):
    """Before: any error but a DataError on one clip (a decoder's RuntimeError, say) ended the cache
    build and the run with a traceback, hours into a large split; a wav of NaN samples (silence
    normalised by its peak) was cached, to end the audio stages with non-finite losses."""
    import edtalk.data.cache_decode as cache_decode
    from edtalk.data.training import load_frame_cache
    from edtalk.train_cache import prepare_cache

    rng = np.random.default_rng(1)
    root = tmp_path / "faces"
    for name in ("good", "odd", "nan"):
        _clip(root, name, noisy_faces(rng, 6))
    sf.write(root / "nan.wav", np.full(4000, np.nan, np.float32), 16000, subtype="FLOAT")

    def landmarks(clip, frames, size):
        if clip.id == "odd":
            raise RuntimeError("odd frame")
        return np.zeros((len(frames), 68, 2), np.float32), 0

    monkeypatch.setattr(cache_decode, "_clip_landmarks", landmarks)
    cfg = TrainConfig(data=f"folder:{root}", cache=str(tmp_path / "cache"))
    cache = load_frame_cache(prepare_cache(cfg, ModelConfig.preset("tiny")))
    assert cache.clip_ids == ["good"]
    assert dict(cache.skipped) == {
        "nan": f"{root / 'nan.wav'}: audio holds NaN or infinite samples",
        "odd": f"{root / 'odd.mp4'}: failed (RuntimeError: odd frame)",
    }


def test_clips_without_audio_train_the_frames_only_stages_and_not_the_audio_ones(
    tmp_path, noisy_faces, monkeypatch, capsys
):
    """A video with no audio track (and no wav beside it) was left out of the frame cache as unreadable,
    so a split of silent face videos could not train even eg_pretrain, which reads frames only. It is
    cached with zero audio and named in ``no_audio``: the audio stages' batches never draw it, and a
    split with no audio at all is refused for them before Ray starts."""
    import edtalk.data.cache_decode as cache_decode
    from edtalk import train
    from edtalk.data.errors import DataError
    from edtalk.data.sampler import StageSampler
    from edtalk.data.training import load_frame_cache
    from edtalk.train_cache import prepare_cache

    monkeypatch.setattr(
        cache_decode, "_clip_landmarks", lambda clip, frames, size: (np.zeros((len(frames), 68, 2)), 0)
    )
    rng = np.random.default_rng(2)
    root = tmp_path / "faces"
    _clip(root, "talks", noisy_faces(rng, 8))
    _clip(root, "silent", noisy_faces(rng, 8), audio_seconds=None)  # no wav, no audio track
    cfg = TrainConfig(data=f"folder:{root}", cache=str(tmp_path / "cache"))
    path = prepare_cache(cfg, ModelConfig.preset("tiny"))
    cache = load_frame_cache(path)
    assert cache.clip_ids == ["silent", "talks"] and cache.no_audio == ("silent",) and not cache.skipped
    assert "1 of 2 training clips have no audio" in capsys.readouterr().err
    silent = cache.start[0] + np.arange(cache.length[0])
    assert not np.asarray(cache.mels[silent]).any()
    sampler = StageSampler(cache, seed=0)
    for _ in range(5):  # the audio stages' batches: the talking clip's frames only
        batch = sampler.audio_windows(4, 5)
        assert batch["mels"].abs().sum(dim=(1, 2, 3, 4)).min() > 0
    assert train.silent_split(path, {"audio_lip": 5}) is None

    quiet = tmp_path / "quiet"
    _clip(quiet, "a", noisy_faces(rng, 8), audio_seconds=None)
    cfg = TrainConfig(data=f"folder:{quiet}", cache=str(tmp_path / "cache"))
    path = prepare_cache(cfg, ModelConfig.preset("tiny"))
    assert train.silent_split(path, {}) is None  # eg_pretrain alone trains
    assert "audio_lip, audio_pose train on it" in train.silent_split(path, {"audio_lip": 5, "audio_pose": 10})
    with pytest.raises(DataError, match="none of the 1 clips of this frame cache has audio"):
        StageSampler(load_frame_cache(path)).emotion_clips(2, 5)


def test_clips_whose_audio_is_too_short_for_their_video_are_kept_out_of_the_audio_stages_by_name(
    tmp_path, noisy_faces, monkeypatch, capsys
):
    """Audio 0.5 s long for 1 s of video was cached padded with silence, without a word: the audio
    stages trained on the last half second of moving mouths paired with silence. Audio more than
    ``MAX_LENGTH_MISMATCH_S`` shorter than its video (the doctor's threshold) now keeps the clip out of
    the audio stages, named with both lengths; audio a frame short, or longer, is used as before."""
    import edtalk.data.cache_decode as cache_decode
    from edtalk import train
    from edtalk.data.training import load_frame_cache
    from edtalk.train_cache import prepare_cache

    monkeypatch.setattr(
        cache_decode, "_clip_landmarks", lambda clip, frames, size: (np.zeros((len(frames), 68, 2)), 0)
    )
    rng = np.random.default_rng(3)
    root = tmp_path / "faces"
    _clip(root, "whole", noisy_faces(rng, 25), audio_seconds=1.0)
    _clip(root, "frame_short", noisy_faces(rng, 25), audio_seconds=0.96)  # one frame: within tolerance
    _clip(root, "longer", noisy_faces(rng, 25), audio_seconds=1.5)
    _clip(root, "cut", noisy_faces(rng, 25), audio_seconds=0.5)
    _clip(root, "silent", noisy_faces(rng, 25), audio_seconds=None)
    cfg = TrainConfig(data=f"folder:{root}", cache=str(tmp_path / "cache"))
    path = prepare_cache(cfg, ModelConfig.preset("tiny"))
    cache = load_frame_cache(path)
    assert sorted(cache.no_audio) == ["cut", "silent"] and not cache.skipped
    reason = f"{root / 'cut.wav'}: 0.50 s of audio for 1.00 s of video (25 frames)"
    assert cache.short_audio == (("cut", reason),)
    err = capsys.readouterr().err
    assert (
        "note: 1 of 5 training clips have no audio (no audio file and no audio track; first: silent)" in err
    )
    assert "note: 1 of 5 training clips have audio more than 0.1 s shorter than their video" in err
    assert reason in err
    cut = cache.start[cache.clip_ids.index("cut")] + np.arange(25)
    assert not np.asarray(cache.mels[cut]).any()  # zeros: the audio stages never read them

    alone = tmp_path / "alone"
    _clip(alone, "cut", noisy_faces(rng, 25), audio_seconds=0.5)
    path = prepare_cache(
        TrainConfig(data=f"folder:{alone}", cache=str(tmp_path / "cache")), ModelConfig.preset("tiny")
    )
    problem = train.silent_split(path, {"audio_lip": 5})
    assert (
        "none of the 1 training clips has audio the audio stages can use (1 with audio too short" in problem
    )


def test_a_cache_built_before_the_short_audio_rule_is_decoded_again(
    tmp_path, noisy_faces, monkeypatch, capsys
):
    """A version-2 cache held a short-audio clip among the audio stages' clips, padded with silence;
    its rows were reused (or copied into a new cache) as they were. Version 3 decodes the clips again."""
    import json
    import shutil

    import edtalk.data.cache_decode as cache_decode
    from edtalk.data.training import load_frame_cache
    from edtalk.train_cache import prepare_cache

    monkeypatch.setattr(
        cache_decode, "_clip_landmarks", lambda clip, frames, size: (np.zeros((len(frames), 68, 2)), 0)
    )
    rng = np.random.default_rng(4)
    root = tmp_path / "faces"
    _clip(root, "whole", noisy_faces(rng, 25), audio_seconds=1.0)
    _clip(root, "cut", noisy_faces(rng, 25), audio_seconds=0.5)
    cfg = TrainConfig(data=f"folder:{root}", cache=str(tmp_path / "cache"))
    built = prepare_cache(cfg, ModelConfig.preset("tiny"))
    old = tmp_path / "cache" / "0123456789ab"  # another key: the version is part of it
    shutil.move(built, old)
    meta = json.loads((old / "meta.json").read_text())
    meta.pop("short_audio")
    (old / "meta.json").write_text(
        json.dumps({**meta, "version": 2, "no_audio": []})
    )  # as version 2 wrote it
    capsys.readouterr()
    cache = load_frame_cache(prepare_cache(cfg, ModelConfig.preset("tiny")))
    assert cache.no_audio == ("cut",) and [c for c, _ in cache.short_audio] == ["cut"]
    err = capsys.readouterr().err
    assert f"{old}: frame cache of an older version (2; this code writes version 3, which adds clips" in err
