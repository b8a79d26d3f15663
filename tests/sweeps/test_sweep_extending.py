"""Adding an ablation or a sweep variant: the stages each row retrains come from its own fields, and a
variant every trial would refuse (a typo) or whose loss weights no trial applies is refused before Ray
starts, in one line naming it; the sweeps' help lists what is registered."""

from types import SimpleNamespace

import pytest

from edtalk.ablations import Ablation
from edtalk.config import ModelConfig
from sweeps import ablations, bank_size
from sweeps.cli import build_parser
from sweeps.variant import Variant


@pytest.fixture
def sweep_argv(sweep_inputs, tmp_path):
    """``sweep_inputs`` (tests/sweeps/conftest.py) with --storage and --out in tmp_path."""
    return [*sweep_inputs, "--storage", str(tmp_path / "storage"), "--out", str(tmp_path / "out")]


def _with_row(monkeypatch, ablation):
    """``ablation`` as one more variant of the ablation sweep."""
    monkeypatch.setitem(ablations.VARIANTS, ablation.id, ablations.ablation_variant(ablation))


def test_the_shipped_rows_retrain_the_stages_of_the_table():
    """The stages now come from each row's fields (were a second list, RETRAINS): unchanged for every row."""
    decouple, audio = ("mouth_pose", "expression"), ("mouth_pose", "expression", "audio_lip")
    assert {n: v.stages for n, v in ablations.VARIANTS.items()} == {
        "wo_l_fea": decouple,
        "wo_l_self": decouple,
        "wo_l_m_rec": audio,
        "wo_l_m_sync": audio,
        "wo_orthogonal": decouple,
        "wo_bank": decouple,
        "wo_eem": ("expression",),
        "only_lip": ("mouth_pose",),
        "lip_pose": ("mouth_pose",),
        "full": decouple,
    }


def test_a_new_loss_row_retrains_the_stage_whose_weight_it_changes():
    row = Ablation("wo_m_fea", "w/o L^m_fea", "w/o L^m_fea", loss_weights={"audio_lip": {"m_fea": 0.0}})
    assert ablations.ablation_variant(row).stages == ("mouth_pose", "expression", "audio_lip")
    mixed = Ablation("x", "x", "x", loss_weights={"mouth_pose": {"fea": 0.0}}, model={"use_eem": False})
    assert ablations.ablation_variant(mixed).stages == ("mouth_pose", "expression")


