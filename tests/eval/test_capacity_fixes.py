"""eval.capacity: a near-constant judged row has no correlation (None, never a NaN in the output JSON),
and the face judge is refused when it saw this set's people, as in eval.inversion and eval.oracle."""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import numpy as np


class _Float32Judge:
    """Stand-in judge: mouth opening = 0.47 + the lower half's mean brightness / 1000, in float32 like
    the real judge's output; the static frames (lower half black) read exactly 0.47 every frame."""

    def analyse(self, frames):
        lower = np.asarray(frames, np.float32)[:, frames.shape[1] // 2 :].mean(axis=(1, 2, 3))
        opening = (np.float32(0.47) + lower / np.float32(1000)).astype(np.float32)
        return {"mouth": np.stack([opening] * 3, 1), "pose": np.zeros((len(frames), 3), np.float32)}


def test_a_constant_float32_judged_row_has_no_correlation():
    """Before: float32's std of 50 equal values is 3e-8, not 0, so the row passed the `std() > 0` guard
    and np.corrcoef (in float64, variance exactly 0) gave NaN, written as a bare NaN into --out."""
    from eval.capacity import judge_clip

    t = 50
    assert np.full(t, 0.47, np.float32).std() > 0  # the premise: rounding, not movement
    frames = np.zeros((t, 8, 8, 3), np.uint8)
    frames[:, 4:] = (np.arange(t) * 5)[:, None, None, None]
    clip = SimpleNamespace(
        frames=frames, mouth=np.arange(t, dtype=np.float32)[:, None].repeat(3, 1), pose=np.zeros((t, 3))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no 'invalid value encountered in divide'
        r = judge_clip(_Float32Judge(), frames.copy(), clip)
    corr = r["mouth_open_corr_with_truth"]
    assert corr["static"] is None
    assert corr["gt"] > 0.99 and corr["fake"] > 0.99
    json.dumps(r, allow_nan=False)  # strict JSON


def test_a_judge_that_saw_this_sets_training_people_is_refused(tmp_path, monkeypatch, capsys):
    """Before: eval.capacity loaded the judges without the dataset, so check_fits_dataset was skipped
    and the run went on (exit 0) with a judge that had seen the person of the clip it judges."""
    import torch

    from edtalk.experts.face_analyser import FaceAnalyser, FaceAnalyserConfig
    from edtalk.experts.store import JUDGE_NAMES, install_judge, save_expert
    from edtalk.experts.sync_net import SyncNetConfig, SyncNetJudge
    from edtalk.experts.testing import make_fixture_dataset
    from eval.capacity import main

    root = make_fixture_dataset(tmp_path / "fx", n_clips=1, n_frames=6, size=64)
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    torch.manual_seed(0)
    for kind, model in (
        ("face_analyser", FaceAnalyser(FaceAnalyserConfig())),
        ("sync_net", SyncNetJudge(SyncNetConfig())),
    ):  # st001 is a train person of the fixture set
        install_judge(JUDGE_NAMES[kind], save_expert(model, kind, "judge", ["st001"], tmp_path / "judges"))
    assert main(["--data", str(root), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'train' identities" in err and "st001" in err
    assert "eval.zoo train --data" in err
