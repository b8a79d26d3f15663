"""The synthtalk experts: shapes, a few training steps, save/load, manifest, split guard, LSE maths."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from edtalk.experts.data import SplitLeakError, check_split, load_split, split_identities
from edtalk.experts.face_analyser import FaceAnalyser, FaceAnalyserConfig, to_input
from edtalk.experts.store import load_expert, save_expert
from edtalk.experts.sync_net import (
    SyncNetConfig,
    SyncNetJudge,
    audio_windows,
    offset_search,
    shift_audio,
)
from edtalk.experts.testing import make_fixture_dataset
from edtalk.experts.train import TrainSettings, train_experts, train_face_analyser, train_sync_net
from edtalk.weights import sha256_of

TINY = TrainSettings(face_steps=3, sync_steps=2, batch_size=8, sync_clips=2, progress=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_fixture_dataset(tmp_path_factory.mktemp("st"), n_clips=2, n_frames=25, size=64)


@pytest.fixture(scope="module")
def judge_clips(dataset):
    return load_split(dataset, "judge", progress=False)


def test_load_split_reads_ground_truth(judge_clips):
    c = judge_clips[0]
    assert c.frames.shape == (25, 64, 64, 3) and c.frames.dtype == np.uint8
    assert c.landmarks.shape == (25, 68, 2) and c.pose.shape == (25, 3) and c.mouth.shape == (25, 3)
    assert {x.identity for x in judge_clips} == {"st002", "st003"}
    assert len(c.wav) == 25 * 640
    assert c.expression.shape == (14,) and c.expression.dtype == np.float32


def test_face_analyser_shapes_in_natural_units():
    model = FaceAnalyser(
        FaceAnalyserConfig(
            n_identities=3,
            pose_mean=(5.0, 0.0, 0.0),
            pose_std=(2.0, 1.0, 1.0),
            mouth_mean=(0.0, 0.5, 0.0),
            mouth_std=(1.0, 1.0, 3.0),
        )
    )
    frames = np.random.default_rng(0).integers(0, 255, (7, 96, 96, 3), dtype=np.uint8)
    out = model.predict(frames)
    assert out["landmarks"].shape == (7, 68, 2)
    assert out["pose"].shape == (7, 3) and out["mouth"].shape == (7, 3)
    assert out["emotion"].shape == (7, 8) and out["identity"].shape == (7, 64)
    assert out["expression"].shape == (7, 14)
    np.testing.assert_allclose(np.linalg.norm(out["identity"], axis=1), 1.0, atol=1e-5)
    # pose and mouth are de-standardised with the config's statistics (predict ran model.eval())
    with torch.no_grad():
        raw = model(to_input(frames, 96))
    assert raw["pose_z"].shape == (7, 3)
    mean, std = np.array([5.0, 0.0, 0.0]), np.array([2.0, 1.0, 1.0])
    np.testing.assert_allclose(out["pose"], raw["pose_z"].numpy() * std + mean, rtol=1e-5, atol=1e-5)
    mouth = raw["mouth_z"].numpy() * np.array([1.0, 1.0, 3.0]) + np.array([0.0, 0.5, 0.0])
    np.testing.assert_allclose(out["mouth"], mouth, rtol=1e-5, atol=1e-5)


def test_sync_net_feature_shapes():
    model = SyncNetJudge(SyncNetConfig())
    frames = np.zeros((30, 128, 128, 3), np.uint8)
    wav = np.random.default_rng(0).normal(0, 0.1, 30 * 640).astype(np.float32)
    v = model.video_features(frames)
    a = model.audio_features(wav, 30)
    assert v.shape == (26, 64) and a.shape == (26, 64)
    assert audio_windows(wav, 30).shape == (26, 1, 80, 16)


def test_offset_search_recovers_known_shift():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(60, 8))
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    for s in (-7, -1, 0, 3, 10):
        # audio delayed by s: audio window i+s holds video window i's content
        audio = np.roll(feats, s, axis=0) + 0.01 * rng.normal(size=feats.shape)
        r = offset_search(feats, audio, vshift=15)
        assert r["offset"] == -s
        assert r["dists"].shape == (31,)
        assert r["lse_d"] == pytest.approx(r["dists"].min())
        assert r["lse_c"] == pytest.approx(np.median(r["dists"]) - r["dists"].min())


def test_shift_audio_moves_whole_frames():
    wav = np.arange(10 * 640, dtype=np.float32)
    late = shift_audio(wav, 2)
    early = shift_audio(wav, -2)
    assert len(late) == len(early) == len(wav)
    assert (late[:1280] == 0).all() and late[1280] == 0.0 and late[1281] == 1.0
    assert early[0] == 1280.0 and (early[-1280:] == 0).all()


def test_training_steps_save_load_roundtrip_and_manifest(judge_clips, tmp_path):
    face = train_face_analyser(judge_clips, TINY)
    sync = train_sync_net(judge_clips, TINY)
    ids = sorted({c.identity for c in judge_clips})
    p_face = save_expert(face, "face_analyser", "judge", ids, tmp_path)
    p_sync = save_expert(sync, "sync_net", "judge", ids, tmp_path)
    assert p_face.name == "synthtalk_face_judge.safetensors"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["synthtalk_face_judge"]["sha256"] == sha256_of(p_face)
    assert manifest["synthtalk_sync_judge"]["sha256"] == sha256_of(p_sync)

    face2, meta = load_expert(p_face, expect_split="judge")
    assert meta["split"] == "judge" and meta["identities"] == ids and meta["kind"] == "face_analyser"
    frames = judge_clips[0].frames[:4]
    a, b = face.predict(frames), face2.predict(frames)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-5)
    sync2, _ = load_expert(p_sync)
    np.testing.assert_allclose(
        sync.video_features(judge_clips[0].frames), sync2.video_features(judge_clips[0].frames), atol=1e-5
    )

    with pytest.raises(ValueError, match="identity split"):
        load_expert(p_face, expect_split="train")  # a judge is never a training-loss expert
    p_face.write_bytes(p_face.read_bytes() + b" ")  # tamper: sha256 no longer matches the manifest
    with pytest.raises(ValueError, match="sha256"):
        load_expert(p_face)


def test_split_guard_refuses_other_identities(dataset, tmp_path):
    by_split = split_identities(dataset)
    assert by_split["judge"] == {"st002", "st003"}
    check_split({"st002"}, "judge", by_split)  # fine
    with pytest.raises(SplitLeakError, match="train"):
        check_split({"st002", "st000"}, "judge", by_split)
    with pytest.raises(SplitLeakError, match="test"):
        check_split({"st004"}, "judge", by_split)
    with pytest.raises(SplitLeakError, match="test identities are for scoring"):
        check_split({"st004"}, "test", by_split)
    # a judge list that smuggles in a train identity's clip is refused before any training
    leaky = tmp_path / "leaky"
    import shutil

    shutil.copytree(dataset, leaky)
    train_first = (leaky / "splits" / "train.txt").read_text().split()[0]
    with open(leaky / "splits" / "judge.txt", "a") as f:
        f.write(train_first + "\n")
    with pytest.raises(SplitLeakError):
        train_experts(leaky, "judge", tmp_path / "out", TINY)
    assert not (tmp_path / "out").exists()


def test_cli_train_split_train_writes_expert_files(dataset, tmp_path):
    from edtalk.experts.cli import main

    rc = main(
        [
            "train",
            "--data",
            str(dataset),
            "--split",
            "train",
            "--out",
            str(tmp_path),
            "--face-steps",
            "2",
            "--sync-steps",
            "1",
            "--batch-size",
            "4",
            "--no-progress",
        ]
    )
    assert rc == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest) == {"synthtalk_face_expert", "synthtalk_sync_expert"}
    _, meta = load_expert(tmp_path / "synthtalk_sync_expert.safetensors", expect_split="train")
    assert meta["identities"] == ["st000", "st001"]


def test_parallel_training_matches_sequential(dataset, tmp_path):
    """The sync net trained in a spawned second process is the same as one trained in-process."""
    import dataclasses

    sync_only = dataclasses.replace(TINY, face_steps=1)
    par = train_experts(dataset, "judge", tmp_path / "par", dataclasses.replace(sync_only, parallel=True))
    seq = train_experts(dataset, "judge", tmp_path / "seq", dataclasses.replace(sync_only, parallel=False))
    assert set(par) == set(seq) == {"synthtalk_face_judge", "synthtalk_sync_judge"}
    a, _ = load_expert(par["synthtalk_sync_judge"], expect_split="judge")
    b, _ = load_expert(seq["synthtalk_sync_judge"], expect_split="judge")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(x, y, msg=name)


def test_forward_on_whole_frames_matches_predict_and_aligns_on_the_eyes(judge_clips):
    """``forward`` (the training stages' differentiable path) takes whole frames like ``predict``;
    the aligned branch puts the eye centres at the canonical places."""
    from edtalk.experts.face_analyser import ALIGN_EYE_GAP, ALIGN_EYE_Y, align_faces, eye_centres, to_input

    model = FaceAnalyser(FaceAnalyserConfig(n_identities=2)).eval()
    frames = judge_clips[0].frames[:3]
    x = to_input(frames, frames.shape[1]).requires_grad_(True)
    out = model(x)
    out["emotion"].sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    np.testing.assert_allclose(out["emotion"].detach().numpy(), model.predict(frames)["emotion"], atol=1e-5)
    # a frame with two bright dots at known eye centres: after alignment they sit at the canonical spots
    img = -torch.ones(1, 1, 64, 64)
    lm = torch.zeros(1, 68, 2)
    for idx, (cx, cy) in ((slice(36, 42), (20.5, 30.5)), (slice(42, 48), (40.5, 26.5))):
        img[0, 0, int(cy) - 1 : int(cy) + 1, int(cx) - 1 : int(cx) + 1] = 1.0
        lm[0, idx] = torch.tensor([cx / 64, cy / 64])
    left, right = eye_centres(lm)
    assert torch.allclose(right - left, torch.tensor([[20 / 64, -4 / 64]]))
    out_img = align_faces(img, lm, 64)[0, 0]
    ys, xs = torch.nonzero(out_img > 0.2, as_tuple=True)
    mid_x, mid_y = float(xs.float().mean()), float(ys.float().mean())
    assert abs(mid_x - 31.5) < 1.0 and abs(mid_y - (ALIGN_EYE_Y + 1) / 2 * 64 + 0.5) < 1.0
    assert float(xs.max() - xs.min()) > 0.8 * ALIGN_EYE_GAP / 2 * 64


def test_legacy_face_files_load_without_the_aligned_branch():
    cfg = FaceAnalyserConfig(n_identities=2).to_dict()
    del cfg["align_size"], cfg["align_width"]
    legacy = FaceAnalyserConfig.from_dict(cfg)
    assert legacy.align_size == 0
    model = FaceAnalyser(legacy)
    assert not hasattr(model, "align_trunk")
    assert model.predict(np.zeros((2, 64, 64, 3), np.uint8))["emotion"].shape == (2, 8)


def _seeded_expert_set(folder):
    """Both loss experts, seeded (untrained), saved as a train-split set in ``folder``."""
    torch.manual_seed(0)
    ids = ["st000", "st001"]
    return [
        save_expert(FaceAnalyser(FaceAnalyserConfig()), "face_analyser", "train", ids, folder),
        save_expert(SyncNetJudge(SyncNetConfig()), "sync_net", "train", ids, folder),
    ]


def test_copy_experts_checks_the_source_manifest_and_writes_one_beside_the_copies(tmp_path):
    from edtalk.experts.store import copy_experts

    face, sync = _seeded_expert_set(tmp_path / "shipped")
    copied = copy_experts(tmp_path / "shipped", tmp_path / "run", [face.name, sync.name])
    assert [p.read_bytes() for p in copied] == [face.read_bytes(), sync.read_bytes()]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert {e["file"] for e in manifest.values()} == {face.name, sync.name}
    load_expert(copied[0], expect_split="train")  # the copy passes the same sha256 check
    with pytest.raises(FileNotFoundError, match="lists no such file"):
        copy_experts(tmp_path / "shipped", tmp_path / "run", ["synthtalk_face_judge.safetensors"])
    with open(face, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match="sha256 differs"):
        copy_experts(tmp_path / "shipped", tmp_path / "other", [face.name])


def test_ensure_experts_copies_a_given_set_instead_of_training(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import edtalk.experts.train as experts_train
    from edtalk.experts.names import EXPERT_NAMES, expert_file
    from edtalk.train_experts import ensure_experts

    _seeded_expert_set(tmp_path / "shipped")
    never = lambda *a, **k: pytest.fail("trained instead of copied")  # noqa: E731
    monkeypatch.setattr(experts_train, "train_experts", never)
    cfg = SimpleNamespace(experts=str(tmp_path / "run" / "experts"), data="synthtalk:nowhere")
    ensure_experts(cfg, {"face_analyser", "sync_net"}, 1, 1, source=str(tmp_path / "shipped"))
    for file in map(expert_file, EXPERT_NAMES):
        assert (tmp_path / "run" / "experts" / file).is_file()


def test_a_missing_expert_file_says_how_to_get_that_kind(tmp_path):
    """A judge is trained by eval.zoo; a loss expert by edtalk.experts or taken from the shipped set
    (the message used to send both to eval.zoo, which trains only judges)."""
    with pytest.raises(FileNotFoundError, match="not found .*python -m eval.zoo train"):
        load_expert(tmp_path / "synthtalk_face_judge.safetensors", expect_split="judge")
    with pytest.raises(FileNotFoundError) as err:
        load_expert(tmp_path / "synthtalk_face_expert.safetensors", expect_split="train")
    assert "edtalk.experts train" in str(err.value) and "pretrained:tiny_synthtalk_loss_experts" in str(
        err.value
    )
    assert "eval.zoo" not in str(err.value)


def test_an_expert_trained_on_another_splits_people_of_this_set_is_refused(dataset, tmp_path):
    """A synthtalk face depends on the seed and the identity's index, not the preset: st000 is a
    train person of one set and a judge or test person of a larger one with the same seed. An expert
    trained on people who are another split's here is refused, with the fix; another seed's people
    are other faces."""
    from edtalk.data.errors import DataError
    from edtalk.experts.data import check_fits_dataset, dataset_record

    seed = dataset_record(dataset)["seed"]
    fits = {"split": "judge", "identities": ["st002", "st003"], "dataset": {"seed": seed}}
    check_fits_dataset("j.safetensors", fits, dataset, "retrain")
    leaky = {"split": "judge", "identities": ["st000", "st002"], "dataset": {"seed": seed}}
    with pytest.raises(DataError, match=r"j.safetensors: this judge .* 'train' identities .*st000.*retrain"):
        check_fits_dataset("j.safetensors", leaky, dataset, "retrain")
    unrecorded = {"split": "train", "identities": ["st004"]}  # a file from before the record
    with pytest.raises(DataError, match="training-loss expert .* 'test' identities"):
        check_fits_dataset("e.safetensors", unrecorded, dataset, "retrain")
    check_fits_dataset("j.safetensors", {**leaky, "dataset": {"seed": seed + 1}}, dataset, "retrain")
    check_fits_dataset("j.safetensors", leaky, tmp_path, "retrain")  # not a synthtalk root


def test_training_records_the_set_and_draws_a_loss_experts_extra_people_from_the_training_range(
    dataset, tmp_path, monkeypatch
):
    """The loss experts' extra people used to come from the judges' range (their faces trained both
    a loss and a judge); the expert now records the set it was trained on."""
    import dataclasses

    import edtalk.experts.extra_identities as extras
    from edtalk.experts.data import dataset_record

    bases = []

    def record_base(root, n, k, progress=False, index_base=extras.EXTRA_INDEX_BASE, workers=None):
        bases.append(index_base)
        return []

    monkeypatch.setattr(extras, "render_extra_clips", record_base)
    settings = dataclasses.replace(TINY, face_steps=1, extra_identities=2, parallel=False)
    loss = train_experts(dataset, "train", tmp_path / "loss", settings, only=("face_analyser",))
    judge = train_experts(dataset, "judge", tmp_path / "judge", settings, only=("face_analyser",))
    assert bases == [extras.TRAIN_EXTRA_INDEX_BASE, extras.EXTRA_INDEX_BASE]
    _, meta = load_expert(loss["synthtalk_face_expert"], expect_split="train")
    assert meta["dataset"] == dataset_record(dataset) and meta["dataset"]["seed"] is not None
    assert meta["extra"]["extra_index_base"] == extras.TRAIN_EXTRA_INDEX_BASE
    _, meta = load_expert(judge["synthtalk_face_judge"], expect_split="judge")
    assert meta["extra"]["extra_index_base"] == extras.EXTRA_INDEX_BASE


def test_ensure_experts_refuses_experts_left_by_a_run_on_another_set_or_another_source(
    dataset, tmp_path, monkeypatch
):
    """``--out`` reused across synthtalk sets used to hand the new run the old set's experts (maybe
    trained on this set's judge or test people), and ``--experts SRC`` was ignored when files were
    already there."""
    from types import SimpleNamespace

    from edtalk.data.errors import DataError
    from edtalk.train_experts import ensure_experts

    run = tmp_path / "run" / "experts"
    torch.manual_seed(0)
    ids = ["st002", "st004"]  # this set's judge and test people, trained on as 'train'
    save_expert(FaceAnalyser(FaceAnalyserConfig()), "face_analyser", "train", ids, run)
    save_expert(SyncNetJudge(SyncNetConfig()), "sync_net", "train", ids, run)
    cfg = SimpleNamespace(experts=str(run), data=f"synthtalk:{dataset}")
    with pytest.raises(DataError, match="'judge' identities .*Remove .*synthtalk_face_expert"):
        ensure_experts(cfg, {"face_analyser", "sync_net"}, 1, 1)
    _seeded_expert_set(tmp_path / "shipped")
    with pytest.raises(ValueError, match="not the file of --experts"):
        ensure_experts(cfg, {"face_analyser", "sync_net"}, 1, 1, source=str(tmp_path / "shipped"))
    for file in run.glob("*.safetensors"):
        file.unlink()
    ensure_experts(cfg, {"sync_net"}, 1, 1)  # missing and no --experts: trained on the train split
    assert [p.name for p in run.glob("*.safetensors")] == ["synthtalk_sync_expert.safetensors"]
    (run / "synthtalk_sync_expert.safetensors").unlink()
    shipped = str(tmp_path / "shipped")
    ensure_experts(cfg, {"face_analyser", "sync_net"}, 1, 1, source=shipped)  # copied, then fits
    ensure_experts(cfg, {"face_analyser", "sync_net"}, 1, 1, source=shipped)  # and again


def test_a_judge_that_saw_this_sets_training_people_is_refused_where_it_scores(
    dataset, tmp_path, monkeypatch
):
    """The installed judges served any synthtalk set; eval.run, eval.proof and eval.zoo evaluate now
    name the judge, the people and the retraining command."""
    from edtalk.data.errors import DataError
    from edtalk.experts.store import JUDGE_NAMES, install_judge, resolve_judge
    from eval.zoo import main as zoo_main

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    torch.manual_seed(0)
    for kind, model in (
        ("face_analyser", FaceAnalyser(FaceAnalyserConfig())),
        ("sync_net", SyncNetJudge(SyncNetConfig())),
    ):
        install_judge(JUDGE_NAMES[kind], save_expert(model, kind, "judge", ["st001"], tmp_path / "out"))
    name = JUDGE_NAMES["sync_net"]
    assert resolve_judge(name).is_file()  # no set named: nothing to compare with
    with pytest.raises(DataError, match=r"'train' identities .*st001.*eval.zoo train --data"):
        resolve_judge(name, dataset)
    assert zoo_main(["evaluate", "--data", str(dataset), "--no-progress", "--out", str(tmp_path)]) == 2


def test_the_experts_cli_trains_loss_experts_as_long_as_edtalk_train_does():
    """``python -m edtalk.experts train`` trained a 1500-step face analyser by default while
    edtalk.train (and the shipped set) use 2000: the same experts under two recipes."""
    import argparse

    from edtalk.experts.cli import add_train_arguments
    from edtalk.train import build_parser

    experts = argparse.ArgumentParser()
    add_train_arguments(experts)
    defaults = experts.parse_args(["--data", "d"])
    train_steps = build_parser().parse_args(["--stages", "all"]).expert_steps
    assert (defaults.face_steps, defaults.sync_steps) == tuple(train_steps) == (2000, 600)


def test_the_sync_net_child_leaves_ctrl_c_to_its_parent(monkeypatch, tmp_path):
    """Ctrl-C during `eval.zoo train` printed a traceback from the sync net's child process beside the
    parent's one-line message. The child's pool now ignores Ctrl-C; the parent stops it."""
    import multiprocessing
    import signal

    from edtalk.experts import train as T

    class Started(Exception):
        pass

    def pool(processes, initializer=None):
        seen["initializer"] = initializer
        raise Started

    seen = {}
    monkeypatch.setattr(T, "load_split", lambda *a, **k: [])
    monkeypatch.setattr(
        multiprocessing, "get_context", lambda kind: type("Ctx", (), {"Pool": staticmethod(pool)})
    )
    with pytest.raises(Started):
        T.train_experts(tmp_path, "train", tmp_path / "out", T.TrainSettings(parallel=True))
    before = signal.getsignal(signal.SIGINT)
    try:
        seen["initializer"]()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