def test_a_loss_weight_of_a_stage_its_trials_do_not_train_is_refused_before_ray(
    sweep_argv, monkeypatch, capsys
):
    """A variant retraining expression with a mouth_pose weight: the weight was dropped without a word
    (its trials train expression and audio_lip), the row the Full Model under another label."""
    point = Variant("ablation_x", "variant", "x", ("expression",), {}, {"mouth_pose": {"fea": 0.0}})
    monkeypatch.setitem(ablations.VARIANTS, "x", point)
    assert ablations.main([*sweep_argv, "--variants", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: sweep variant ablation_x: its loss_weights change stage mouth_pose") and (
        "(they train expression, audio_lip)" in err and "add mouth_pose to the stages it retrains" in err
    ), err
    assert len(err.splitlines()) == 1


def test_a_row_whose_change_audio_driven_scoring_never_sees_is_refused(
    sweep_argv, monkeypatch, capsys, ray_would_start
):
    """The row trains audio_pose with its weight, but EDTalk-A takes pose from the GT clip: refused when
    asked for, and left out of the default list (it made the whole default sweep exit 2)."""
    _with_row(monkeypatch, Ablation("x", "x", "x", loss_weights={"audio_pose": {"mle": 0.0}}))
    assert ablations.main([*sweep_argv, "--variants", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --driving audio scores edtalk_a, which takes pose and expression") and (
        "ablation_x (a change of audio_pose or audio_expression only) would score as their parent" in err
    ), err
    args = SimpleNamespace(variants=None, smoke_test=False, driving="audio")
    assert "x" not in ablations.chosen_names(args, None) and len(ablations.chosen_names(args, None)) == 10
    with pytest.raises(ray_would_start):  # the default sweep goes on to Ray without it
        ablations.main(sweep_argv)


def test_a_row_retraining_the_expression_stage_of_a_model_without_that_bank_is_refused(
    sweep_argv, monkeypatch, capsys
):
    """only lip's model has no expression bank: training its expression stage failed in every trial."""
    row = Ablation("x", "x", "x", model={"components": "lip"}, loss_weights={"expression": {"mot": 0.0}})
    _with_row(monkeypatch, row)
    for driving in ("audio", "video"):
        assert ablations.main([*sweep_argv, "--variants", "x", "--driving", driving]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            "error: sweep variant ablation_x: it retrains the expression stage, but its model"
        )


@pytest.mark.parametrize(
    "row, driving, message",
    [
        (
            Ablation("x", "x", "x", loss_weights={"mouth_pose": {"perr": 0.0}}),
            "audio",
            "sweep variant ablation_x: stage mouth_pose: StageConfig.loss_weights: unknown loss terms "
            "['perr'] for stage mouth_pose (did you mean 'per'?",
        ),
        (
            Ablation("x", "x", "x", model={"use_bankk": False}),
            "video",
            "sweep variant ablation_x: its model overrides {'use_bankk': False} at --preset tiny: unknown "
            "ModelConfig key 'use_bankk'; did you mean 'use_bank'?",
        ),
        (
            Ablation("x", "x", "x", loss_weights={"mouth_pos": {"fea": 0.0}}),
            "audio",
            "sweep variant ablation_x: its loss_weights name 'mouth_pos', which is no stage (did you mean "
            "'mouth_pose'?",
        ),
    ],
)
def test_a_typo_in_a_row_is_refused_before_ray_and_the_parent_run(
    sweep_argv, monkeypatch, capsys, row, driving, message
):
    """Each was refused only inside every trial, after Ray had started and the parent run was prepared."""
    from sweeps import parent_run

    monkeypatch.setattr(parent_run, "prepare_parent", lambda *a: pytest.fail("parent run prepared"))
    _with_row(monkeypatch, row)
    assert ablations.main([*sweep_argv, "--variants", "x", "--driving", driving]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and len(err.splitlines()) == 1, err


def test_the_shipped_sweeps_pass_the_variant_checks(sweep_argv, ray_would_start):
    """Guard: every shipped row and bank size passes, and the sweep goes on to start Ray."""
    with pytest.raises(ray_would_start):
        ablations.main(sweep_argv)
    with pytest.raises(ray_would_start):
        ablations.main([*sweep_argv, "--driving", "video"])
    with pytest.raises(ray_would_start):
        bank_size.main(sweep_argv)


def test_a_bank_size_the_tiny_preset_has_no_room_for_still_has_its_stages():
    """The audio-driven stages were read from a tiny model of the variant: a ConfigError at paper sizes."""
    model = {"n_mouth": 200}
    ModelConfig.preset("paper", **model)
    with pytest.raises(Exception, match="orthogonal banks need"):
        ModelConfig.preset("tiny", **model)
    point = Variant("bank_mouth_200", "mouth", 200, ("mouth_pose", "expression"), model)
    assert point.trained_stages("audio") == ("mouth_pose", "expression", "audio_lip")


def test_the_help_lists_the_registered_protocols_and_the_variants(monkeypatch, capsys):
    from eval.protocols import PROTOCOLS

    monkeypatch.setitem(PROTOCOLS._items, "zz_protocol", PROTOCOLS.get("eat"))
    flat = " ".join(build_parser("x", "y").format_help().split())
    listed = flat.split("--protocol PROTOCOL scoring protocol: ")[1].split(" (default:")[0].split(" | ")
    assert {"canonical", "eat", "synthtalk", "zz_protocol"} <= set(listed)  # other tests may register more
    _with_row(monkeypatch, Ablation("x", "x", "x", loss_weights={"audio_lip": {"m_fea": 0.0}}))
    with pytest.raises(SystemExit):
        ablations.main(["--help"])
    flat = " ".join(capsys.readouterr().out.split())
    assert "(default: all 11, less wo_l_m_rec, wo_l_m_sync and x with --driving video)" in flat, flat
    from edtalk.data.readers import READERS, Dataset

    monkeypatch.setitem(READERS._items, "zz_renders", Dataset(lambda root, split: [], "zz", rendered=True))
    flat = " ".join(build_parser("x", "y").format_help().split())
    assert "synthtalk for --dataset folder, synthtalk and zz_renders, eat for the real faces of" in flat


def test_a_variant_that_retrains_no_stage_is_refused():
    """It failed inside every trial, on an IndexError of its first stage."""
    from eval.run_checks import UsageError
    from sweeps.checks import check_variants

    args = build_parser("x", "y").parse_args(["--preset", "tiny"])
    args.steps = 2
    with pytest.raises(UsageError, match="sweep variant nothing: it retrains no stage"):
        check_variants([Variant("nothing", "variant", "nothing", ())], args)
