"""The orthogonal banks (QR re-parameterisation) and the latent-navigation heads."""

import pytest
import torch

from edtalk.config import ModelConfig
from edtalk.modules.navigation import LatentNavigation, MotionBanks

CFG = ModelConfig.preset("tiny")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_bases_orthonormal_within_and_across_banks():
    bases = MotionBanks(CFG).bases()
    assert {k: tuple(v.shape) for k, v in bases.items()} == {
        "mouth": (CFG.latent_dim, CFG.n_mouth),
        "pose": (CFG.latent_dim, CFG.n_pose),
        "expression": (CFG.latent_dim, CFG.n_expression),
    }
    q = torch.cat(list(bases.values()), dim=1)
    assert torch.allclose(q.t() @ q, torch.eye(q.shape[1]), atol=1e-5)
    assert (bases["mouth"].t() @ bases["expression"]).abs().max() < 1e-5


def test_prefix_property_expression_training_leaves_mouth_and_pose_unchanged():
    banks = MotionBanks(CFG)
    before = {k: v.detach().clone() for k, v in banks.bases().items()}
    # gradient of any function of the mouth/pose bases w.r.t. V^e is exactly zero
    b = banks.bases()
    (b["mouth"].sum() + b["pose"].pow(2).sum()).backward()
    assert banks.raw["expression"].grad is None or banks.raw["expression"].grad.abs().max() == 0
    # an optimiser step on the expression bank alone changes B^e but not B^m, B^p
    banks.zero_grad()
    opt = torch.optim.SGD([banks.raw["expression"]], lr=1.0)
    banks.bases()["expression"].sum().backward()
    opt.step()
    after = banks.bases()
    assert not torch.allclose(after["expression"], before["expression"], atol=1e-4)
    assert torch.allclose(after["mouth"], before["mouth"], atol=1e-6)
    assert torch.allclose(after["pose"], before["pose"], atol=1e-6)


def test_lip_pose_model_bases_equal_prefix_of_full_model():
    full = MotionBanks(CFG)
    lip_pose = MotionBanks(CFG.replace(components="lip_pose"))
    for name in ("mouth", "pose"):  # a bank's state: its V and its orientation (the sign of each basis)
        lip_pose.raw[name].data.copy_(full.raw[name].data)
        getattr(lip_pose.orientation, name).copy_(getattr(full.orientation, name))
    a, b = full.bases(), lip_pose.bases()
    assert set(b) == {"mouth", "pose"}
    assert torch.allclose(a["mouth"], b["mouth"], atol=1e-5) and torch.allclose(
        a["pose"], b["pose"], atol=1e-5
    )


def test_without_orthogonal_bases_are_free_and_not_orthonormal():
    bases = MotionBanks(CFG.replace(orthogonal=False)).bases()
    q = torch.cat(list(bases.values()), dim=1)
    assert (q.t() @ q - torch.eye(q.shape[1])).abs().max() > 0.5


def test_without_bank_heads_predict_offsets_and_bases_are_identity():
    cfg = CFG.replace(use_bank=False)
    nav, banks = LatentNavigation(cfg), MotionBanks(cfg)
    w = nav(torch.randn(3, cfg.latent_dim))
    assert all(v.shape == (3, cfg.latent_dim) for v in w.values())
    assert torch.equal(banks.combine("pose", w["pose"]), w["pose"])
    assert sum(p.numel() for p in banks.parameters()) == 0
    # the identity basis moves with the module: a CPU eye times CUDA weights failed on GPU workers
    assert banks.to("meta").bases()["pose"].device.type == "meta" and "eye" not in banks.state_dict()


def test_navigation_heads_are_linear_and_shapes():
    nav = LatentNavigation(CFG)
    f1, f2 = torch.randn(4, CFG.latent_dim), torch.randn(4, CFG.latent_dim)
    w = nav(f1)
    assert {k: tuple(v.shape) for k, v in w.items()} == {
        "mouth": (4, 20),
        "pose": (4, 6),
        "expression": (4, 10),
    }
    # official heads have no activations: W(f1 + f2) = W(f1) + W(f2) - W(0)
    zero = nav(torch.zeros(4, CFG.latent_dim))["mouth"]
    assert torch.allclose(nav(f1 + f2)["mouth"], w["mouth"] + nav(f2)["mouth"] - zero, atol=1e-4)
    assert set(LatentNavigation(CFG.replace(components="lip")).heads) == {"mouth"}


