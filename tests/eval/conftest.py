"""Shared fixtures for eval tests: a private weights directory with seeded reference weights, a
stand-in face judge for the emotion diagnostics, and a smoke judge pair trained once per session."""

import shutil
from pathlib import Path
from typing import NamedTuple

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


# `python -m eval.zoo train` in smoke mode: a few steps, the first 4 test clips scored (about 7 s)
SMOKE_JUDGES = [
    *("--face-steps", "3", "--sync-steps", "2", "--batch-size", "8", "--max-clips", "4", "--no-progress"),
    *("--extra-identities", "1", "--extra-frames-per-clip", "2"),
]


class JudgePair(NamedTuple):
    """A smoke judge pair: the fixture set it was trained on, the weights folder it was installed into,
    and train's --out (both judge files, manifest.json, zoo_results_first4.json)."""

    data: Path
    weights: Path
    out: Path


@pytest.fixture(scope="session")
def smoke_judge_pair(tmp_path_factory):
    """The session's one smoke judge pair (read-only: tests take ``smoke_judges``, their own copy)."""
    from edtalk.experts.testing import make_fixture_dataset
    from eval.zoo import main

    root = tmp_path_factory.mktemp("smoke_judges")
    data = make_fixture_dataset(root / "st", n_clips=2, n_frames=25, size=64)
    pair = JudgePair(data, root / "weights", root / "out")
    argv = ["train", "--data", str(pair.data), "--out", str(pair.out), "--weights-dir", str(pair.weights)]
    with pytest.MonkeyPatch.context() as m:  # --weights-dir sets $EDTALK_BENCH_WEIGHTS; restored on exit
        m.setenv("EDTALK_BENCH_WEIGHTS", str(pair.weights))
        backbones.clear_cache()
        try:
            assert main([*argv, *SMOKE_JUDGES]) == 0
        finally:
            backbones.clear_cache()
    return pair


@pytest.fixture
def smoke_judges(smoke_judge_pair, tmp_path, monkeypatch):
    """This test's copy of the session's smoke judge pair (``st/``, ``weights/``, ``out/`` in tmp_path),
    with $EDTALK_BENCH_WEIGHTS on its ``weights/``."""
    pair = JudgePair(*(Path(shutil.copytree(p, tmp_path / p.name)) for p in smoke_judge_pair))
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(pair.weights))  # restored after the test
    backbones.clear_cache()
    yield pair
    backbones.clear_cache()


@pytest.fixture
def method_devices(monkeypatch):
    """The ``device`` of each ``baselines.make_method`` call the test makes (eval.run builds its method
    with ``--device``), in call order; the methods are built as usual."""
    import baselines

    seen = []
    real = baselines.make_method

    def recording(spec, ckpt=None, device="cpu"):
        seen.append(device)
        return real(spec, ckpt=ckpt, device=device)

    monkeypatch.setattr(baselines, "make_method", recording)  # eval.run imports it when it runs
    return seen
