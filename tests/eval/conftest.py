"""Shared fixtures for eval tests: a private weights directory with seeded reference weights, and a
stand-in face judge for the emotion diagnostics."""

import numpy as np
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


class BrowJudge:
    """Stand-in face judge: 'angry' (class 0) when a fixture frame shows the angry clip's bright green
    brows (fixture brows are (30 e, 255 - 30 e, 60) for emotion e), else 'neutral' (class 5)."""

    def predict(self, frames):
        frames = np.asarray(frames).astype(int)
        angry = (
            (frames[..., 1] - frames[..., 0] > 150).reshape(len(frames), -1).any(1)
        )  # decoded ~(43, 226, 71)
        logits = np.zeros((len(frames), 8), np.float32)
        logits[np.arange(len(frames)), np.where(angry, 0, 5)] = 1.0
        return {"emotion": logits}


@pytest.fixture
def brow_judge():
    """The stand-in face judge of the emotion diagnostics (eval.inversion, eval.oracle)."""
    return BrowJudge()
