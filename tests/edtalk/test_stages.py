"""The stage registry: names, order, parents, loss weights, trainable vs frozen parameters."""

import pytest
import torch

from edtalk.ablations import ABLATIONS, loss_ablation_ids
from edtalk.config import STAGE_NAMES, ConfigError, ModelConfig, StageConfig, parent_stage
from edtalk.model import EDTalk
from edtalk.stages import STAGES, apply_freezing, get_stage, set_train_mode

EXPECTED_TRAINABLE = {
    "eg_pretrain": (
        "encoder.",
        "navigation.trunk.",
        "navigation.heads.mouth.",
        "navigation.heads.pose.",
        "banks.raw.mouth",
        "banks.raw.pose",
        "generator.",
    ),
    "mouth_pose": ("navigation.heads.mouth.", "navigation.heads.pose.", "banks.raw.mouth", "banks.raw.pose"),
    "expression": ("navigation.heads.expression.", "banks.raw.expression", "eem."),
    "audio_lip": ("audio_lip.",),
    "audio_pose": ("pose_flow.",),
    "audio_expression": ("expression_predictor.",),
}


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return EDTalk(ModelConfig.preset("tiny"))


def test_registry_has_the_six_stages_in_chain_order():
    assert set(STAGES.names()) == set(STAGE_NAMES)
    parents = [get_stage(n).parent for n in STAGE_NAMES]
    assert parents == [None, *STAGE_NAMES[:-1]] == [parent_stage(n) for n in STAGE_NAMES]


def test_stage_specific_steps_are_hooks_of_their_own_stage():
    """What generic code used to ask by stage name is an attribute of the stage that needs it."""
    hooks = {
        "extra_trainable": {n for n in STAGE_NAMES if get_stage(n).extra_trainable is not None},
        "fresh_prefixes": {n for n in STAGE_NAMES if get_stage(n).fresh_prefixes is not None},
        "data_init": {n for n in STAGE_NAMES if get_stage(n).data_init},
        "on_export": {n for n in STAGE_NAMES if get_stage(n).on_export is not None},
    }
    assert hooks == {
        "extra_trainable": {"eg_pretrain"},
        "fresh_prefixes": {"mouth_pose"},
        "data_init": {"audio_pose"},
        "on_export": {"expression"},
    }


def test_unknown_stage_gets_did_you_mean():
    with pytest.raises(KeyError, match="mouth_pose"):
        get_stage("mouth_pse")
    with pytest.raises(ConfigError, match="did you mean 'expression'"):
        StageConfig(name="expresion")


def test_paper_loss_weights():
    assert get_stage("expression").weights["mot"] == 10.0  # L_mot weight 10
    for name in STAGE_NAMES:
        others = {k: w for k, w in get_stage(name).weights.items() if (name, k) != ("expression", "mot")}
        assert all(w == 1.0 for w in others.values()), name
    assert set(get_stage("mouth_pose").weights) == {"rec", "per", "adv", "self", "fea"}
    assert set(get_stage("audio_lip").weights) == {"m_fea", "m_rec", "m_sync"}
    assert set(get_stage("audio_pose").weights) == {"mle", "p_rec", "tem"}


def test_ablations_are_loss_weight_fields():
    assert loss_ablation_ids() == ["wo_l_fea", "wo_l_self", "wo_l_m_rec", "wo_l_m_sync"]
    for ablation in ABLATIONS.values():
        for stage_name, terms in ablation.loss_weights.items():
            stage = get_stage(stage_name)
            cfg = StageConfig(name=stage_name, loss_weights=tuple(terms.items()))
            assert all(stage.loss_weights(cfg)[term] == 0.0 for term in terms), ablation.id
        assert set(ablation.model) <= set(ModelConfig.preset("tiny").to_dict()), ablation.id
    with pytest.raises(ValueError, match="unknown loss terms"):
        get_stage("mouth_pose").loss_weights(StageConfig(name="mouth_pose", loss_weights=(("mot", 0.0),)))


def test_each_ablation_switches_off_the_part_its_table3_row_names():
    """Each row switches off its own part and nothing else (sweeps/ablations.py's table). The test above
    checks only that the terms exist and end at weight 0 and that the model fields are valid:
    ``wo_l_self`` switching off L_fea, or ``wo_eem`` keeping the EEM, passed it, and a Table 3 row
    would train another ablation than its label says."""
    switched_off = {a.id: (a.loss_weights, a.model) for a in ABLATIONS.values()}
    assert switched_off == {
        "wo_l_fea": ({"mouth_pose": {"fea": 0.0}}, {}),
        "wo_l_self": ({"mouth_pose": {"self": 0.0}}, {}),
        "wo_l_m_rec": ({"audio_lip": {"m_rec": 0.0}}, {}),
        "wo_l_m_sync": ({"audio_lip": {"m_sync": 0.0}}, {}),
        "wo_orthogonal": ({}, {"orthogonal": False}),
        "wo_bank": ({}, {"use_bank": False}),
        "wo_eem": ({}, {"use_eem": False}),
        "only_lip": ({}, {"components": "lip"}),
        "lip_pose": ({}, {"components": "lip_pose"}),
        "full": ({}, {}),
    }