def test_every_navigation_head_reads_the_shared_trunk():
    """W^* = MLP^*(trunk(f^{*->r})): each head applied to the trunk's output gives the navigation's
    output, and a change of the trunk moves every head (heads that read f^{*->r} directly fail)."""
    nav = LatentNavigation(CFG)
    f = torch.randn(3, CFG.latent_dim)
    with torch.no_grad():
        w = nav(f)
        h = nav.trunk(f)
        for name, head in nav.heads.items():
            assert torch.allclose(w[name], head(h), atol=1e-6), name
        nav.trunk[0].weight.mul_(2.0)
        moved = nav(f)
    assert all(not torch.allclose(moved[name], w[name], atol=1e-4) for name in w)


def test_bases_work_in_bf16_training_dtype():
    """DeepSpeed --bf16 casts the banks to bfloat16; the QR runs in float32 and Q comes back in bf16."""
    import torch

    from edtalk.config import ModelConfig
    from edtalk.modules.navigation import MotionBanks

    banks = MotionBanks(ModelConfig.preset("tiny")).to(torch.bfloat16)
    bases = banks.bases()
    joined = torch.cat(list(bases.values()), dim=1).float()
    assert all(b.dtype == torch.bfloat16 for b in bases.values())
    assert torch.allclose(joined.T @ joined, torch.eye(joined.shape[1]), atol=2e-2)


def test_a_basis_does_not_reverse_when_a_householder_pivot_crosses_zero():
    """Householder QR (torch.qr in the official code) reverses column k of Q when its pivot crosses zero:
    the demo's stage 1 reversed a mouth basis within 2 steps from the shipped init. The bases here are
    Gram-Schmidt's Q turned by fixed signs: continuous in V, and at initialisation bit for bit the
    Householder ones (a mutation review: a sign fix was accepted by every test, its absence too)."""
    torch.manual_seed(0)
    banks = MotionBanks(CFG)
    joined = torch.cat([banks.raw[n] for n in banks.names], dim=1)
    assert torch.equal(torch.cat(list(banks.bases().values()), 1), torch.linalg.qr(joined + 1e-8)[0])
    drawn, householder = [], []
    with torch.no_grad():
        for pivot in (1e-4, -1e-4):  # column 0's pivot is V^m[0, 0]
            banks.raw["mouth"][0, 0] = pivot
            drawn.append(banks.bases()["mouth"][:, 0].clone())
            householder.append(
                torch.linalg.qr(torch.cat([banks.raw[n] for n in banks.names], 1) + 1e-8)[0][:, 0]
            )
    assert (householder[0] + householder[1]).abs().max() < 1e-3  # the official convention reverses b_0
    assert (drawn[0] - drawn[1]).abs().max() < 1e-3  # here it moves as little as V did


