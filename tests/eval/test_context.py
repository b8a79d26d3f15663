"""ClipContext: decode once, memoised features, pairing, clear failures."""

import numpy as np
import pytest

from eval.context import FEATURES, ClipContext
from eval.metrics.base import ClipFailure

CALLS = []


def _counting(ctx, side, scale=1):
    CALLS.append((side, scale))
    return ctx.frames(side).astype(float) * scale


if "unit_test_counting" not in FEATURES:
    FEATURES.add("unit_test_counting", _counting)


def test_feature_is_memoised_per_side_and_settings():
    CALLS.clear()
    ctx = ClipContext.from_arrays(np.zeros((3, 4, 4, 3), np.uint8), np.ones((3, 4, 4, 3), np.uint8))
    a = ctx.feature("unit_test_counting", "gt", scale=2)
    b = ctx.feature("unit_test_counting", "gt", scale=2)
    ctx.feature("unit_test_counting", "pred", scale=2)
    ctx.feature("unit_test_counting", "gt", scale=3)
    assert a is b and CALLS == [("gt", 2), ("pred", 2), ("gt", 3)]
    with pytest.raises(KeyError, match="did you mean|Did you mean"):
        ctx.feature("unit_test_countin", "gt")
    with pytest.raises(ValueError, match="side"):
        ctx.frames("fake")


def test_reads_video_once_from_files(tmp_path, monkeypatch):
    import eval.context as C
    from edtalk.data import video as V
    from edtalk.data.clip import Clip

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    V.write_video(tmp_path / "gt.mp4", frames, fps=25.0)
    V.write_video(tmp_path / "pred.mp4", frames[:3], fps=25.0)
    calls = []
    real = V.read_video
    monkeypatch.setattr(V, "read_video", lambda p: calls.append(p) or real(p))
    clip = Clip(id="c", dataset="t", split="test", video=tmp_path / "gt.mp4")
    ctx = C.ClipContext(clip, pred_video=tmp_path / "pred.mp4")
    for _ in range(3):
        ctx.frames("gt"), ctx.frames("pred")
    assert len(calls) == 2 and ctx.frames("gt").shape == (4, 32, 32, 3) and ctx.fps("pred") == 25.0
    gi, pi = ctx.pair_indices()
    assert list(gi) == [0, 1, 2] and list(pi) == [0, 1, 2]


def test_missing_prediction_audio_and_sidecar_are_clip_failures():
    from pathlib import Path

    from edtalk.data.clip import Clip

    ctx = ClipContext(Clip(id="c", dataset="t", split="test", video=Path("x.mp4")))
    for get in (lambda: ctx.frames("pred"), lambda: ctx.audio, lambda: ctx.sidecar):
        with pytest.raises(ClipFailure, match="clip c"):
            get()
    with pytest.raises(ClipFailure, match="uint8"):
        ClipContext.from_arrays(np.zeros((2, 4, 4)), None)