def test_stage_config_round_trip():
    cfg = StageConfig(name="audio_lip", max_steps=7, loss_weights=(("m_sync", 0.0),))
    assert StageConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown StageConfig key"):
        StageConfig.from_dict({"name": "audio_lip", "max_step": 3})


@pytest.mark.parametrize("name", STAGE_NAMES)
def test_trainable_and_frozen_parameter_sets(tiny_model, name):
    stage = get_stage(name)
    params = apply_freezing(stage, tiny_model)
    trainable = {n for n, p in tiny_model.named_parameters() if p.requires_grad}
    frozen = {n for n, p in tiny_model.named_parameters() if not p.requires_grad}
    assert trainable and frozen
    assert len(params) == len(trainable)
    assert all(n.startswith(EXPECTED_TRAINABLE[name]) for n in trainable), sorted(trainable)
    assert not any(n.startswith(EXPECTED_TRAINABLE[name]) for n in frozen), sorted(frozen)
    # the heavy E and G only train in eg_pretrain (the paper's efficiency claim)
    if name != "eg_pretrain":
        assert not any(n.startswith(("encoder.", "generator.")) for n in trainable)


def test_also_train_adds_the_decoder_to_a_stage_and_refuses_unknown_prefixes(tiny_model):
    from edtalk.stages import with_also_train
    from edtalk.train_chain import stage_config_for

    cfg = stage_config_for("expression", {"also_train": ("generator",)})
    assert StageConfig.from_dict(cfg.to_dict()).also_train == ("generator",)  # survives the run config
    stage = with_also_train(get_stage("expression"), cfg.also_train, tiny_model)
    apply_freezing(stage, tiny_model)
    trainable = {n.split(".")[0] for n, p in tiny_model.named_parameters() if p.requires_grad}
    assert trainable == {"navigation", "banks", "eem", "generator"}  # E stays frozen
    assert with_also_train(get_stage("expression"), (), tiny_model) is get_stage("expression")
    with pytest.raises(ValueError, match="genrator"):
        with_also_train(get_stage("expression"), ("genrator",), tiny_model)


def test_eg_expression_bank_is_refused_by_name_on_a_model_without_an_expression_bank():
    from edtalk.stages import configured_stage
    from edtalk.train_chain import stage_config_for

    lip_pose = EDTalk(ModelConfig.preset("tiny", components="lip_pose"))
    with36 = stage_config_for("eg_pretrain", {"eg_expression_bank": True})
    with pytest.raises(ValueError, match="no expression bank.*its banks: mouth, pose"):
        configured_stage(get_stage("eg_pretrain"), with36, lip_pose)


def test_eg_expression_bank_trains_eln_and_draws_along_all_three_banks(tiny_model, monkeypatch):
    from edtalk.stages import configured_stage
    from edtalk.train_chain import stage_config_for

    plain = stage_config_for("eg_pretrain", {})
    with36 = stage_config_for("eg_pretrain", {"eg_expression_bank": True})
    assert StageConfig.from_dict(with36.to_dict()).eg_expression_bank  # survives the run config
    assert configured_stage(get_stage("eg_pretrain"), plain, tiny_model) is get_stage("eg_pretrain")
    stage = configured_stage(get_stage("eg_pretrain"), with36, tiny_model)
    apply_freezing(stage, tiny_model)
    grad = {n for n, p in tiny_model.named_parameters() if p.requires_grad}
    assert any(n.startswith("navigation.heads.expression.") for n in grad)
    assert "banks.raw.expression" in grad and not any(n.startswith("eem.") for n in grad)
    asked = []
    navigate = tiny_model.navigate

    def recording(f_r, names=None):
        asked.append(tuple(names))
        return navigate(f_r, names)

    size = tiny_model.cfg.image_size
    batch = {"source": torch.zeros(1, 3, size, size), "target": torch.zeros(1, 3, size, size)}
    monkeypatch.setattr(tiny_model, "navigate", recording)
    with torch.no_grad():
        stage.forward(tiny_model, batch, with36)
        stage.forward(tiny_model, batch, plain)
    assert asked == [("mouth", "pose", "expression"), ("mouth", "pose")]


