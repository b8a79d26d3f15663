"""benchmarks.eval_throughput: a seconds-long smoke run (no timing asserts): ours and the reference
chain agree on PSNR, SSIM, LPIPS and FID (seeded random weights), and the report has its ratios."""

from __future__ import annotations

import json


def test_smoke_run_agrees_with_reference_and_reports_ratios(tmp_path, monkeypatch, capsys):
    from benchmarks.eval_throughput import main

    out = tmp_path / "bench.json"
    rc = main(["--smoke", "--no-ray", "--no-protocol", "--data", str(tmp_path / "none"), "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    ref = report["reference"]
    assert set(ref["equal"]) == {"psnr", "ssim", "lpips", "fid", "fid_statistics"}
    assert all(ref["equal"].values())
    assert ref["repeats"] == 1 and all(len(v) == 1 for v in ref["seconds_all"]["ours"].values())
    assert set(ref["speed_ratio"]) == {"psnr", "ssim", "lpips", "fid"}
    assert ref["speed_ratio_total"] > 0
    assert "RANDOM weights" in report["note"] and report["machine"]["cpus"] >= 1
    printed = capsys.readouterr().out
    assert "speed ratio" in printed and "RANDOM" in printed


def test_a_data_folder_that_is_no_synthtalk_is_one_error(tmp_path, capsys):
    """Before: a DataError traceback (exit 1) when --data had a test split naming clips it lacks."""
    from benchmarks.eval_throughput import main

    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.txt").write_text("st999#happy#level_1#001\n")
    assert main(["--smoke", "--no-ray", "--no-protocol", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}: ") and "Traceback" not in err
