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


def test_a_missing_checkpoint_is_one_error_line(tmp_path, capsys):
    """Before: a CheckpointError traceback (exit 1)."""
    from benchmarks.drive_video import main

    missing = tmp_path / "none.pt"
    assert main(["--ckpt", str(missing), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {missing}: checkpoint not found") and len(err.splitlines()) == 1
