"""Fixtures shared by the sweep tests."""

import json

import pytest


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
