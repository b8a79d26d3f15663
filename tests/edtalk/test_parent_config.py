"""A chain keeps one model config; only E_T's width may differ while no stage has trained the
expression predictor (``edtalk.train_chain.parent_config_problem``), so ``--text-encoder`` can start
audio_expression from a parent trained with another one (the shipped eg_pretrain init included)."""

import math

import pytest

from edtalk.config import ModelConfig
from edtalk.train_chain import parent_config_problem

TINY = ModelConfig.preset("tiny").to_dict()


def test_the_same_config_is_no_problem():
    assert parent_config_problem(TINY, dict(TINY), ["eg_pretrain", "audio_expression"]) is None


@pytest.mark.parametrize("encoder", ["none", "emoberta"])
def test_another_text_encoder_is_taken_until_the_predictor_was_trained(encoder):
    ours = {**TINY, "text_encoder": encoder}
    assert parent_config_problem(TINY, ours, ["eg_pretrain", "mouth_pose", "audio_pose"]) is None
    problem = parent_config_problem(TINY, ours, ["eg_pretrain", "audio_pose", "audio_expression"])
    assert f"text_encoder 'minilm' -> '{encoder}'" in problem and "--text-encoder" in problem


def test_any_other_difference_is_named():
    ours = {**TINY, "text_encoder": "none", "latent_dim": TINY["latent_dim"] * 2}
    problem = parent_config_problem(TINY, ours, ["eg_pretrain"])
    assert f"latent_dim {TINY['latent_dim']} -> {TINY['latent_dim'] * 2}" in problem
    assert "text_encoder 'minilm' -> 'none'" in problem


def _saved_parent(path, cfg, stages_done):
    from edtalk.model import EDTalk, save_checkpoint

    return save_checkpoint(path, EDTalk(cfg).state_dict(), cfg, extra={"stages_done": stages_done})


def test_train_refuses_a_parent_of_another_config_before_any_work(tmp_path, monkeypatch, capsys):
    from edtalk import train

    def no_work(*a, **k):
        raise AssertionError("the run did work before refusing its parent")

    monkeypatch.setattr(train, "prepare_cache", no_work)
    cfg = ModelConfig.preset("tiny")
    trained = _saved_parent(tmp_path / "full.pt", cfg, ["eg_pretrain", "audio_pose", "audio_expression"])
    argv = ["--stage", "audio_expression", "--data", "synthtalk:nowhere", "--out", str(tmp_path / "o")]
    assert train.main([*argv, "--parent", str(trained), "--text-encoder", "none"]) == 2
    err = capsys.readouterr().err
    assert f"stage audio_expression starts from {trained}" in err and "text_encoder 'minilm' -> 'none'" in err
    paper = _saved_parent(tmp_path / "paper.pt", cfg.replace(latent_dim=cfg.latent_dim * 2), ["eg_pretrain"])
    assert train.main(["--stage", "mouth_pose", *argv[2:], "--parent", str(paper)]) == 2
    assert "latent_dim" in capsys.readouterr().err


def test_train_names_missing_emoberta_weights_before_any_work(tmp_path, monkeypatch, capsys):
    from edtalk import train

    def no_work(*a, **k):
        raise AssertionError("the run did work before naming the missing weights")

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setattr(train, "prepare_cache", no_work)
    argv = ["--stage", "audio_expression", "--data", "synthtalk:nowhere", "--out", str(tmp_path / "o")]
    parent = _saved_parent(tmp_path / "p.pt", ModelConfig.preset("tiny"), ["eg_pretrain"])
    assert train.main([*argv, "--parent", str(parent), "--text-encoder", "emoberta"]) == 2
    err = capsys.readouterr().err
    assert "emoberta_base" in err and "hf download" in err


def test_a_worker_starts_another_text_encoder_from_a_parent_without_a_trained_predictor(
    training_fixture, single_process_group, tmp_path
):
    """audio_expression with E_T 'none' (the predictor's text width 0) from a MiniLM parent: every
    parent weight is loaded but the predictor's, which starts fresh, and the stage trains."""
    import torch

    from edtalk.config import TrainConfig
    from edtalk.model import load_checkpoint
    from edtalk.train_chain import stage_config_for
    from edtalk.worker import PREDICTOR_PREFIX, StageWorker

    fx = training_fixture
    cfg = fx["model"].replace(text_encoder="none")
    parent = _saved_parent(tmp_path / "parent.pt", fx["model"], ["eg_pretrain", "audio_pose"])
    train_cfg = TrainConfig(data=f"synthtalk:{fx['data']}", workers=1, out=str(tmp_path / "out"))
    worker = StageWorker(
        {
            "model": cfg.to_dict(),
            "stage": stage_config_for("audio_expression", {"max_steps": 1, "batch_size": 2}).to_dict(),
            "train": train_cfg.to_dict(),
            "run": {"stage_dir": str(tmp_path / "out"), "parent": str(parent), "cache": str(fx["cache"])},
        }
    )
    theirs = load_checkpoint(parent)["state_dict"]
    ours = worker.model.state_dict()
    kept = [k for k in ours if not k.startswith(PREDICTOR_PREFIX)]
    assert kept and all(torch.equal(ours[k], theirs[k]) for k in kept)
    fresh = [k for k in ours if k.startswith(PREDICTOR_PREFIX)]
    assert any(ours[k].shape != theirs[k].shape for k in fresh)  # E_T's width changed: its own weights
    assert all(math.isfinite(v) for v in worker.step().values())
