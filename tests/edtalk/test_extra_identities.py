"""Extra judge-only identities: rendered with the generator, ground truth right, never a split's people."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edtalk.data.synthtalk.expression import expression_params
from edtalk.data.synthtalk.generate import identity_params
from edtalk.data.synthtalk.presets import PRESETS
from edtalk.experts.extra_identities import EXTRA_INDEX_BASE, render_extra_clips
from edtalk.experts.face_analyser import EXPRESSION_KEYS
from edtalk.experts.testing import make_fixture_dataset
from edtalk.experts.train import TrainSettings, train_experts

CARD = {"seed": 3, "size": 64, "fps": 25.0, "emotions": ["happy", "sad"], "levels": [1, 3]}


def write_card(root, **changes):
    (root / "card.json").write_text(json.dumps({**CARD, **changes}))
    return root


def test_extra_people_are_rendered_with_their_ground_truth(tmp_path):
    clips = render_extra_clips(write_card(tmp_path), n_identities=2, frames_per_clip=3, workers=2)
    assert len(clips) == 2 * 2 * 2  # people x emotions x levels
    assert {c.identity for c in clips} == {"extra0000", "extra0001"}
    assert EXTRA_INDEX_BASE > max(p.n_identities for p in PRESETS.values())  # never a split's person
    c = next(c for c in clips if c.identity == "extra0001" and c.level == 3 and c.emotion == 6)  # sad
    person = identity_params(CARD["seed"], EXTRA_INDEX_BASE + 1)
    truth = expression_params("sad", 3, person["expressivity"])
    np.testing.assert_allclose(c.expression, [truth[k] for k in EXPRESSION_KEYS], atol=1e-6)
    assert c.frames.shape == (3, 64, 64, 3) and c.frames.dtype == np.uint8
    assert c.landmarks.shape == (3, 68, 2) and c.pose.shape == (3, 3) and c.mouth.shape == (3, 3)
    assert np.isfinite(c.landmarks).all() and (c.landmarks > 0).all() and (c.landmarks < 64).all()
    # the pixels are the person's: a happy still of another person differs
    other = next(o for o in clips if o.identity == "extra0000" and o.level == 3 and o.emotion == 6)
    assert np.abs(other.frames[0].astype(int) - c.frames[0].astype(int)).mean() > 5
    # the same people, in the same order, whether rendered by 2 worker processes or in this one
    again = render_extra_clips(tmp_path, n_identities=2, frames_per_clip=3, workers=1)
    assert [c.id for c in clips] == [c.id for c in again]
    assert all(np.array_equal(a.frames, b.frames) for a, b in zip(clips, again, strict=True))


def test_missing_card_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="card.json"):
        render_extra_clips(tmp_path, 1)


def test_judge_training_uses_extra_people_and_records_them(tmp_path):
    root = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=10, size=64)  # writes a card
    settings = TrainSettings(
        face_steps=2, batch_size=4, progress=False, extra_identities=1, extra_frames_per_clip=2
    )
    paths = train_experts(root, "judge", tmp_path / "out", settings, only=("face_analyser",))
    from edtalk.experts.store import load_expert

    model, meta = load_expert(paths["synthtalk_face_judge"], expect_split="judge")
    assert meta["identities"] == ["st002", "st003"]  # the split's people; the extras are a setting
    assert meta["extra"]["settings"]["extra_identities"] == 1
    assert model.cfg.n_identities == 2 + 1  # the identity head also learned the extra person


def test_face_analyser_takes_more_threads_at_its_fixed_step_and_gives_them_back(tmp_path):
    import torch

    from edtalk.experts.data import load_split
    from edtalk.experts.train import train_face_analyser

    root = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=10, size=64)
    clips = load_split(root, "judge", progress=False)
    calls = []
    threads = torch.get_num_threads()
    settings = TrainSettings(face_steps=3, batch_size=4, progress=False, face_more_threads_step=1)
    train_face_analyser(clips, settings, before_more_threads=lambda: calls.append(torch.get_num_threads()))
    assert calls == [threads]  # called once, at step 1, before the threads change
    assert torch.get_num_threads() == threads  # restored afterwards


def test_training_extras_are_other_people_and_join_the_frame_cache(tmp_path):
    """--extra-identities: people of their own range (not the judges'), appended to the stage cache."""
    from edtalk.data.readers import read_clips
    from edtalk.data.sampler import StageSampler
    from edtalk.data.training import build_frame_cache, load_frame_cache
    from edtalk.experts.extra_identities import TRAIN_EXTRA_INDEX_BASE

    root = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=10, size=64)
    clips = read_clips("synthtalk", root, "train")
    judge_people = render_extra_clips(root, 1, 2)
    train_people = render_extra_clips(root, 1, 2, index_base=TRAIN_EXTRA_INDEX_BASE)
    assert {c.identity for c in train_people} == {"trainextra0000"}
    assert np.abs(judge_people[0].frames.astype(int) - train_people[0].frames.astype(int)).mean() > 5
    with pytest.raises(ValueError, match="index_base"):
        render_extra_clips(root, 1, 2, index_base=7)

    plain = load_frame_cache(build_frame_cache(clips, 32, tmp_path / "cache", progress=False))
    path = build_frame_cache(
        clips, 32, tmp_path / "cache", progress=False, extra=lambda: train_people, extra_tag="1x2"
    )
    mixed = load_frame_cache(path)
    assert mixed.n_clips == plain.n_clips + len(train_people)
    assert mixed.identities == plain.identities + ["trainextra0000"]
    n = len(plain.frames)
    assert len(mixed.frames) == n + sum(c.n_frames for c in train_people)
    assert list(mixed.emotion[plain.n_clips :]) == [c.emotion for c in train_people]
    np.testing.assert_allclose(mixed.landmarks[n], train_people[0].landmarks[0] * 0.5, atol=1e-4)
    assert not np.asarray(mixed.mels[n:]).any()  # no audio for rendered stills
    pairs = StageSampler(mixed, seed=0).frame_pairs(8)
    assert pairs["source"].shape == pairs["target"].shape == (8, 3, 32, 32)
    # built once: a second call with the same tag does not render again
    assert build_frame_cache(clips, 32, tmp_path / "cache", extra=lambda: 1 / 0, extra_tag="1x2") == path


def test_training_extras_reach_the_frames_only_stages_and_are_refused_elsewhere():
    from edtalk.config import STAGE_NAMES, ConfigError, TrainConfig
    from edtalk.stages import get_stage
    from edtalk.train import main

    # still frames carry no audio: only the stages that learn from frames alone can take them
    frames_only = [n for n in STAGE_NAMES if get_stage(n).frames_only]
    assert frames_only == ["eg_pretrain", "mouth_pose", "expression"]
    assert main(["--stages", "audio_lip,audio_pose", "--extra-identities", "4", "--out", "/nonexistent"]) == 2
    with pytest.raises(ConfigError, match="synthtalk"):
        TrainConfig(data="hdtf:data/hdtf", extra_identities=4)
    with pytest.raises(ConfigError, match="extra_frames"):
        TrainConfig(extra_identities=4, extra_frames=0)
