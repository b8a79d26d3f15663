"""benchmarks.face_crop: a seconds-long smoke run (no timing asserts): both sides find the same face
square (checked inside) and the report has both times and their ratio."""

from __future__ import annotations

import json


def test_smoke_run_reports_both_sides_and_the_ratio(tmp_path, capsys):
    from benchmarks.face_crop import main

    out = tmp_path / "bench.json"
    assert main(["--frames", "6", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["detections"] == 2 and r["full_size_s"] > 0 and r["scaled_s"] > 0 and r["speedup"] > 0
    assert r["square_difference_of_side"] < 0.03
    assert "detection pass, 6 frames of 1920x1080" in capsys.readouterr().out
