"""benchmarks.drive_video: a seconds-long smoke run (no timing asserts): both sides draw the same frames
(checked inside), the report has both medians and their ratio; a changed drawing is caught."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_smoke_run_reports_both_sides_and_the_ratio(tmp_path, capsys):
    from benchmarks.drive_video import main

    out = tmp_path / "bench.json"
    assert main(["--smoke", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert set(r["seconds_median"]) == {"ours", "reference"} and r["reference_over_ours"] > 0
    assert r["smoke"] and r["frames"] == 6 and r["machine"]["cpus"] >= 1
    assert "one pass of E" in capsys.readouterr().out


def test_sides_that_draw_differently_are_refused(monkeypatch):
    import edtalk.driving
    from benchmarks.drive_video import time_sides

    calls = iter(range(10))
    monkeypatch.setattr(edtalk.driving, "drive_video", lambda *a, **k: np.full(3, next(calls)))
    with pytest.raises(AssertionError, match="changed the drawn frames"):
        time_sides(None, np.zeros((2, 8, 8, 3), np.uint8), repeats=1)