def test_frozen_modules_are_in_eval_mode(tiny_model):
    stage = get_stage("audio_pose")
    apply_freezing(stage, tiny_model)
    set_train_mode(stage, tiny_model)
    assert tiny_model.pose_flow.training
    assert not tiny_model.audio_lip.training  # its BatchNorm statistics must not move
    assert not tiny_model.encoder.training


def _stage1_trained_model() -> EDTalk:
    """A tiny model whose parameters all differ from a fresh seeded model's (stands in for stage 1)."""
    torch.manual_seed(5)
    model = EDTalk(ModelConfig.preset("tiny"))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    return model


def test_fresh_mouth_pose_banks_restart_mln_pln_and_their_banks_only():
    from edtalk.stages import start_fresh
    from edtalk.train_chain import stage_config_for

    fresh_cfg = stage_config_for("mouth_pose", {"fresh_mouth_pose_banks": True})
    assert StageConfig.from_dict(fresh_cfg.to_dict()).fresh_mouth_pose_banks  # survives the run config
    a, b = _stage1_trained_model(), _stage1_trained_model()
    before = {n: p.detach().clone() for n, p in a.named_parameters()}
    names = start_fresh(get_stage("mouth_pose"), fresh_cfg, a, seed=3)
    start_fresh(get_stage("mouth_pose"), fresh_cfg, b, seed=3)
    own = EXPECTED_TRAINABLE["mouth_pose"]
    assert names and all(n.startswith(own) for n in names)
    assert {n for n, _ in a.named_parameters() if n.startswith(own)} == set(names)
    after = dict(a.named_parameters())
    for n, p in b.named_parameters():  # every rank draws the same fresh values from the seed
        assert torch.equal(after[n], p), n
        assert torch.equal(after[n], before[n]) != (n in names), n  # only MLN/PLN/B^m/B^p changed
    # B^e is still orthogonal to the new B^m and B^p (QR of the joined bank)
    bases = a.bases()
    joined = torch.cat([bases["mouth"], bases["pose"], bases["expression"]], dim=1)
    assert torch.allclose(joined.t() @ joined, torch.eye(joined.shape[1]), atol=1e-5)
    # the new B^m and B^p are a fresh bank's, orientation included (not the new V turned by stage 1's signs)
    from edtalk.modules.navigation import LatentNavigation, MotionBanks

    torch.manual_seed(3)
    LatentNavigation(a.cfg)  # start_fresh draws the navigation first, then the banks
    new = MotionBanks(a.cfg).bases()
    for k in ("mouth", "pose"):
        assert torch.allclose(bases[k], new[k], atol=1e-5), k


def test_fresh_banks_leave_the_ranks_own_random_state_on_every_device(monkeypatch):
    """``torch.manual_seed`` inside start_fresh also seeds CUDA; forking the CPU generator only let every
    GPU rank's CUDA generator restart from the same seed (the worker seeds seed + rank). The CPU part is
    checked for real; that the CUDA generators are forked too, through the devices fork_rng is given."""
    import contextlib

    from edtalk.stages import start_fresh
    from edtalk.train_chain import stage_config_for

    fresh_cfg = stage_config_for("mouth_pose", {"fresh_mouth_pose_banks": True})
    model = _stage1_trained_model()
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    start_fresh(get_stage("mouth_pose"), fresh_cfg, model, seed=3)
    assert torch.equal(torch.rand(3), expected)  # the rank's CPU stream goes on as if untouched
    forked = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(
        torch.random, "fork_rng", lambda devices: forked.append(devices) or contextlib.nullcontext()
    )
    start_fresh(get_stage("mouth_pose"), fresh_cfg, model, seed=3)
    assert forked == [[0, 1]]