def test_a_state_saved_before_orientations_draws_the_bases_it_drew_and_a_graft_keeps_them(tmp_path):
    """Checkpoints written before the orientation buffers (the shipped init, every trained run) load
    strictly and draw their Householder Q; a sweep graft from such a parent derives them from the
    grafted V, and one from a newer parent keeps the parent's with each kept bank."""
    from edtalk.model import EDTalk, load_checkpoint, save_checkpoint
    from sweeps.parent_run import graft_parent

    torch.manual_seed(1)
    model = EDTalk(CFG)
    with torch.no_grad():
        for name in model.banks.names:  # a trained V whose Householder signs differ from its initial ones
            model.banks.raw[name].mul_(-1)
    old_state = {k: v for k, v in model.state_dict().items() if "orientation" not in k}
    householder = torch.linalg.qr(
        torch.cat([old_state[f"banks.raw.{n}"] for n in model.banks.names], 1) + 1e-8
    )[0]
    loaded = EDTalk(CFG)
    loaded.load_state_dict(old_state, strict=True)
    assert torch.equal(torch.cat(list(loaded.bases().values()), 1), householder)
    assert not torch.equal(torch.cat(list(model.bases().values()), 1), householder)  # kept its init signs

    old_parent = save_checkpoint(tmp_path / "old.pt", old_state, CFG)
    grafted = load_checkpoint(graft_parent(old_parent, {"n_expression": 5}, tmp_path / "g_old.pt", seed=3)[0])
    assert not any("orientation" in k for k in grafted["state_dict"])
    from_old = EDTalk(grafted["config"])
    from_old.load_state_dict(grafted["state_dict"], strict=True)
    torch.testing.assert_close(from_old.bases()["mouth"], householder[:, : CFG.n_mouth], rtol=0, atol=1e-6)

    new_parent = save_checkpoint(tmp_path / "new.pt", model.state_dict(), CFG)
    state = load_checkpoint(graft_parent(new_parent, {"n_expression": 5}, tmp_path / "g_new.pt", seed=3)[0])
    for name in ("mouth", "pose"):
        assert torch.equal(
            state["state_dict"][f"banks.orientation.{name}"], getattr(model.banks.orientation, name)
        )
    assert "banks.orientation.expression" not in state["state_dict"]  # a fresh V's: derived when loaded
    from_new = EDTalk(state["config"])
    from_new.load_state_dict(state["state_dict"], strict=True)
    torch.testing.assert_close(from_new.bases()["mouth"], model.bases()["mouth"], rtol=0, atol=1e-6)
    # one recipe, one start: the fresh expression bank begins alike from either format of the parent
    grafted = load_checkpoint(
        graft_parent(old_parent, {"n_expression": 5}, tmp_path / "g_old5.pt", seed=3)[0]
    )
    from_old5 = EDTalk(grafted["config"])
    from_old5.load_state_dict(grafted["state_dict"], strict=True)
    assert torch.equal(from_new.bases()["expression"], from_old5.bases()["expression"])
    # a V restarted at its own size (a bank-size trial of the parent's size) does not keep the old signs
    same_size = graft_parent(new_parent, {}, tmp_path / "g_same.pt", ("banks.raw.expression",), seed=3)[0]
    assert "banks.orientation.expression" not in load_checkpoint(same_size)["state_dict"]


def test_a_saved_orientation_survives_a_reload_and_a_partial_or_partitioned_state_is_handled():
    """The point of the buffer: a model whose V has crossed a pivot (its Householder signs now differ
    from its orientation) draws the same bases after a save and load, not the Householder ones. A
    non-strict load of an old state that lacks a bank's V derives the signs with the module's own V for
    it; a ZeRO-3 engine state (empty V placeholders) saved before orientations is a clear error."""
    from edtalk.model import EDTalk
    from edtalk.modules.navigation import OrientationUnknownError

    torch.manual_seed(2)
    model = EDTalk(CFG)
    with torch.no_grad():
        for name in model.banks.names:
            model.banks.raw[name].mul_(-1)  # every pivot crossed
    again = EDTalk(CFG)
    again.load_state_dict(model.state_dict(), strict=True)
    for name, basis in model.bases().items():
        assert torch.equal(again.bases()[name], basis), name

    old = {
        k: v for k, v in model.state_dict().items() if "orientation" not in k and k != "banks.raw.expression"
    }
    partial = EDTalk(CFG)
    partial.load_state_dict(old, strict=False)
    joined = torch.cat([old["banks.raw.mouth"], old["banks.raw.pose"], partial.banks.raw["expression"]], 1)
    householder = torch.linalg.qr(joined + 1e-8)[0]
    assert torch.equal(torch.cat(list(partial.bases().values()), 1), householder)

    partitioned = {**old, **{f"banks.raw.{n}": torch.empty(0) for n in model.banks.names}}
    with pytest.raises(OrientationUnknownError, match="ZeRO-3 partitions saved before the banks kept"):
        EDTalk(CFG).load_state_dict(partitioned, strict=False)
