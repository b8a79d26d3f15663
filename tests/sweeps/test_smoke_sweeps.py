"""End-to-end smoke sweeps (slow: Ray Tune + Ray Train + DeepSpeed + eval.run on 2 CPU cores):
the results files they export are read by eval.report into Tables 6 and 3."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.report.inputs import load_results
from eval.report.tables import build_tables

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "synthtalk"

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def _run(script: str, tmp_path: Path) -> Path:
    if not (DATA / "card.json").is_file():
        pytest.skip(f"{DATA} not generated: run `python -m edtalk.data.synthtalk --out {DATA}`")
    out = tmp_path / "results"
    (REPO / "runs" / "sweep_smoke_parent").mkdir(parents=True, exist_ok=True)  # a --parent that exists
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [sys.executable, str(REPO / "sweeps" / script), "--smoke-test", "--root", str(DATA),
           "--parent", str(REPO / "runs" / "sweep_smoke_parent"), "--out", str(out),
           "--storage", str(tmp_path / "ray_results")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_bank_size_smoke_sweep_feeds_table6(tmp_path):
    out = _run("bank_size.py", tmp_path)
    methods = sorted(p.name for p in (out / "synthtalk").iterdir())
    assert methods == ["edtalk_bank_expression_10", "edtalk_bank_expression_5", "edtalk_bank_mouth_10",
                       "edtalk_bank_mouth_5"]  # fmt: skip
    t6 = [t for t in build_tables(load_results(out)) if t.number == "6" and t.protocol_hash]
    assert len(t6) == 1 and [r.label for r in t6[0].rows] == ["5", "10"]
    assert all(c.value is not None for r in t6[0].rows for c in r.cells if c.text != "–")


def test_ablations_smoke_sweep_feeds_table3(tmp_path):
    out = _run("ablations.py", tmp_path)
    t3 = [t for t in build_tables(load_results(out)) if t.number == "3" and t.protocol_hash]
    assert len(t3) == 1 and [r.label for r in t3[0].rows] == ["w/o EEM", "Full Model"]
