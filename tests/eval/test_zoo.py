"""eval.zoo: judges trained on the judge split only, installed with recorded sha256, held-out report."""

from __future__ import annotations

import json

import pytest

import eval.backbones as backbones
from edtalk import weights
from edtalk.experts.store import install_judge, save_expert
from edtalk.experts.testing import make_fixture_dataset
from edtalk.weights import sha256_of

# the options conftest's smoke judge pair (``smoke_judges``: data, weights dir, --out) was trained with
SMOKE = [
    *("--face-steps", "3", "--sync-steps", "2", "--batch-size", "8", "--max-clips", "4", "--no-progress"),
    *("--extra-identities", "1", "--extra-frames-per-clip", "2"),
]


def test_zoo_train_installs_judges_and_reports(smoke_judges):
    data, wdir, out = smoke_judges
    recorded = json.loads((wdir / "recorded_hashes.json").read_text())
    for name in ("synthtalk_face_judge", "synthtalk_sync_judge"):
        path = weights.resolve(name)  # the weights manager verifies the recorded sha256
        assert path == wdir / f"{name}.safetensors"
        assert recorded[name] == sha256_of(path)
    assert not (out / "zoo_results.json").exists()  # smoke judges (--max-clips) are not `make demo`'s marker
    results = json.loads((out / "zoo_results_first4.json").read_text())
    face, sync = results["face"], results["sync"]
    assert face["n_clips"] == 4 and 0.0 <= face["emotion_acc_video"] <= 1.0
    assert face["landmark_error_px"] > 0 and face["pose_error_deg"] > 0
    assert sync["n_shift_trials"] == 4 * 20 and 0.0 <= sync["shift_recovery"] <= 1.0
    assert set(results["targets_met"]) == {"emotion_acc_video", "shift_recovery"}

    # the judges loaded for metrics come from the judge split
    face_judge = backbones.get_backbone("synthtalk_face_judge")
    assert face_judge.meta["split"] == "judge"
    assert face_judge.meta["identities"] == ["st002", "st003"]


def test_zoo_evaluate_uses_installed_judges(smoke_judges, capsys):
    data, wdir, out = smoke_judges
    from eval.zoo import main

    full = (out / "zoo_results_first4.json").read_text()
    assert (
        main(["evaluate", "--data", str(data), "--out", str(out), "--max-clips", "2", "--no-progress"]) == 0
    )
    assert json.loads((out / "zoo_results_first2.json").read_text())["face"]["n_clips"] == 2
    assert (out / "zoo_results_first4.json").read_text() == full  # a smoke check keeps the training's figures
    assert main(["evaluate", "--data", str(data), "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "zoo_results.json").read_text())["face"]["n_clips"] == 4


def test_check_says_whether_the_installed_judges_can_score_the_set(smoke_judges, tmp_path, capsys):
    """`make demo` skipped the judges whenever runs/judges/zoo_results.json existed, so with another
    weights folder (or the cache cleared) every score stopped on a missing judge. It now asks
    `eval.zoo check` first."""
    data, wdir, _ = smoke_judges
    from eval.zoo import main

    assert main(["check", "--data", str(data)]) == 0
    assert "synthtalk_sync_judge" in capsys.readouterr().out
    assert main(["check", "--data", str(data), "--weights-dir", str(tmp_path / "elsewhere")]) == 2
    assert "synthtalk_face_judge' is missing" in capsys.readouterr().err


def test_install_refuses_a_training_loss_expert(smoke_judges, tmp_path):
    from edtalk.experts.face_analyser import FaceAnalyser, FaceAnalyserConfig

    path = save_expert(
        FaceAnalyser(FaceAnalyserConfig(n_identities=2)),
        "face_analyser",
        "train",
        ["st000", "st001"],
        tmp_path / "experts",
    )
    with pytest.raises(ValueError, match="not a synthtalk_face_judge judge"):
        install_judge("synthtalk_face_judge", path)


def test_missing_judge_names_the_training_command(tmp_path, monkeypatch):
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "empty"))
    from edtalk.experts.store import resolve_judge

    with pytest.raises(weights.MissingWeightsError, match="python -m eval.zoo train"):
        resolve_judge("synthtalk_sync_judge")


def test_results_name_the_data_and_the_judges_and_another_set_gets_a_note(
    smoke_judges, smoke_judge_pair, tmp_path, capsys
):
    """zoo_results.json did not say which judge files or which dataset its figures came from, and
    judges trained on one synthtalk scored another (another seed) without a word."""
    _, wdir, out = smoke_judges
    from eval.zoo import main

    results = json.loads((out / "zoo_results_first4.json").read_text())
    assert results["data"] == {
        "root": str(smoke_judge_pair.data.absolute()),  # the set `train` was given (this test has a copy)
        "seed": 0,
        "preset": None,
        "generator_version": None,
    }
    for name in ("synthtalk_face_judge", "synthtalk_sync_judge"):
        judge = results["judges"][name]
        assert judge["sha256"] == sha256_of(wdir / f"{name}.safetensors") and judge["trained_on"]["seed"] == 0
    capsys.readouterr()
    other = make_fixture_dataset(tmp_path / "seed1", n_clips=1, n_frames=25, size=64, seed=1)
    assert main(["evaluate", "--data", str(other), "--out", str(tmp_path / "o"), "--max-clips", "2",
                 "--no-progress"]) == 0  # fmt: skip
    note = capsys.readouterr().out.split("[zoo] note: judges trained on synthtalk ")[1].splitlines()[0]
    assert note.startswith("{") and "'seed': 0" in note and f"score {other}, " in note and "'seed': 1" in note


