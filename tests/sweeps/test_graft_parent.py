"""A sweep trial's parent checkpoint for a changed config keeps every tensor that still fits."""

import torch

from edtalk.config import ModelConfig
from edtalk.model import EDTalk, load_checkpoint, save_checkpoint
from sweeps.common import graft_parent, parent_checkpoint


def test_graft_keeps_matching_tensors_and_reinitialises_resized_banks(tmp_path):
    torch.manual_seed(1)
    parent_model = EDTalk(ModelConfig.preset("tiny"))
    parent = save_checkpoint(
        tmp_path / "eg_pretrain" / "final.pt",
        parent_model.state_dict(),
        parent_model.cfg,
        extra={"stage": "eg_pretrain"},
    )
    assert parent_checkpoint(tmp_path, "mouth_pose") == parent
    same, fresh = graft_parent(parent, {}, tmp_path / "g0.pt")
    assert same == parent and fresh == []
    path, fresh = graft_parent(parent, {"n_mouth": 5}, tmp_path / "g.pt")
    ckpt = load_checkpoint(path)
    assert ckpt["config"].n_mouth == 5 and ckpt["meta"]["grafted_from"] == str(parent)
    assert fresh and all(k in ckpt["state_dict"] for k in fresh)
    old = parent_model.state_dict()
    kept = [k for k in ckpt["state_dict"] if k not in fresh]
    assert kept and all(torch.equal(ckpt["state_dict"][k], old[k]) for k in kept)
    assert any(old[k].shape != ckpt["state_dict"][k].shape for k in fresh if k in old)
    EDTalk(ckpt["config"]).load_state_dict(ckpt["state_dict"], strict=True)  # loads as edtalk.train does
