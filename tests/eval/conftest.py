"""Shared fixtures for eval tests: a private weights directory with seeded reference weights."""

import pytest
import torch

import eval.backbones as backbones
from edtalk import weights


@pytest.fixture
def seeded_weights(tmp_path, monkeypatch):
    """``install(name, state_dict)``: save a seeded state dict and import it as weight ``name``
    into a tmp weights dir (unverified: it is not the official file); returns its path."""
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("EDTALK_BENCH_ALLOW_UNVERIFIED", "1")
    backbones.clear_cache()

    def install(name, state_dict):
        src = tmp_path / f"seeded-{name}.pth"
        torch.save(state_dict, src)
        return weights.import_file(name, src, allow_unverified=True)

    yield install
    backbones.clear_cache()
