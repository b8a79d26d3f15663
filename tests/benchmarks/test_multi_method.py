"""benchmarks.multi_method: a short smoke run (no timing asserts) reports both sides and their ratio with
the results checked identical; differing results are a MISMATCH (exit 1); no data or no judges is a
skip that writes nothing; Ray is started once per call on each side."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.multi_method import differences, main, report


def test_smoke_run_in_process_reports_both_sides_and_identical_results(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["--smoke", "--workers", "0", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["smoke"] and r["identical"] and r["differences"] == [] and r["clips"] == 2
    assert r["methods"] == ["gt", "static"] and r["repeats"] == 1 and r["machine"]["cpus"] >= 1
    assert [len(v) for v in r["seconds_all"].values()] == [1, 1]
    assert set(r["reference_seconds_per_call"]) == {"gt", "static"}
    assert r["reference_over_combined"] > 0 and "NOT" in r["measured"]
    printed = capsys.readouterr().out
    assert "results identical" in printed and "two calls" in printed and "one call" in printed


def _results(psnr: float, clip_psnr: float = 30.0) -> str:
    rows = [{"clip": "c0", "values": {"psnr": clip_psnr}, "failures": {}}]
    return json.dumps({"metrics": {"psnr": {"value": psnr}}, "failures": [], "clips": rows}, sort_keys=True)


def test_differences_name_the_method_and_metric_or_part():
    same = {"gt": _results(30.0), "static": _results(20.0)}
    assert differences(same, dict(same)) == []
    assert differences(same, {**same, "static": _results(21.0)}) == [
        "static: psnr: {'value': 20.0} vs {'value': 21.0}"
    ]
    assert differences(same, {**same, "gt": _results(30.0, clip_psnr=31.0)}) == ["gt: the clips differ"]
    assert differences(same, {"gt": same["gt"]}) == ["static: scored by one side only"]
    nan = {"gt": _results(float("nan"))}
    assert differences(nan, {"gt": _results(float("nan"))}) == []  # NaN on both sides is the same


def test_results_that_differ_are_a_mismatch_with_exit_1(tmp_path, capsys):
    import argparse

    args = argparse.Namespace(
        smoke=True, data=tmp_path, methods="gt,static", metrics=None, workers=0, device="cpu", repeats=1,
        separate_folders=False, out=tmp_path / "bench.json",
    )  # fmt: skip
    timed = {
        "seconds": {"reference": [2.0], "combined": [1.0]},
        "per_call": {"gt": [1.0], "static": [1.0]},
        "warmup": None,
        "diffs": ["combined run 1: static: psnr: 20.0 vs 21.0"],
        "results": {"gt": _results(30.0)},
    }
    assert report(args, [], timed, 0.5) == 1
    assert "MISMATCH" in capsys.readouterr().out
    r = json.loads((tmp_path / "bench.json").read_text())
    assert not r["identical"] and r["differences"] == timed["diffs"] and r["reference_over_combined"] == 2.0


def test_no_test_split_is_a_skip_that_writes_nothing(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["--data", str(tmp_path / "none"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"skipped: --data {tmp_path / 'none'}: no synthtalk test split")
    assert not out.exists()


def _synthtalk_tree(root) -> None:
    """Two 8-frame test clips of a synthtalk layout (clips/<id>.mp4|wav|json, splits/test.txt)."""
    import soundfile as sf

    from edtalk.data.video import write_video

    (root / "clips").mkdir(parents=True)
    (root / "splits").mkdir()
    ids = [f"st{i:03d}#happy#level_1#001" for i in range(2)]
    for i, cid in enumerate(ids):
        write_video(root / "clips" / f"{cid}.mp4", np.full((8, 64, 64, 3), 40 * i, np.uint8), fps=25)
        sf.write(root / "clips" / f"{cid}.wav", np.zeros(16000 * 8 // 25, np.float32), 16000)
        meta = {"id": cid, "identity": f"st{i:03d}", "emotion": "happy", "level": 1}
        (root / "clips" / f"{cid}.json").write_text(json.dumps(meta))
    (root / "splits" / "test.txt").write_text("\n".join(ids) + "\n")


def test_missing_judges_are_a_skip_that_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "no-weights"))
    _synthtalk_tree(tmp_path / "st")
    out = tmp_path / "bench.json"
    assert main(["--data", str(tmp_path / "st"), "--workers", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("skipped: ") and "judge" in printed and "eval.zoo install" in printed
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--methods", "gt"], "--methods gt: name two or more methods"),
        (["--methods", "gt,nosuch", "--workers", "0"], "nosuch"),
    ],
)
def test_bad_methods_are_one_error_line(tmp_path, capsys, argv, message):
    _synthtalk_tree(tmp_path / "st")
    assert main(["--data", str(tmp_path / "st"), "--metrics", "psnr", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


@pytest.mark.ray
@pytest.mark.slow  # ~40 s on 2 shared cores: three Ray starts, each with its actor's imports
def test_each_reference_call_starts_its_own_ray_and_the_combined_call_one(tmp_path, monkeypatch):
    import ray

    import edtalk.ray_setup

    starts = []
    real = edtalk.ray_setup.start_ray
    monkeypatch.setattr(edtalk.ray_setup, "start_ray", lambda *a, **k: starts.append(a) or real(*a, **k))
    out = tmp_path / "bench.json"
    assert main(["--smoke", "--workers", "1", "--out", str(out)]) == 0
    assert len(starts) == 3 and not ray.is_initialized()
    assert json.loads(out.read_text())["identical"]
