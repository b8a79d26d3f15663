"""eval.zoo: judges trained on the judge split only, installed with recorded sha256, held-out report."""

from __future__ import annotations

import json

import pytest

import eval.backbones as backbones
from edtalk import weights
from edtalk.experts.store import install_judge, save_expert
from edtalk.experts.testing import make_fixture_dataset
from edtalk.weights import sha256_of

SMOKE = [
    *("--face-steps", "3", "--sync-steps", "2", "--batch-size", "8", "--max-clips", "4", "--no-progress"),
    *("--extra-identities", "1", "--extra-frames-per-clip", "2"),
]


@pytest.fixture
def trained(tmp_path, monkeypatch):
    data = make_fixture_dataset(tmp_path / "st", n_clips=2, n_frames=25, size=64)
    wdir = tmp_path / "weights"
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(wdir))  # restored after the test
    backbones.clear_cache()
    from eval.zoo import main

    rc = main(
        ["train", "--data", str(data), "--out", str(tmp_path / "out"), "--weights-dir", str(wdir), *SMOKE]
    )
    assert rc == 0
    yield data, wdir, tmp_path / "out"
    backbones.clear_cache()


def test_zoo_train_installs_judges_and_reports(trained):
    data, wdir, out = trained
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


def test_zoo_evaluate_uses_installed_judges(trained, capsys):
    data, wdir, out = trained
    from eval.zoo import main

    full = (out / "zoo_results_first4.json").read_text()
    assert (
        main(["evaluate", "--data", str(data), "--out", str(out), "--max-clips", "2", "--no-progress"]) == 0
    )
    assert json.loads((out / "zoo_results_first2.json").read_text())["face"]["n_clips"] == 2
    assert (out / "zoo_results_first4.json").read_text() == full  # a smoke check keeps the training's figures
    assert main(["evaluate", "--data", str(data), "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "zoo_results.json").read_text())["face"]["n_clips"] == 4


def test_install_refuses_a_training_loss_expert(trained, tmp_path):
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