def test_an_out_that_is_a_file_or_an_unfinished_dataset_is_refused_before_training(
    tmp_path, monkeypatch, capsys
):
    """A file as --out failed with FileExistsError's traceback after the whole training; a synthtalk
    whose generation was interrupted after its split lists (no card.json) was trained on."""
    import edtalk.experts.train as experts_train
    from eval.zoo import main

    def never(*args, **kwargs):
        raise AssertionError("trained")

    monkeypatch.setattr(experts_train, "train_experts", never)
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    data = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=25, size=64)
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["train", "--data", str(data), "--out", str(afile), *SMOKE]) == 2
    assert capsys.readouterr().err == f"error: {afile}: is a file, not a folder: choose a folder for --out\n"
    (data / "card.json").unlink()
    for argv in (["train", *SMOKE], ["evaluate"]):
        assert main([*argv, "--data", str(data), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert (
            err.startswith(f"error: {data}: an unfinished synthtalk (clips/ but no card.json")
            and err.count("\n") == 1
        )
    assert afile.read_text() == "x" and not (tmp_path / "weights").exists()


def test_ctrl_c_is_exit_130_and_a_retrain_drops_the_old_figures(smoke_judges, tmp_path, monkeypatch, capsys):
    """Ctrl-C printed a traceback; interrupted after installing new judges, the old judges' figures
    stayed in --out (`make demo` takes zoo_results.json for "judges trained")."""
    data, wdir, out = smoke_judges
    import edtalk.experts.train as experts_train
    import eval.zoo as zoo

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    def main(argv):
        try:
            return zoo.main(argv)
        except KeyboardInterrupt:
            pytest.fail("Ctrl-C ended in a traceback")

    train = ["train", "--data", str(data), "--out", str(out), *SMOKE]
    capsys.readouterr()
    with monkeypatch.context() as m:
        m.setattr(experts_train, "train_experts", interrupted)
        assert main(train) == 130
    err = capsys.readouterr().err
    assert (
        err.strip() == "interrupted: nothing installed (the judges in the weights directory are as they were)"
    )
    assert (out / "zoo_results_first4.json").is_file()  # the installed judges are still those it describes
    monkeypatch.setattr(zoo, "evaluate_judges", interrupted)
    assert main([*train, "--weights-dir", str(tmp_path / "w2")]) == 130
    printed = capsys.readouterr()
    assert printed.err.strip() == (
        "interrupted: installed synthtalk_face_judge, synthtalk_sync_judge, not evaluated "
        f"(`python -m eval.zoo evaluate --data {data}` scores them)"
    )
    assert (
        f"[zoo] other tools find these judges with EDTALK_BENCH_WEIGHTS={tmp_path / 'w2'} set" in printed.out
    )
    assert not list(out.glob("zoo_results*.json"))


def test_a_missing_judge_names_the_training_command_for_the_set_given(tmp_path, monkeypatch):
    """The hint always said `--data data/synthtalk`, whatever set the run was given."""
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "empty"))
    from edtalk.experts.store import resolve_judge

    with pytest.raises(weights.MissingWeightsError, match=r"`python -m eval.zoo train --data /sets/mine`"):
        resolve_judge("synthtalk_face_judge", "/sets/mine")


def test_a_data_root_that_is_no_synthtalk_set_is_a_usage_error_in_every_subcommand(
    smoke_judges, tmp_path, monkeypatch, capsys
):
    """`eval.zoo check --data data/synthtlk` (a typo), a file or an empty folder said exit 0, "the
    installed pair is the shipped one" (`make demo` relies on that exit status), and `install --no-eval`
    installed the pair: check_fits_dataset passes a root with no split lists. Each subcommand now
    refuses such a --data first, in one line naming it."""
    import edtalk.experts.train as experts_train
    from eval.zoo import main

    def never(*args, **kwargs):
        raise AssertionError("trained")

    monkeypatch.setattr(experts_train, "train_experts", never)
    data = smoke_judges.data
    typo = data.parent / (data.name + "x")
    afile, empty = tmp_path / "README.md", tmp_path / "empty"
    afile.write_text("x")
    empty.mkdir()
    out = ["--out", str(tmp_path / "o"), "--weights-dir", str(tmp_path / "w")]
    subcommands = (["check"], ["install", "--no-eval", *out], ["evaluate", *out], ["train", *SMOKE, *out])
    for bad, why in (
        (typo, f"no such folder: did you mean {data}?"),
        (afile, "is a file"),
        (empty, "not a synthtalk set"),
        (data / "clips", f"{data.resolve()} does: use that folder"),
    ):
        for argv in subcommands:
            assert main([*argv, "--data", str(bad)]) == 2, (argv, bad)
            err = capsys.readouterr().err
            assert err.startswith(f"error: {bad}: ") and why in err and err.count("\n") == 1, err
    assert not (tmp_path / "w").exists() and not (tmp_path / "o").exists()
    assert main(["check", "--data", str(data)]) == 0  # the set itself still fits
