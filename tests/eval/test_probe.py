"""eval.probe: the probes tell coded from uncoded factors, per-identity centring, and a fixture run."""

import json
import re

import numpy as np
import pytest
import torch

from eval.probe import centre_per_identity, classification_probe, format_result, main, regression_probe


def _people(rng, n_people: int, n_per: int, offset_scale: float):
    """Features = a per-person offset + a linear code of the factor + noise."""
    code = rng.normal(size=(1, 16))
    ids, factor, feats = [], [], []
    for person in range(n_people):
        offset = offset_scale * rng.normal(size=16)
        y = rng.normal(size=n_per)
        feats.append(offset + y[:, None] * code + 0.05 * rng.normal(size=(n_per, 16)))
        factor.append(y)
        ids += [f"p{person}"] * n_per
    return np.concatenate(feats), np.concatenate(factor), np.array(ids)


def test_regression_probe_finds_a_coded_factor_and_not_a_random_one():
    rng = np.random.default_rng(0)
    x, y, _ = _people(rng, 6, 40, offset_scale=0.0)
    coded = regression_probe(x[:120], y[:120], x[120:], y[120:])
    assert coded["train"] > 0.95 and coded["test"] > 0.95
    noise = regression_probe(rng.normal(size=(240, 16))[:120], y[:120], rng.normal(size=(120, 16)), y[120:])
    assert noise["test"] < 0.1


def test_centring_removes_a_per_person_offset_that_breaks_the_plain_probe():
    rng = np.random.default_rng(1)
    x, y, ids = _people(rng, 8, 30, offset_scale=5.0)
    y = y + np.repeat(rng.normal(scale=3.0, size=8), 30)  # targets carry a per-person offset too
    train, test = ids < "p5", ids >= "p5"
    plain = regression_probe(x[train], y[train], x[test], y[test])
    xc, yc = centre_per_identity(x, ids), centre_per_identity(y[:, None], ids)[:, 0]
    centred = regression_probe(xc[train], yc[train], xc[test], yc[test])
    assert centred["test"] > 0.9 > plain["test"]
    assert np.allclose(xc[ids == "p3"].mean(0), 0.0)


def test_classification_probe_accuracy_and_chance():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(4), 50)
    x = np.eye(4)[labels] * 3 + 0.3 * rng.normal(size=(200, 4))
    r = classification_probe(x[::2], labels[::2], x[1::2], labels[1::2], c=1.0)
    assert r["test"] > 0.95 and r["chance"] == pytest.approx(0.25)
    x_blind = rng.normal(size=(200, 4))
    blind = classification_probe(x_blind[::2], labels[::2], x_blind[1::2], labels[1::2])
    assert blind["test"] < 0.5


def test_probe_runs_on_a_fixture_dataset_and_writes_json(tmp_path, capsys):
    from edtalk.config import ModelConfig
    from edtalk.experts.testing import make_fixture_dataset
    from edtalk.model import EDTalk, save_checkpoint

    root = make_fixture_dataset(tmp_path / "fx", n_clips=3, n_frames=8, size=64)
    torch.manual_seed(0)
    cfg = ModelConfig.preset("tiny")
    ckpt = save_checkpoint(tmp_path / "m.pt", EDTalk(cfg).state_dict(), cfg)
    out = tmp_path / "probe.json"
    args = ["--ckpt", str(ckpt), "--data", str(root), "--every", "2", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    r = json.loads(out.read_text())
    assert r["identities"] == {"train": 2, "test": 2} and r["frames"] == {"train": 24, "test": 24}
    assert [(p["target"], p["features"]) for p in r["probes"]] == [
        ("emotion", "f"),
        ("emotion", "W_expression"),
        ("mouth", "f"),
        ("mouth", "W_mouth"),
        ("pose", "f"),
        ("pose", "W_pose"),
    ]
    assert all(set(p["centred"]) == {"train", "test"} for p in r["probes"])
    assert "per-identity centred" in capsys.readouterr().out
    assert len(format_result(r).splitlines()) == 3 + 6


def test_missing_checkpoint_and_bad_stride_are_clear(tmp_path, capsys):
    assert main(["--ckpt", str(tmp_path / "none.pt"), "--data", str(tmp_path)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    from edtalk.config import ModelConfig
    from edtalk.model import EDTalk, save_checkpoint

    cfg = ModelConfig.preset("tiny")
    ckpt = save_checkpoint(tmp_path / "m.pt", EDTalk(cfg).state_dict(), cfg)
    with pytest.raises(SystemExit) as exc:
        main(["--ckpt", str(ckpt), "--data", str(tmp_path), "--every", "0"])
    assert exc.value.code == 2 and "argument --every: must be at least 1, got 0" in capsys.readouterr().err
    assert main(["--ckpt", str(ckpt), "--data", str(tmp_path / "nodata")]) == 2
    assert re.match(r"error: .*nodata: synthtalk root folder does not exist", capsys.readouterr().err)


def test_encoded_frames_pair_each_clips_own_targets_with_each_banks_own_weights(tmp_path):
    """Every ``every``-th frame of each clip: f is E's latent of that frame, each W_<bank> is that
    bank's navigation output (not another bank's), and the mouth / pose / emotion / identity targets
    are the same clip's own sidecar rows (mouth opening; yaw and pitch), in frame order."""
    from edtalk.config import ModelConfig
    from edtalk.data.readers import read_clips
    from edtalk.driving import model_input
    from edtalk.experts.data import decode_clips
    from edtalk.experts.testing import make_fixture_dataset
    from edtalk.model import EDTalk
    from eval.probe import encode_frames

    root = make_fixture_dataset(tmp_path / "fx", n_clips=1, n_frames=7, size=64)
    clips = decode_clips(read_clips("synthtalk", root, split="test"))
    assert len(clips) == 2 and clips[0].identity != clips[1].identity
    for c in clips:  # the fixture tells the targets apart, so a swap shows
        assert not np.allclose(c.mouth[:, 0], c.pose[:, 0]) and not np.allclose(c.pose[:, 0], c.pose[:, 1])
    torch.manual_seed(0)
    cfg = ModelConfig.preset("tiny")
    model = EDTalk(cfg).eval()
    every = 3
    out = encode_frames(model, clips, every)

    picks = [(c, np.arange(0, c.n_frames, every)) for c in clips]  # frames 0, 3, 6 of each clip
    np.testing.assert_array_equal(out["mouth"], np.concatenate([c.mouth[r, :1] for c, r in picks]))
    np.testing.assert_array_equal(out["pose"], np.concatenate([c.pose[r, :2] for c, r in picks]))
    assert out["emotion"].tolist() == [c.emotion for c, r in picks for _ in r]
    assert out["identity"].tolist() == [c.identity for c, r in picks for _ in r]
    with torch.no_grad():
        f = torch.cat([model.encode(model_input(c.frames[r], cfg.image_size))[0] for c, r in picks])
        expected = {f"W_{k}": model.navigate(f, (k,))[k].numpy() for k in cfg.bank_names}
    np.testing.assert_allclose(out["f"], f.numpy(), rtol=1e-5, atol=1e-6)
    assert set(expected) == {"W_mouth", "W_pose", "W_expression"}
    for key, w in expected.items():
        assert out[key].shape == w.shape, key
        np.testing.assert_allclose(out[key], w, rtol=1e-5, atol=1e-6, err_msg=key)
