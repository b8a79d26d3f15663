"""M-LMD / F-LMD vs EAT's formula written independently here, on fixed landmarks."""

import numpy as np
import pytest

from eval.backbones.landmarks import LANDMARKERS
from eval.context import ClipContext
from eval.metrics import get_metric


def eat_reference(gt_videos, pred_videos, lo, hi):
    """EAT test_lmd.py: per-set centroid, sum of L2 over points and valid frames / (N_valid * n)."""
    per_video = []
    for gv, pv in zip(gt_videos, pred_videos, strict=True):
        total, valid = 0.0, 0
        for g, p in zip(gv, pv, strict=True):
            if np.isnan(g).any() or np.isnan(p).any():
                continue
            g = g[lo:hi] - g[lo:hi].mean(0)
            p = p[lo:hi] - p[lo:hi].mean(0)
            total += sum(np.sqrt(((p[j] - g[j]) ** 2).sum()) for j in range(hi - lo))
            valid += 1
        per_video.append(total / (valid * (hi - lo)))
    return float(np.mean(per_video))


_TABLE: dict = {}


def _detect_from_table(frames, device):
    return np.stack([_TABLE[int(f[0, 0, 0])] for f in frames])


@pytest.fixture
def fixed_backend():
    """A landmark backend that reads landmarks encoded by frame index (frame[0,0,0])."""
    if "fixed_test" not in LANDMARKERS:
        LANDMARKERS.add("fixed_test", _detect_from_table)
    _TABLE.clear()
    return _TABLE


def _video(table, base, t, rng, missing=()):
    frames = np.zeros((t, 4, 4, 3), np.uint8)
    lmks = []
    for i in range(t):
        code = base + i
        frames[i, 0, 0, 0] = code
        lm = rng.normal(64, 20, (68, 2))
        if i in missing:
            lm[:] = np.nan
        table[code] = lm
        lmks.append(lm)
    return frames, np.stack(lmks)


def test_lmd_matches_eat_formula(fixed_backend):
    rng = np.random.default_rng(0)
    ctxs, gts, preds = [], [], []
    base = 0
    for v, t in enumerate([5, 6, 4]):
        gf, gl = _video(fixed_backend, base, t, rng, missing=(1,) if v == 0 else ())
        pf, pl = _video(fixed_backend, base + t, t, rng, missing=(3,) if v == 1 else ())
        base += 2 * t
        ctxs.append(ClipContext.from_arrays(gf, pf))
        gts.append(gl)
        preds.append(pl)
    for mid, lo, hi in (("m_lmd", 48, 68), ("f_lmd", 0, 68)):
        m = get_metric(mid)(landmarks="fixed_test")
        state = m.empty_state()
        for c in ctxs:
            state = m.merge(state, m.clip_state(c))
        out = m.compute(state)
        assert out["n"] == 3
        assert abs(out["value"] - eat_reference(gts, preds, lo, hi)) <= 1e-9
        # shards merge to the same value
        s1 = m.merge(m.clip_state(ctxs[0]), m.empty_state())
        s2 = m.merge(m.clip_state(ctxs[1]), m.clip_state(ctxs[2]))
        assert m.compute(m.merge(s1, s2))["value"] == pytest.approx(out["value"], rel=1e-12)


def test_lmd_zero_for_identical_and_shared_detection(fixed_backend):
    rng = np.random.default_rng(1)
    gf, _ = _video(fixed_backend, 100, 4, rng)
    ctx = ClipContext.from_arrays(gf, gf.copy())
    m, f = get_metric("m_lmd")(landmarks="fixed_test"), get_metric("f_lmd")(landmarks="fixed_test")
    assert m.compute(m.clip_state(ctx))["value"] == 0.0
    assert f.compute(f.clip_state(ctx))["value"] == 0.0
    assert sum(k[0] == "landmarks" for k in ctx._memo) == 2  # one pass per side, shared by both


def test_lmd_no_face_is_clip_failure(fixed_backend):
    from eval.metrics.base import ClipFailure

    rng = np.random.default_rng(2)
    gf, _ = _video(fixed_backend, 150, 3, rng, missing=(0, 1, 2))
    with pytest.raises(ClipFailure, match="no frame with a face"):
        get_metric("m_lmd")(landmarks="fixed_test").clip_state(ClipContext.from_arrays(gf, gf.copy()))


def _in_frame_units(frames, device):
    """Landmarks stored as fractions of the frame (table value x (width, height)): a face drawn at
    another resolution is found at coordinates scaled with it, as a real detector finds it."""
    h, w = frames.shape[1:3]
    return np.stack([_TABLE[int(f[0, 0, 0])] * np.array([w, h]) for f in frames])


@pytest.mark.parametrize("metric_id", ["m_lmd", "f_lmd", "akd"])
def test_a_prediction_of_another_size_is_measured_in_gt_pixels(fixed_backend, metric_id):
    """M-LMD of a 2x upscaled prediction was about 2x the face size (25.8 instead of 0.04 on
    synthtalk): its landmarks were subtracted from the GT's in its own pixels. The image metrics
    resize the prediction to the GT size; the landmark metrics now scale its landmarks to it."""
    from eval.metrics.base import ClipFailure

    if "frame_units_test" not in LANDMARKERS:
        LANDMARKERS.add("frame_units_test", _in_frame_units)
    rng = np.random.default_rng(3)
    t = 5
    gt = np.zeros((t, 8, 8, 3), np.uint8)
    pred = np.zeros((t, 8, 8, 3), np.uint8)
    for i in range(t):
        gt[i, 0, 0, 0], pred[i, 0, 0, 0] = 200 + i, 210 + i
        fixed_backend[200 + i] = rng.uniform(0.2, 0.8, (68, 2))
        fixed_backend[210 + i] = fixed_backend[200 + i] + rng.normal(0, 0.02, (68, 2))
    metric = get_metric(metric_id)(landmarks="frame_units_test", size=None)
    same = metric.clip_value(metric.clip_state(ClipContext.from_arrays(gt, pred)))
    assert same > 0.01
    upscaled = pred.repeat(2, axis=1).repeat(2, axis=2)  # 16 x 16, frame codes kept at [0, 0, 0]
    bigger = metric.clip_value(metric.clip_state(ClipContext.from_arrays(gt, upscaled)))
    assert bigger == pytest.approx(same, rel=1e-9)
    wider = pred.repeat(2, axis=2)  # 16 x 8: another aspect ratio, as paired_frames refuses it
    with pytest.raises(ClipFailure, match="another aspect ratio"):
        metric.clip_state(ClipContext.from_arrays(gt, wider))


def test_an_unknown_region_is_named():
    """region='lips' was a bare KeyError 'lips'."""
    from eval.metrics.functional.lmd import frame_lmd

    points = np.zeros((2, 68, 2))
    with pytest.raises(ValueError, match="unknown region 'lips'; known: mouth, face"):
        frame_lmd(points, points, "lips")