def test_fresh_mouth_pose_banks_default_to_the_official_start_at_paper_only():
    from edtalk.stages import start_fresh
    from edtalk.train_chain import stage_config_for

    assert stage_config_for("mouth_pose", {}, preset="paper").fresh_mouth_pose_banks
    assert not stage_config_for("mouth_pose", {}, preset="tiny").fresh_mouth_pose_banks
    off = stage_config_for("mouth_pose", {"fresh_mouth_pose_banks": False}, preset="paper")
    assert not off.fresh_mouth_pose_banks  # --no-fresh-mouth-pose-banks
    model = _stage1_trained_model()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    on_expression = stage_config_for("expression", {"fresh_mouth_pose_banks": True})
    assert start_fresh(get_stage("mouth_pose"), off, model) == []
    assert start_fresh(get_stage("expression"), on_expression, model) == []  # mouth_pose's switch only
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_mouth_pose_cross_reconstruction_takes_each_images_mouth_and_pose_from_the_right_swap(
    tiny_model, monkeypatch
):
    """What mouth_pose.forward hands to compose: Î^a takes its mouth from ma_pb and its pose from mb_pa,
    Î^b the other way round, both on the identities' f^{i->r}; the self-reconstructions take both from a
    (b). A fresh G ignores its latent, so only the latents (not the images) can show a wrong pairing."""
    from edtalk.train_chain import stage_config_for

    torch.manual_seed(4)
    m, n = tiny_model, 1  # rows [:n] are a's, [n:] b's
    size = m.cfg.image_size
    batch = {k: torch.rand(n, 3, size, size) * 2 - 1 for k in ("id_a", "id_b", "a", "b", "ma_pb", "mb_pa")}
    calls, compose = [], m.compose

    def recording(f_r, weights):
        calls.append((f_r.clone(), {k: v.clone() for k, v in weights.items()}))
        return compose(f_r, weights)

    monkeypatch.setattr(m, "compose", recording)
    with torch.no_grad():
        get_stage("mouth_pose").forward(m, batch, stage_config_for("mouth_pose", {}))
        f = dict(zip(batch, m.encode(torch.cat(list(batch.values())))[0].split(n), strict=True))
        w = {k: m.navigate(f[k]) for k in ("a", "b", "ma_pb", "mb_pa")}
    assert len(calls) == 2

    def close(a, b):
        return torch.allclose(a, b, atol=1e-5)

    (f_cross, cross), (f_self, own) = calls
    assert close(f_cross, torch.cat([f["id_a"], f["id_b"]])) and close(f_self, f_cross)
    assert set(cross) == set(own) == {"mouth", "pose"}
    assert close(cross["mouth"][:n], w["ma_pb"]["mouth"]) and close(cross["pose"][:n], w["mb_pa"]["pose"])
    assert close(cross["mouth"][n:], w["mb_pa"]["mouth"]) and close(cross["pose"][n:], w["ma_pb"]["pose"])
    for k in ("mouth", "pose"):
        assert close(own[k][:n], w["a"][k]) and close(own[k][n:], w["b"][k]), k


def test_wo_l_self_leaves_the_unmodified_images_out_of_every_loss(tiny_model):
    """Table 3's "w/o L_self" set L_self's weight to 0, but the self-reconstructions still reached G's
    heads through L_adv: the unmodified images (what L_self adds, App. 8.2) still trained. Without
    L_self they are not drawn; with it, L_adv sees the cross and the self ones, as before."""
    from edtalk.ablations import ABLATIONS
    from edtalk.stages import LossNetworks
    from edtalk.train_chain import stage_config_for

    torch.manual_seed(5)
    m, n, size = tiny_model, 2, tiny_model.cfg.image_size
    batch = {k: torch.rand(n, 3, size, size) * 2 - 1 for k in ("id_a", "id_b", "a", "b", "ma_pb", "mb_pa")}
    seen = []
    nets = LossNetworks(
        perceptual=lambda x, y: (x - y).abs().mean(),
        discriminator=lambda x: seen.append(x) or x.mean((1, 2, 3)),
    )
    stage = get_stage("mouth_pose")
    without = stage_config_for(
        "mouth_pose", {"loss_weights": ABLATIONS["wo_l_self"].loss_weights["mouth_pose"]}
    )
    with torch.no_grad():
        out = stage.forward(m, batch, without)
        terms = stage.losses(out, batch, nets)
        assert "self" not in out and terms["self"].item() == 0.0 and len(seen[-1]) == 2 * n
        full = stage.forward(m, batch, stage_config_for("mouth_pose", {}))
        stage.losses(full, batch, nets)
    assert len(seen[-1]) == 4 * n
    torch.testing.assert_close(full["cross"], out["cross"])


