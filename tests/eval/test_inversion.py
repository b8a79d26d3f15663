"""eval.inversion: driver frames, the frozen-model optimisation, and a fixture run with a stand-in judge."""

import json
import re

import pytest
import torch

from eval.inversion import MODES, driver_rows, format_result, main, optimise, run


def test_driver_rows_spread_inside_the_clip():
    assert driver_rows(9, 1).tolist() == [4]
    assert driver_rows(21, 3).tolist() == [5, 10, 15]
    with pytest.raises(ValueError, match="--frames"):
        driver_rows(10, 0)


@pytest.fixture(scope="module")
def tiny_model():
    from edtalk.config import ModelConfig
    from edtalk.model import EDTalk

    torch.manual_seed(0)
    model = EDTalk(ModelConfig.preset("tiny")).eval()
    with torch.no_grad():  # a fresh G ignores its latent (zero flows); nudge it so the latent matters
        for p in model.generator.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("free", ["weights", "latent"])
def test_optimise_lowers_the_l1_and_leaves_the_model_alone(tiny_model, free):
    model = tiny_model
    size = model.cfg.image_size
    torch.manual_seed(1)
    source, target = torch.rand(2, 3, size, size) * 2 - 1, torch.rand(2, 3, size, size) * 2 - 1
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        f_src, skips = model.encode(source)
        w0 = model.navigate(model.encode(target)[0])
    picture, curve = optimise(model, f_src, skips, w0, target, free, steps=15, lr=0.05)
    assert picture.shape == target.shape and not picture.requires_grad
    assert curve[-1] < curve[0]
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.requires_grad for p in model.parameters())  # restored
    with pytest.raises(ValueError, match="free"):
        optimise(model, f_src, skips, w0, target, "everything", steps=1, lr=0.05)


def test_fixture_run_reads_gt_as_the_driver_and_the_source_as_not(tmp_path, capsys, brow_judge):
    from edtalk.config import ModelConfig
    from edtalk.experts.testing import make_fixture_dataset
    from edtalk.model import EDTalk, save_checkpoint

    # test identity st005: clip 0 neutral, clip 1 angry (the fixture's emotion = (identity + 3 k) % 8)
    root = make_fixture_dataset(tmp_path / "fx", n_clips=2, n_frames=8, size=64)
    torch.manual_seed(0)
    cfg = ModelConfig.preset("tiny")
    ckpt = save_checkpoint(tmp_path / "m.pt", EDTalk(cfg).state_dict(), cfg)
    r = run(ckpt, root, n_pairs=4, frames=2, steps=3, judge=brow_judge, progress=False)
    assert (r["pairs"], r["frames"], r["steps"]) == (1, 2, 3)
    assert set(r["judged_as_driver"]) == set(MODES) == set(r["l1_to_driver"])
    assert r["judged_as_driver"]["gt"] == 1.0 and r["source_judged_as_driver"] == 0.0
    assert r["l1_to_driver"]["gt"] == 0.0 < r["l1_to_driver"]["navigated"]
    table = format_result(r)
    assert all(f"  {mode} " in table for mode in MODES)
    json.dumps(r)  # serialisable as written by --out


def test_main_refuses_zero_steps(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:  # at parse time, before the checkpoint is looked at
        main(["--ckpt", str(tmp_path / "none.pt"), "--data", str(tmp_path), "--steps", "0"])
    assert exc.value.code == 2 and "argument --steps: must be at least 1, got 0" in capsys.readouterr().err


def test_main_names_a_missing_checkpoint(tmp_path, capsys):
    assert main(["--ckpt", str(tmp_path / "none.pt"), "--data", str(tmp_path)]) == 2
    assert re.match(r"error: .*none.pt: checkpoint not found", capsys.readouterr().err)


def test_main_names_a_missing_dataset(tmp_path, capsys):
    from edtalk.config import ModelConfig
    from edtalk.model import EDTalk, save_checkpoint

    cfg = ModelConfig.preset("tiny")
    ckpt = save_checkpoint(tmp_path / "m.pt", EDTalk(cfg).state_dict(), cfg)
    assert main(["--ckpt", str(ckpt), "--data", str(tmp_path / "nodata")]) == 2
    assert re.match(r"error: .*nodata: synthtalk root folder does not exist", capsys.readouterr().err)
