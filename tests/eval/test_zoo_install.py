"""eval.zoo install: a judge set (the shipped pair, or the --out of `eval.zoo train`) is checked whole
against the set it will score before either judge is installed, then scored like a freshly trained pair."""

from __future__ import annotations

import json
import shutil

import pytest

from edtalk.experts.store import save_expert
from edtalk.experts.testing import FIXTURE_SPLITS, make_fixture_dataset
from edtalk.weights import sha256_of
from eval.zoo import main

JUDGES = ("synthtalk_face_judge", "synthtalk_sync_judge")


@pytest.fixture
def judge_set(smoke_judges):
    """This test's copy of conftest's smoke judge pair: the fixture set and the pair's ``out/`` (its
    $EDTALK_BENCH_WEIGHTS is the ``weights/`` the pair was installed into, which the tests replace)."""
    return smoke_judges.data, smoke_judges.out


def test_install_puts_both_judges_of_a_folder_in_place_and_scores_them(judge_set, tmp_path, capsys):
    data, folder = judge_set
    other = tmp_path / "other_weights"
    out = tmp_path / "judges"
    argv = [
        "install",
        "--from",
        str(folder),
        "--data",
        str(data),
        "--out",
        str(out),
        "--weights-dir",
        str(other),
    ]
    assert main([*argv, "--max-clips", "2", "--no-progress"]) == 0
    recorded = json.loads((other / "recorded_hashes.json").read_text())
    for name in JUDGES:
        assert sha256_of(other / f"{name}.safetensors") == sha256_of(folder / f"{name}.safetensors")
        assert recorded[name] == sha256_of(folder / f"{name}.safetensors")
    results = json.loads((out / "zoo_results_first2.json").read_text())
    assert results["face"]["n_clips"] == 2 and set(results["judges"]) == set(JUDGES)
    capsys.readouterr()
    assert main(["check", "--data", str(data), "--weights-dir", str(other)]) == 0
    assert "the installed pair is not the shipped one" in capsys.readouterr().out.splitlines()[-1]


def test_the_shipped_pair_installs_on_a_set_it_fits_and_check_says_it_is_shipped(
    tmp_path, capsys, monkeypatch
):
    """The fixture set's people (st000-st005) are none of the shipped judges' (st012-st017)."""
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "w"))  # --weights-dir sets it for the process
    data = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=25, size=64)
    weights = tmp_path / "w"
    assert main(["install", "--data", str(data), "--weights-dir", str(weights), "--no-eval"]) == 0
    assert "(from pretrained:tiny_synthtalk_judges)" in capsys.readouterr().out
    assert main(["check", "--data", str(data), "--weights-dir", str(weights)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == "[zoo] the installed pair is the shipped one (pretrained:tiny_synthtalk_judges)"


def test_a_set_that_does_not_fit_the_data_installs_neither_judge(judge_set, tmp_path, capsys):
    """The sync judge of a set saw the data's train people: refused before the (fine) face judge is
    installed, so a pair is never half replaced."""
    from edtalk.experts.store import load_expert

    data, folder = judge_set
    leaky = tmp_path / "leaky"
    shutil.copytree(folder, leaky)
    sync, meta = load_expert(folder / "synthtalk_sync_judge.safetensors")
    save_expert(sync, "sync_net", "judge", list(FIXTURE_SPLITS["train"]), leaky, dataset=meta["dataset"])
    weights = tmp_path / "w"
    argv = ["install", "--from", str(leaky), "--data", str(data), "--weights-dir", str(weights), "--no-eval"]
    assert main(argv) == 3  # its own status: `make demo` then trains judges for the set, and only then
    err = capsys.readouterr().err
    assert err.startswith(f"error: {leaky / 'synthtalk_sync_judge.safetensors'}: this judge was trained on")
    assert "python -m eval.zoo train --data" in err and err.count("\n") == 1
    assert not any(weights.glob("*.safetensors"))


def test_what_is_not_a_judge_set_is_named(judge_set, tmp_path, capsys):
    data, folder = judge_set
    base = ["install", "--data", str(data), "--no-eval", "--weights-dir", str(tmp_path / "w")]
    assert main([*base, "--from", "pretrained:tiny_synthtalk_loss_experts"]) == 2
    assert "is a loss-expert set (--experts), not a judge set" in capsys.readouterr().err
    assert main([*base, "--from", "pretrained:no_such_set"]) == 2
    assert "no_such_set" in capsys.readouterr().err
    assert main([*base, "--from", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (folder / "synthtalk_face_judge.safetensors").write_bytes(b"x")  # manifest.json lists another hash
    assert main([*base, "--from", str(folder)]) == 2
    assert "sha256 differs" in capsys.readouterr().err
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").glob("*.safetensors"))


def test_the_shipped_judges_match_their_record_come_from_the_judge_split_and_fit_the_demo_set():
    """The pair `make demo` installs: its manifest and files verified, trained on the judge identities
    of synthtalk tiny, seed 0 (st012-st017), for the current generator."""
    from edtalk.data.synthtalk.card import GENERATOR_VERSION
    from edtalk.experts.store import read_metadata
    from eval.zoo import judge_set_files

    files = judge_set_files("pretrained:tiny_synthtalk_judges")
    assert sorted(files) == sorted(JUDGES)
    for path in files.values():
        meta = read_metadata(path)
        assert meta["split"] == "judge" and meta["identities"] == [f"st{i:03d}" for i in range(12, 18)]
        assert meta["dataset"] == {"seed": 0, "preset": "tiny", "generator_version": GENERATOR_VERSION}


def test_a_misspelt_shipped_set_is_offered_only_judge_sets(tmp_path, capsys):
    """`--from pretrained:tiny_synthtalk_judgs` offered 'tiny_synthtalk_eg' and
    'tiny_synthtalk_loss_experts' too, which are no judge sets."""
    data = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=25, size=64)
    argv = ["install", "--data", str(data), "--no-eval", "--weights-dir", str(tmp_path / "w")]
    assert main([*argv, "--from", "pretrained:tiny_synthtalk_judgs"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'tiny_synthtalk_judges'?" in err and err.count("\n") == 1
    assert "tiny_synthtalk_eg" not in err and "loss_experts" not in err