def test_audio_lip_sync_loss_scores_the_first_five_frames_against_the_middle_frames_audio():
    """L^m_sync compares the lip windows of frames 0-4 with the mel window of frame 2, the middle one (as
    the sync expert was trained); the window of frame 0 is an 80 ms offset built into the loss. A stub
    expert records what it is shown: frame k is drawn as the constant k / 10, mel window k as k."""
    from edtalk.experts.sync_net import SyncNetConfig
    from edtalk.stages import LossNetworks

    n, t, size = 2, 7, 64
    frames = torch.arange(t, dtype=torch.float32).div(10).view(1, t, 1, 1, 1).expand(n, t, 3, size, size)
    mels = torch.arange(t, dtype=torch.float32).view(1, t, 1, 1, 1).expand(n, t, 1, 80, 16)
    seen = {}

    class StubSync(torch.nn.Module):
        cfg = SyncNetConfig()

        def embed_video(self, windows):
            seen["video"] = windows.detach().clone()
            return torch.ones(windows.shape[0], 4)

        def embed_audio(self, mel):
            seen["audio"] = mel.detach().clone()
            return torch.ones(mel.shape[0], 4)

    outputs = {"w_m": torch.zeros(n * t, 20), "w_m_hat": torch.zeros(n * t, 20), "fake": frames.flatten(0, 1)}
    batch = {"frames": frames, "mels": mels, "source": frames[:, 0]}
    terms = get_stage("audio_lip").losses(outputs, batch, LossNetworks(sync_net=StubSync()))
    assert set(terms) == {"m_fea", "m_rec", "m_sync"}
    assert seen["audio"].shape == (n, 1, 80, 16)
    assert seen["audio"].unique().tolist() == [2.0]  # the middle frame's mel window, for every sample
    video = seen["video"].view(n, 5, 3, *seen["video"].shape[-2:])  # 5 frames x RGB, lower-face crops
    expected = torch.arange(5, dtype=torch.float32).div(10).view(1, 5, 1, 1, 1).expand_as(video)
    assert torch.allclose(video, expected, atol=1e-6)


def test_expression_losses_compare_the_fake_with_the_driving_frame_and_the_mouths_with_each_other():
    """L_rec, L_per and L_mot of the expression stage read the driving frame (the source frame there
    pulled the expression back to the source's); L_m-c compares the fake's mouth features with the real
    ones. A stub face expert reads each image's mean value, so the fake drawn as the driving frame gives
    L_mot 0 and L_rec 0 (a mutation review: nothing pinned the target)."""
    from edtalk import losses as L
    from edtalk.stages import LossNetworks

    n, size = 2, 16
    source = torch.full((n, 3, size, size), -0.5)
    driving = torch.full((n, 3, size, size), 0.25)

    class StubFace(torch.nn.Module):
        def forward(self, images):
            level = images.mean((1, 2, 3))[:, None]
            return {"landmarks": level.repeat(1, 4), "pose_z": level, "mouth_z": level, "emotion": level * 3}

    mouth_fake, mouth_real = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    nets = LossNetworks(perceptual=lambda x, y: (x - y).abs().mean(), face_analyser=StubFace())
    batch = {"source": source, "driving": driving}
    outputs = {"fake": driving.clone(), "mouth_fake": mouth_fake, "mouth_real": mouth_real}
    terms = get_stage("expression").losses(outputs, batch, nets)
    assert [round(terms[k].item(), 6) for k in ("rec", "per", "mot")] == [0.0, 0.0, 0.0]
    torch.testing.assert_close(terms["mc"], L.feature_consistency(mouth_fake, mouth_real))
    assert terms["mc"].item() > L.feature_consistency(mouth_real, mouth_real).item()  # not compared to itself
    drawn_as_source = get_stage("expression").losses({**outputs, "fake": source.clone()}, batch, nets)
    assert drawn_as_source["mot"].item() > 0 and drawn_as_source["rec"].item() > 0


def test_l_fea_sums_exp_minus_cos_over_the_mouth_and_the_pose_as_eq_4():
    """Eq. 4: L_fea = sum over the components (mouth, pose) of exp(-S), averaged over the images: each
    component's term at its own value, not their mean (a mutation review: dropping the sum halved the
    term and no test noticed)."""
    from edtalk.stages import LossNetworks

    n, size = 2, 16
    real = {k: torch.zeros(n, 3, size, size) for k in ("a", "b")}
    fea_real = torch.tensor([[1.0, 0.0]] * 2 * n + [[0.0, 1.0]] * 2 * n)  # mouth rows, then pose rows
    fea_swap = torch.tensor([[1.0, 0.0]] * 2 * n + [[0.0, -1.0]] * 2 * n)  # mouth kept, pose opposite
    outputs = {"cross": torch.zeros(2 * n, 3, size, size), "fea_swap": fea_swap, "fea_real": fea_real}
    terms = get_stage("mouth_pose").losses(outputs, real, LossNetworks(perceptual=lambda x, y: x.sum() * 0))
    expected = torch.exp(torch.tensor(-1.0)) + torch.exp(torch.tensor(1.0))  # mouth exp(-1) + pose exp(1)
    torch.testing.assert_close(terms["fea"], expected)
