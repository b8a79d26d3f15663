"""Ground-truth disentanglement metrics: maths on synthetic factor arrays, judge plumbing,
cross-driving drivers, and merged shards == one pass."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import eval.backbones as backbones
from edtalk.experts.face_analyser import FaceAnalyser, FaceAnalyserConfig
from edtalk.experts.store import install_judge, save_expert
from eval.context import ClipContext
from eval.metrics import get_metric
from eval.metrics.functional.disentangle import emotion_error, factor_errors, identity_cosine


def test_factor_errors_known_values_and_truncation():
    pred = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0]])
    truth = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, -2.0]])
    np.testing.assert_allclose(factor_errors(pred, truth), [1.0, 4.0 / 3.0])
    with pytest.raises(ValueError, match="equal K"):
        factor_errors(pred, truth[:, :2])


def test_emotion_error_is_video_level():
    logits = np.zeros((4, 8))
    logits[:3, 2] = 1.0  # 3 of 4 frames say class 2
    logits[3, 5] = 10.0  # one very confident frame says 5: the frame average decides
    assert emotion_error(logits, 5) == 0.0
    assert emotion_error(logits, 2) == 1.0


def test_identity_cosine():
    e = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    np.testing.assert_allclose(identity_cosine(e, np.array([[3.0, 0.0]])), [1.0, 0.0, np.sqrt(0.5)])
    # several source frames: their normalised mean
    np.testing.assert_allclose(identity_cosine(e[:1], np.array([[1.0, 0.0], [0.0, 1.0]])), [np.sqrt(0.5)])


def _sidecar(rng, t, emotion, clip_id):
    lms = rng.uniform(10, 50, (t, 68, 2))
    f = {
        k: rng.normal(size=t).tolist()
        for k in ("yaw", "pitch", "roll", "mouth_open", "mouth_width", "mouth_round")
    }
    return {"id": clip_id, "emotion": emotion, "factors": f, "landmarks": lms.tolist()}


@pytest.fixture
def judge(tmp_path, monkeypatch):
    """An (untrained, seeded) face judge installed as synthtalk_face_judge in a tmp weights dir:
    enough to check the plumbing and maths; never a reported number."""
    import torch

    torch.manual_seed(0)
    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "weights"))
    backbones.clear_cache()
    path = save_expert(
        FaceAnalyser(FaceAnalyserConfig(n_identities=2)), "face_analyser", "judge", ["a", "b"], tmp_path / "j"
    )
    install_judge("synthtalk_face_judge", path)
    model = backbones.get_backbone("synthtalk_face_judge")
    yield model
    backbones.clear_cache()


def _contexts(rng, n=4, t=6):
    out = []
    for i in range(n):
        gt = rng.integers(0, 255, (t, 64, 64, 3), dtype=np.uint8)
        pred = rng.integers(0, 255, (t + 1, 64, 64, 3), dtype=np.uint8)
        sc = _sidecar(rng, t, ["happy", "sad", "angry", "neutral"][i % 4], f"c{i}")
        out.append(ClipContext.from_arrays(gt, pred, sidecar=sc, clip_id=f"c{i}"))
    return out


@pytest.mark.parametrize(
    "metric_id", ["disentangle_mouth", "disentangle_pose", "disentangle_emotion", "identity_sim"]
)
def test_metric_equals_functional_on_judge_outputs_and_merges(judge, metric_id):
    rng = np.random.default_rng(0)
    contexts = _contexts(rng)
    metric = get_metric(metric_id)()
    per_clip = []
    for ctx in contexts:
        out = judge.predict(ctx.frames("pred"))
        sc = ctx.sidecar
        f = sc["factors"]
        if metric_id == "disentangle_mouth":
            truth = np.stack([f["mouth_open"], f["mouth_width"], f["mouth_round"]], 1)
            expected = factor_errors(out["mouth"], truth).mean()
        elif metric_id == "disentangle_pose":
            truth = np.stack([f["yaw"], f["pitch"], f["roll"]], 1)
            expected = factor_errors(out["pose"], truth).mean()
        elif metric_id == "disentangle_emotion":
            from edtalk.data.clip import EMOTIONS

            expected = emotion_error(out["emotion"], EMOTIONS.index(sc["emotion"]))
        else:
            source = judge.predict(ctx.frames("gt")[:1])["identity"]
            expected = identity_cosine(out["identity"], source).mean()
        per_clip.append(expected)
    states = [metric.clip_state(ctx) for ctx in contexts]
    for s, expected in zip(states, per_clip, strict=True):
        assert metric.clip_value(s) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    single = metric.empty_state()
    for s in states:
        single = metric.merge(single, s)
    left = metric.merge(states[0], states[1])
    right = metric.merge(states[2], states[3])
    merged = metric.merge(metric.merge(metric.empty_state(), right), left)
    a, b = metric.compute(single), metric.compute(merged)
    assert a["value"] == pytest.approx(np.mean(per_clip), rel=1e-6, abs=1e-9)
    assert a["value"] == pytest.approx(b["value"], rel=1e-12, abs=1e-12) and a["n"] == b["n"] == 4


def test_cross_driving_uses_the_drivers_truth(judge):
    rng = np.random.default_rng(1)
    ctx = _contexts(rng, n=1)[0]
    driver = _sidecar(rng, 6, "fear", "driverB")
    ctx.clip = dataclasses.replace(ctx.clip, extra={"drivers": {"mouth": driver, "expression": driver}})
    out = judge.predict(ctx.frames("pred"))
    f = driver["factors"]
    truth = np.stack([f["mouth_open"], f["mouth_width"], f["mouth_round"]], 1)
    mouth = get_metric("disentangle_mouth")()
    assert mouth.clip_value(mouth.clip_state(ctx)) == pytest.approx(factor_errors(out["mouth"], truth).mean())
    emo = get_metric("disentangle_emotion")()
    assert emo.clip_value(emo.clip_state(ctx)) == emotion_error(out["emotion"], 3)  # fear
    # pose has no driver given: the clip's own sidecar
    own = ctx.sidecar["factors"]
    pose = get_metric("disentangle_pose")()
    expected = factor_errors(out["pose"], np.stack([own["yaw"], own["pitch"], own["roll"]], 1)).mean()
    assert pose.clip_value(pose.clip_state(ctx)) == pytest.approx(expected)


def test_missing_sidecar_is_a_clip_failure(judge):
    from eval.metrics.base import ClipFailure

    ctx = ClipContext.from_arrays(np.zeros((3, 64, 64, 3), np.uint8), np.zeros((3, 64, 64, 3), np.uint8))
    with pytest.raises(ClipFailure, match="sidecar"):
        get_metric("disentangle_pose")().clip_state(ctx)


@pytest.mark.parametrize("t_sidecar", [3, 9])
def test_a_sidecar_of_another_length_than_its_video_is_a_clip_failure(judge, t_sidecar):
    """A sidecar cut to 3 (or grown to 9) rows for a 6-frame video was scored over the frames the two
    shared, without a word (``factor_errors`` truncates); now the clip fails mouth and pose, naming
    the sidecar and both frame counts. The emotion metric reads no per-frame rows and still scores."""
    from pathlib import Path

    from eval.metrics.base import ClipFailure

    rng = np.random.default_rng(2)
    gt = rng.integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    sidecar = _sidecar(rng, t_sidecar, "sad", "c0")
    ctx = ClipContext.from_arrays(gt, gt, sidecar=sidecar, clip_id="c0")
    ctx.clip = dataclasses.replace(ctx.clip, sidecar=Path("clips/c0.json"))
    for metric_id in ("disentangle_mouth", "disentangle_pose"):
        with pytest.raises(ClipFailure) as info:
            get_metric(metric_id)().clip_state(ctx)
        assert str(info.value).startswith(f"clips/c0.json: sidecar per-frame arrays of {t_sidecar} frames")
        assert str(info.value).endswith("for a video of 6 frames")
    emotion = get_metric("disentangle_emotion")()
    assert emotion.clip_value(emotion.clip_state(ctx)) in (0.0, 1.0)
    del sidecar["factors"]
    with pytest.raises(ClipFailure, match=r"clips/c0.json: sidecar has no 'factors'"):
        get_metric("disentangle_mouth")().clip_state(ctx)


def test_mouth_opening_is_the_scale_free_inner_lip_gap():
    from eval.metrics.functional.disentangle import mouth_opening

    lmk = np.zeros((2, 68, 2))
    lmk[:, 36:42] = [10.0, 20.0]  # left eye centre
    lmk[:, 42:48] = [30.0, 20.0]  # right eye centre: inter-ocular distance 20
    lmk[1, [61, 62, 63], 1] = 40.0
    lmk[1, [67, 66, 65], 1] = 45.0  # second frame: inner lips 5 px apart
    assert np.allclose(mouth_opening(lmk), [0.0, 0.25])
    assert np.allclose(mouth_opening(lmk * 3), [0.0, 0.25])  # the image scale cancels
    lmk[0] = np.nan  # no face found in the first frame
    out = mouth_opening(lmk)
    assert np.isnan(out[0]) and out[1] == 0.25
    with pytest.raises(ValueError, match="68, 2"):
        mouth_opening(np.zeros((3, 5, 2)))


def test_track_correlation_skips_missing_frames_and_degenerate_tracks():
    from eval.metrics.functional.disentangle import track_correlation

    a = np.array([0.0, 1.0, np.nan, 3.0, 4.0, 9.0])
    assert track_correlation(a, 2 * a[:5] + 1) == pytest.approx(1.0)  # truncated to 5, NaN skipped
    assert track_correlation(a, -a) == pytest.approx(-1.0)
    assert track_correlation(a, np.ones(6)) is None  # constant: undefined
    assert track_correlation(a[:2], a[:2]) is None  # too few frames


@pytest.mark.parametrize(
    ("metric_id", "factor"),
    [("disentangle_mouth", "mouth"), ("disentangle_pose", "pose"), ("disentangle_emotion", "expression")],
)
def test_not_applicable_without_synthtalk_ground_truth(metric_id, factor):
    """On HDTF or MEAD clips (no sidecar) they failed every clip; now eval.run shows them as n/a."""
    from pathlib import Path

    from edtalk.data.clip import Clip

    metric = get_metric(metric_id)()
    clip = Clip(id="c", dataset="hdtf", split="test", video=Path("c.mp4"), extra={"chunk": 1})
    assert metric.not_applicable(clip) == "the dataset has no ground-truth factors (synthtalk sidecars)"
    assert metric.not_applicable(dataclasses.replace(clip, sidecar=Path("c.json"))) is None
    driven = dataclasses.replace(clip, extra={"drivers": {factor: "driver.json"}})
    assert metric.not_applicable(driven) is None
