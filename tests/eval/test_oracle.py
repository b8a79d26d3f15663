"""eval.oracle: which parameters each phase trains, the cache lookup, and a fixture run end to end."""

import json
import re

import pytest
import torch

from edtalk.data.errors import DataError
from eval.oracle import (
    N_EMOTIONS,
    ROWS,
    find_training_cache,
    fit_readout,
    format_result,
    main,
    run,
    train_codes,
)


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory):
    """A synthtalk-shaped fixture and the frame cache of its train split under <root>/runs/cache."""
    from edtalk.config import ModelConfig
    from edtalk.data.readers import read_clips
    from edtalk.data.training import build_frame_cache
    from edtalk.experts.testing import make_fixture_dataset

    root = tmp_path_factory.mktemp("oracle")
    data = make_fixture_dataset(root / "data", n_clips=2, n_frames=8, size=64)
    cfg = ModelConfig.preset("tiny")
    cache = build_frame_cache(
        read_clips("synthtalk", data, "train"), cfg.image_size, root / "runs" / "cache", progress=False
    )
    return {"root": root, "data": data, "cache": cache, "cfg": cfg}


def _model(cfg):
    from edtalk.model import EDTalk

    torch.manual_seed(0)
    return EDTalk(cfg)


def _changed(before: dict, model) -> set[str]:
    return {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}


@pytest.mark.parametrize("train_decoder", [False, True])
def test_codes_train_the_expression_half_only(fixture_data, train_decoder):
    from edtalk.data.sampler import StageSampler
    from edtalk.data.training import load_frame_cache

    model = _model(fixture_data["cfg"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sampler = StageSampler(load_frame_cache(fixture_data["cache"]), seed=0)
    codes, curve = train_codes(
        model, sampler, steps=2, lr=1e-2, train_decoder=train_decoder, batch=2, progress=False
    )
    assert codes.shape == (N_EMOTIONS, model.bases()["expression"].shape[1]) and len(curve) == 2
    changed = _changed(before, model)
    assert any(k.startswith("banks.raw.expression") for k in changed)
    assert any(k.startswith("eem.") for k in changed)
    assert any(k.startswith("generator.") for k in changed) == train_decoder
    allowed = ("banks.raw.expression", "eem.", "generator.")
    assert all(k.startswith(allowed) for k in changed), sorted(
        k for k in changed if not k.startswith(allowed)
    )


@pytest.mark.parametrize("encoder_lr", [0.0, 1e-2])
def test_readout_fits_eln_and_e_only_when_asked(fixture_data, encoder_lr):
    from edtalk.data.sampler import StageSampler
    from edtalk.data.training import load_frame_cache

    model = _model(fixture_data["cfg"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sampler = StageSampler(load_frame_cache(fixture_data["cache"]), seed=0)
    codes = torch.randn(N_EMOTIONS, model.bases()["expression"].shape[1])
    curve = fit_readout(
        model, sampler, codes, 3, 1e-2, window=2, encoder_lr=encoder_lr, batch=2, progress=False
    )
    assert len(curve) == 3
    changed = _changed(before, model)
    assert any(k.startswith("navigation.heads.expression") for k in changed)
    assert any(k.startswith("encoder.") for k in changed) == (encoder_lr > 0)
    allowed = ("navigation.heads.expression", "encoder.")
    assert all(k.startswith(allowed) for k in changed), sorted(changed)
    assert not any(p.requires_grad for p in model.parameters())


def test_find_training_cache_takes_the_largest_at_the_size(tmp_path):
    for name, size, clips in (("a", 64, 3), ("b", 64, 5), ("c", 32, 9)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "meta.json").write_text(json.dumps({"size": size, "start": list(range(clips))}))
    assert find_training_cache(tmp_path, 64) == tmp_path / "b"
    with pytest.raises(DataError, match="no training frame cache at 128 px"):
        find_training_cache(tmp_path, 128)


def test_fixture_run_reads_gt_and_finds_the_chain_cache(fixture_data, brow_judge):
    from edtalk.model import save_checkpoint

    cfg = fixture_data["cfg"]
    ckpt = save_checkpoint(
        fixture_data["root"] / "runs" / "mouth_pose" / "final.pt", _model(cfg).state_dict(), cfg
    )
    r = run(
        ckpt,
        fixture_data["data"],
        steps=2,
        readout_steps=2,
        n_pairs=4,
        frames=2,
        judge=brow_judge,
        progress=False,
    )
    assert r["cache"] == str(fixture_data["cache"])  # <ckpt>/../../cache
    assert (r["pairs"], r["frames"], r["steps"], r["readout_steps"]) == (1, 2, 2, 2)
    assert set(r["judged"]) == {*ROWS, "gt"} and r["judged"]["gt"] == 1.0
    assert all(0.0 <= v <= 1.0 for v in r["judged"].values())
    assert 0.0 <= r["readout_code_accuracy"] <= 1.0
    assert set(r["moved_grey_levels"]) == set(ROWS) - {"none"}
    assert "ELN's code from E" in format_result(r)
    json.dumps(r)


def test_main_names_a_model_without_eem(tmp_path, capsys):
    from edtalk.config import ModelConfig
    from edtalk.model import EDTalk, save_checkpoint

    cfg = ModelConfig.preset("tiny", components="lip_pose")
    ckpt = save_checkpoint(tmp_path / "m.pt", EDTalk(cfg).state_dict(), cfg)
    assert main(["--ckpt", str(ckpt), "--data", str(tmp_path)]) == 2
    assert re.match("error: .*no expression bank", capsys.readouterr().err)


def test_main_refuses_zero_steps(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:  # at parse time, before the checkpoint is looked at
        main(["--ckpt", str(tmp_path / "none.pt"), "--data", str(tmp_path), "--readout-steps", "0"])
    assert exc.value.code == 2
    assert "argument --readout-steps: must be at least 1, got 0" in capsys.readouterr().err


def test_main_names_a_cache_at_another_size_before_the_judge_loads(
    fixture_data, tmp_path, monkeypatch, capsys
):
    """Before: a 32 px --cache for a 64 px model ended in a shape error naming no file, after the
    judge (here: missing) was looked for and the test pairs decoded."""
    from edtalk.data.readers import read_clips
    from edtalk.data.training import build_frame_cache
    from edtalk.model import save_checkpoint

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "no-weights"))
    cfg = fixture_data["cfg"]
    ckpt = save_checkpoint(tmp_path / "mouth_pose.pt", _model(cfg).state_dict(), cfg)
    small = build_frame_cache(
        read_clips("synthtalk", fixture_data["data"], "train"), 32, tmp_path / "c", progress=False
    )
    argv = ["--ckpt", str(ckpt), "--data", str(fixture_data["data"]), "--cache", str(small)]
    assert main([*argv, "--steps", "1", "--readout-steps", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {small}: a frame cache at 32 px") and "64 px" in err
    assert len(err.splitlines()) == 1
