"""`python -m edtalk.train --ablation`: a row whose loss weights are in a stage the run does not train is
refused before any work, as --loss-weight refuses a term no trained stage has."""

from edtalk.train import main


def _run(tmp_path, *argv):
    return main([*argv, "--data", f"synthtalk:{tmp_path / 'nowhere'}", "--out", str(tmp_path / "runs")])


def test_an_ablation_of_a_stage_the_run_does_not_train_is_refused(tmp_path, capsys):
    """Its weight was dropped without a word: the run trained the full model under the row's name."""
    assert _run(tmp_path, "--stage", "eg_pretrain", "--ablation", "wo_l_fea") == 2
    err = capsys.readouterr().err
    assert err == (
        "error: --ablation wo_l_fea: it changes the loss weights of mouth_pose, which this run does not "
        "train (eg_pretrain); add mouth_pose to --stages, or leave --ablation wo_l_fea out\n"
    )
    assert not (tmp_path / "runs" / "cache").exists()


def test_an_ablation_of_a_stage_the_run_trains_goes_on(tmp_path, capsys):
    """Guard: with its stage in the run, the ablation passes and the run stops later, on the data."""
    assert _run(tmp_path, "--stages", "eg_pretrain,mouth_pose", "--ablation", "wo_l_fea") == 2
    err = capsys.readouterr().err
    assert "--ablation" not in err and "nowhere" in err, err
