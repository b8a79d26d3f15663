"""PSNR / SSIM / L1 against skimage and the FOMM/LIA formula; sharded merge == single pass."""

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from eval.context import ClipContext
from eval.metrics import get_metric


def _clip(seed, t=4, h=24, w=20, noise=20):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)
    pred = np.clip(gt.astype(int) + rng.integers(-noise, noise + 1, gt.shape), 0, 255).astype(np.uint8)
    return ClipContext.from_arrays(gt, pred, clip_id=f"c{seed}"), gt, pred


def _run(metric, ctxs):
    state = metric.empty_state()
    for c in ctxs:
        state = metric.merge(state, metric.clip_state(c))
    return metric.compute(state)


def test_psnr_ssim_match_skimage_pooled_over_frames():
    clips = [_clip(s, t=3 + s) for s in range(3)]
    ref_p = [peak_signal_noise_ratio(g[t], p[t]) for _, g, p in clips for t in range(len(g))]
    ref_s = [structural_similarity(g[t], p[t], channel_axis=-1) for _, g, p in clips for t in range(len(g))]
    psnr = _run(get_metric("psnr")(), [c for c, _, _ in clips])
    ssim = _run(get_metric("ssim")(), [c for c, _, _ in clips])
    assert psnr["n"] == len(ref_p) and ssim["n"] == len(ref_s)
    assert abs(psnr["value"] - np.mean(ref_p)) <= 1e-4
    assert abs(ssim["value"] - np.mean(ref_s)) <= 1e-4
    assert abs(psnr["spread"] - np.std(ref_p, ddof=1)) <= 1e-6


def test_psnr_video_pooling_is_mean_of_video_means():
    clips = [_clip(s, t=2 + 2 * s) for s in range(3)]
    per_video = [np.mean([peak_signal_noise_ratio(g[t], p[t]) for t in range(len(g))]) for _, g, p in clips]
    out = _run(get_metric("psnr")(pooling="videos"), [c for c, _, _ in clips])
    assert out["n"] == 3 and abs(out["value"] - np.mean(per_video)) <= 1e-6


def test_l1_is_lia_per_video_mean_on_unit_scale():
    clips = [_clip(s, t=2 + s) for s in range(3)]
    ref = np.mean([np.abs(g / 255.0 - p / 255.0).mean() for _, g, p in clips])
    out = _run(get_metric("l1")(), [c for c, _, _ in clips])
    assert abs(out["value"] - ref) <= 1e-9


@pytest.mark.parametrize("mid", ["psnr", "ssim", "l1"])
def test_two_merged_shards_equal_one_pass(mid):
    m = get_metric(mid)()
    ctxs = [_clip(s, t=2 + s)[0] for s in range(4)]
    one = _run(m, ctxs)
    a = _run(m, ctxs[:2])  # noqa: F841  (compute on a partial shard must not disturb states)
    sa = m.empty_state()
    for c in ctxs[:1]:
        sa = m.merge(sa, m.clip_state(c))
    sb = m.empty_state()
    for c in ctxs[1:]:
        sb = m.merge(sb, m.clip_state(c))
    two = m.compute(m.merge(sb, sa))
    assert two["n"] == one["n"]
    assert two["value"] == pytest.approx(one["value"], rel=1e-12)
    assert two["spread"] == pytest.approx(one["spread"], rel=1e-9)


def test_gt_against_itself():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    ctx = ClipContext.from_arrays(gt, gt.copy())
    assert math.isinf(get_metric("psnr")().compute(get_metric("psnr")().clip_state(ctx))["value"])
    ex = get_metric("psnr")(identical="exclude")
    res = ex.compute(ex.clip_state(ctx))
    assert res["value"] is None and res["n_inf"] == 3
    s = get_metric("ssim")()
    assert s.compute(s.clip_state(ctx))["value"] == pytest.approx(1.0, abs=1e-12)
    m = get_metric("l1")()
    assert m.compute(m.clip_state(ctx))["value"] == 0.0


def test_stateful_shell_and_unknown_setting():
    m = get_metric("psnr")()
    ctxs = [_clip(s)[0] for s in range(2)]
    for c in ctxs:
        m.update(c)
    assert m.value()["value"] == pytest.approx(_run(get_metric("psnr")(), ctxs)["value"])
    with pytest.raises(TypeError, match="unknown setting"):
        get_metric("psnr")(polling="frames")


def test_length_mismatch_beyond_tolerance_is_a_clip_failure():
    from eval.metrics.base import ClipFailure

    rng = np.random.default_rng(1)
    ctx = ClipContext.from_arrays(
        rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8),
        rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8),
    )
    with pytest.raises(ClipFailure, match="frames"):
        get_metric("psnr")(max_length_diff=2).clip_state(ctx)
    assert get_metric("psnr")().clip_state(ctx)["n"] == 4  # linspace pairing otherwise


def test_a_prediction_of_another_aspect_ratio_is_a_clip_failure_and_another_size_is_resized():
    from eval.metrics.base import ClipFailure

    rng = np.random.default_rng(2)
    gt = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    wide = ClipContext.from_arrays(gt, rng.integers(0, 256, (3, 16, 12, 3), dtype=np.uint8))
    with pytest.raises(ClipFailure, match="12x16 and GT 16x16"):
        get_metric("psnr")().clip_state(wide)
    noisy = (gt // 2 + 40).astype(np.uint8)
    double = ClipContext.from_arrays(gt, np.repeat(np.repeat(noisy, 2, axis=1), 2, axis=2))  # 32 x 32
    assert get_metric("psnr")().clip_state(double)["n"] == 3


def test_non_square_frames_are_paired_by_height_and_width():
    """A 16 x 32 GT (height x width) with a 32 x 64 prediction: the same aspect, resized to the GT;
    a 32 x 16 one is another aspect. Every GT in these tests was square, where swapping height and
    width in the aspect check or in the resize passed (for GT cropped `none` on raw video)."""
    from eval.metrics.base import ClipFailure

    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (3, 16, 32, 3), dtype=np.uint8)
    double = np.repeat(np.repeat(gt // 2 + 40, 2, axis=1), 2, axis=2)
    assert get_metric("psnr")().clip_state(ClipContext.from_arrays(gt, double))["n"] == 3
    upright = ClipContext.from_arrays(gt, rng.integers(0, 256, (3, 32, 16, 3), dtype=np.uint8))
    with pytest.raises(ClipFailure, match="16x32 and GT 32x16"):
        get_metric("psnr")().clip_state(upright)
