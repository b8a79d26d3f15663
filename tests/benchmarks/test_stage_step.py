"""benchmarks.stage_step: a seconds-long smoke run (no timing asserts): both stages are stepped and
reported with their ratio to eg_pretrain; the summary's arithmetic; a typo in --stages is one line."""

from __future__ import annotations

import json
import os

import pytest


@pytest.fixture
def process_group_env(monkeypatch):
    """The benchmark sets torch.distributed's variables for its world of one; put them back after."""
    from edtalk.worker_devices import world_of_one_env

    for key in world_of_one_env():
        monkeypatch.setenv(key, os.environ.get(key, ""))  # records the value (or absence) to restore
        monkeypatch.delenv(key)


def test_smoke_run_reports_each_stage_and_its_ratio(tmp_path, capsys, process_group_env, monkeypatch):
    """Without the VGG19 weights, L_per's substitute is said once, as a note (each stage logged a bare
    warning of its own)."""
    from benchmarks.stage_step import main

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "no_weights"))
    out = tmp_path / "bench.json"
    assert main(["--smoke", "--stages", "eg_pretrain,mouth_pose", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert list(r["stages"]) == ["eg_pretrain", "mouth_pose"] and r["smoke"] and r["device"] == "cpu"
    assert r["stages"]["eg_pretrain"]["step_over_eg_pretrain"] == 1.0
    assert r["stages"]["mouth_pose"]["seconds_per_step"] > 0 and r["stages"]["mouth_pose"]["batch_size"] == 4
    printed = capsys.readouterr()
    assert "of an eg_pretrain step" in printed.out
    assert printed.err.count("note: L_per is substitute:pyramid_l1_ssim") == 1
    assert "VGG19 weights unavailable" not in printed.err


def test_summary_takes_medians_per_step_and_per_sample():
    from benchmarks.stage_step import summarise

    s = summarise(
        {"eg_pretrain": [0.1, 0.3, 0.2], "audio_pose": [0.5, 0.4, 9.0]}, {"eg_pretrain": 4, "audio_pose": 8}
    )
    assert s["eg_pretrain"]["seconds_per_step"] == pytest.approx(0.2)
    assert s["audio_pose"]["seconds_per_sample"] == pytest.approx(0.5 / 8)
    assert s["audio_pose"]["step_over_eg_pretrain"] == pytest.approx(2.5)
    assert "step_over_eg_pretrain" not in summarise({"audio_pose": [1.0]}, {"audio_pose": 8})["audio_pose"]


def test_a_misspelt_stage_is_one_error_line(capsys):
    from benchmarks.stage_step import main

    assert main(["--stages", "mouth_pos", "--smoke"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "mouth_pos" in err and len(err.splitlines()) == 1


def test_a_stage_list_without_a_stage_is_one_error_line(capsys):
    """Before: a StopIteration traceback, once the fixture and its loss experts had been trained."""
    from benchmarks.stage_step import main

    assert main(["--stages", " , ", "--smoke"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --stages names no stage") and len(err.splitlines()) == 1
