"""A sweep trial's parent checkpoint for a changed config keeps every tensor that still fits."""

import torch

from edtalk.config import ModelConfig
from edtalk.model import EDTalk, load_checkpoint, save_checkpoint
from sweeps.parent_run import graft_parent, parent_checkpoint


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


def test_every_bank_size_starts_alike_the_parents_own_size_included(tmp_path):
    """bank_mouth_20 (the tiny parent's own size) passed the parent through with its trained mouth
    head and bank, while 5, 10 and 40 started them afresh: the sweep favoured 20 by construction."""
    from sweeps import bank_size

    torch.manual_seed(1)
    parent_model = EDTalk(ModelConfig.preset("tiny"))
    parent = save_checkpoint(tmp_path / "p.pt", parent_model.state_dict(), parent_model.cfg)
    old = parent_model.state_dict()
    for bank in ("mouth", "expression"):
        fresh_sets = []
        for n in (5, 10, 20, 40):
            v = bank_size.variant(bank, n)
            path, fresh = graft_parent(parent, v.model, tmp_path / f"{v.name}.pt", v.fresh, seed=3)
            assert path != parent and f"banks.raw.{bank}" in fresh, v.name
            state = load_checkpoint(path)["state_dict"]
            assert all(torch.equal(state[k], old[k]) for k in state if k not in fresh)
            assert not torch.equal(state[f"banks.raw.{bank}"][..., :5], old[f"banks.raw.{bank}"][..., :5])
            fresh_sets.append(set(fresh))
        assert all(s == fresh_sets[0] for s in fresh_sets), bank  # the same tensors start afresh
    # the same seed gives the same start
    v = bank_size.variant("mouth", 20)
    a = load_checkpoint(graft_parent(parent, v.model, tmp_path / "a.pt", v.fresh, seed=3)[0])["state_dict"]
    b = load_checkpoint(graft_parent(parent, v.model, tmp_path / "b.pt", v.fresh, seed=3)[0])["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_graft_is_named_by_its_recipe_not_its_random_bits(tmp_path, monkeypatch):
    """A trial restarted on a node whose random draws differ in the last bits grafted fresh tensors
    that differ, and its finished stages were judged trained from another parent (all retrained). A
    graft's weights are named by its recipe: the source's weights, the config, the fresh tensors and
    the seed."""
    from edtalk.train_resume import parent_weights

    torch.manual_seed(1)
    parent_model = EDTalk(ModelConfig.preset("tiny"))
    parent = save_checkpoint(tmp_path / "p.pt", parent_model.state_dict(), parent_model.cfg)
    here, _ = graft_parent(parent, {"n_mouth": 5}, tmp_path / "a.pt", seed=3)
    named = parent_weights(str(here))
    drawn = torch.manual_seed
    monkeypatch.setattr(torch, "manual_seed", lambda seed: drawn(seed + 1000))  # another node's draws
    there, _ = graft_parent(parent, {"n_mouth": 5}, tmp_path / "b.pt", seed=3)
    monkeypatch.undo()
    a, b = load_checkpoint(here)["state_dict"], load_checkpoint(there)["state_dict"]
    assert any(not torch.equal(a[k], b[k]) for k in a)  # other bits
    assert parent_weights(str(there)) == named  # the same recipe
    assert parent_weights(str(graft_parent(parent, {"n_mouth": 5}, tmp_path / "c.pt", seed=4)[0])) != named
    assert parent_weights(str(graft_parent(parent, {"n_mouth": 10}, tmp_path / "d.pt", seed=3)[0])) != named
    with torch.no_grad():
        next(parent_model.parameters()).add_(1.0)  # the parent run trained again
    save_checkpoint(parent, parent_model.state_dict(), parent_model.cfg)
    assert parent_weights(str(graft_parent(parent, {"n_mouth": 5}, tmp_path / "e.pt", seed=3)[0])) != named
