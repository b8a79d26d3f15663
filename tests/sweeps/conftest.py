"""Fixtures shared by the sweep tests."""

import json

import pytest


class RayWouldStart(Exception):
    """Raised where a sweep would start Ray (``sweep_inputs``): every check before it passed."""


@pytest.fixture
def sweep_inputs(tmp_path, monkeypatch):
    """The arguments of a sweep on a one-clip synthtalk dataset and a tiny parent run; instead of
    starting Ray the sweep raises ``RayWouldStart`` (the ``ray_would_start`` fixture)."""
    from edtalk.config import ModelConfig
    from edtalk.experts.testing import make_fixture_dataset
    from edtalk.model import save_checkpoint
    from sweeps import tuner

    def would_start(address):
        raise RayWouldStart

    monkeypatch.setattr(tuner, "init_ray", would_start)
    data = make_fixture_dataset(tmp_path / "st", n_clips=1, n_frames=4, size=32)
    runs = tmp_path / "runs"
    for stage in ("eg_pretrain", "mouth_pose"):
        save_checkpoint(runs / stage / "final.pt", {}, ModelConfig.preset("tiny"), {"stage": stage})
    return ["--root", str(data), "--parent", str(runs), "--metrics", "psnr"]


@pytest.fixture
def ray_would_start():
    """The exception ``sweep_inputs``' sweeps raise where Ray would start."""
    return RayWouldStart


@pytest.fixture
def write_trial_results():
    """``write(path, psnr)``: a minimal valid results file (PSNR only, eval.results' schema) at
    ``path``, its folders made; returns ``path``. What a finished trial leaves for the export."""

    def write(path, psnr):
        path.parent.mkdir(parents=True)
        metric = {"value": psnr, "n": 3, "spread": 0.5, "higher_is_better": True, "label": "PSNR"}
        data = {
            "schema": "edtalk-bench/results/1",
            "dataset": "synthtalk",
            "method": "edtalk_a",
            "split": "test",
            "protocol": {"name": "synthtalk", "hash": "abcd" * 4, "settings": {}},
            "metrics": {"psnr": metric},
            "versions": {},
            "git": {},
            "config": {},
            "unverified": False,
            "failures": [],
            "provenance": {},
        }
        path.write_text(json.dumps(data))
        return path

    return write
