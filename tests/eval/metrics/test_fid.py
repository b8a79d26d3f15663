"""FID vs pytorch-fid's own InceptionV3 + calculate_frechet_distance, and EAT's torchvision path,
with seeded random Inception weights loaded by both pipelines."""

import numpy as np
import pytest
import torch
import torchvision
from pytorch_fid import inception as pfi
from pytorch_fid.fid_score import calculate_frechet_distance

from eval.backbones.inception_fid import build_fid_inception
from eval.context import ClipContext
from eval.metrics import get_metric


def _videos(seed, n_clips, t, size=48, top=256):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_clips):
        base = rng.integers(0, top, (1, size, size, 3))
        out.append(np.clip(base + rng.integers(-60, 61, (t, size, size, 3)), 0, 255).astype(np.uint8))
    return out


def _reference_pytorch_fid(sd, monkeypatch, gts, preds, dims):
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda *a, **k: sd)
    model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[dims]]).eval()

    def acts(videos):
        x = torch.from_numpy(np.concatenate(videos)).permute(0, 3, 1, 2).float() / 255.0
        with torch.no_grad():
            a = model(x)[0]
        if a.shape[2] != 1:
            a = torch.nn.functional.adaptive_avg_pool2d(a, (1, 1))
        return a.squeeze(3).squeeze(2).double().numpy()

    a1, a2 = acts(gts), acts(preds)
    fid = calculate_frechet_distance(
        a1.mean(0), np.cov(a1, rowvar=False), a2.mean(0), np.cov(a2, rowvar=False)
    )
    return fid, a1, a2


def _score(metric, ctxs, shards=1):
    parts = [ctxs[i::shards] for i in range(shards)]
    state = metric.empty_state()
    for part in parts:
        s = metric.empty_state()
        for c in part:
            s = metric.merge(s, metric.clip_state(c))
        state = metric.merge(state, s)
    return metric.compute(state)


def test_frechet_from_merged_moments_matches_pytorch_fid():
    from eval.metrics.functional.fid import frechet_distance, mean_cov, merge_moments, moments

    rng = np.random.default_rng(0)
    a = rng.normal(0.3, 1.0, (300, 32)) @ rng.normal(0, 0.5, (32, 32))
    b = rng.normal(0.0, 1.2, (250, 32)) @ rng.normal(0, 0.5, (32, 32))
    ref = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    ma = merge_moments(moments(a[:100]), merge_moments(moments(a[100:170]), moments(a[170:])))
    mb = merge_moments(moments(b[:7]), moments(b[7:]))
    ours = frechet_distance(*mean_cov(ma), *mean_cov(mb))
    assert abs(ours - ref) <= 1e-9 * abs(ref)


def test_frechet_of_singular_identical_sets_is_zero_without_warning():
    """Rank-deficient covariances (fewer samples than dims): sqrtm round-off gives a tiny negative
    FID, clamped to exactly 0.0, and scipy's "Matrix is singular" warning stays inside the call."""
    import warnings

    from scipy.linalg import LinAlgWarning

    from eval.metrics.functional.fid import frechet_distance

    x = np.random.default_rng(0).normal(size=(5, 8))
    mu, sigma = x.mean(0), np.cov(x, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LinAlgWarning)
        fid = frechet_distance(mu, sigma, mu, sigma)
    assert fid == 0.0 and not np.signbit(fid)
    ref = calculate_frechet_distance(mu, sigma, mu + 1.0, sigma)  # a real distance is untouched
    assert frechet_distance(mu, sigma, mu + 1.0, sigma) == pytest.approx(ref, rel=1e-9)


def test_frechet_calls_sqrtm_without_the_deprecated_disp_argument():
    """``sqrtm(..., disp=False)`` warns in scipy 1.17 and fails in 1.18; the value is pytorch-fid's."""
    import warnings

    from eval.metrics.functional.fid import frechet_distance

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 6)), rng.normal(0.5, 1.1, size=(30, 6))
    moments = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        fid = frechet_distance(*moments)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pytorch-fid itself still passes disp
        assert fid == pytest.approx(calculate_frechet_distance(*moments), rel=1e-12)


@pytest.mark.parametrize("dims", [64, pytest.param(2048, marks=pytest.mark.slow)])
def test_fid_matches_pytorch_fid(seeded_weights, monkeypatch, dims):
    """Fast variant: the first block (64-D) on 2 clips x 3 frames; slow: pool3 2048-D."""
    torch.manual_seed(0)
    sd = build_fid_inception().state_dict()
    seeded_weights("pytorch_fid_inception", sd)
    n_clips, t = (2, 3) if dims == 64 else (3, 8)
    gts, preds = _videos(1, n_clips, t), _videos(2, n_clips, t, top=128)  # darker predictions
    ctxs = [
        ClipContext.from_arrays(g, p, clip_id=str(i)) for i, (g, p) in enumerate(zip(gts, preds, strict=True))
    ]
    ref, a1, _ = _reference_pytorch_fid(sd, monkeypatch, gts, preds, dims)
    m = get_metric("fid")(backbone="pytorch_fid", dims=dims)
    ours = _score(m, ctxs)
    feats = np.concatenate(
        [c.feature("embedding", "gt", backbone="pytorch_fid", options=(("dims", dims),)) for c in ctxs]
    )
    diff = np.abs(feats - a1).max()
    print(f"pytorch-fid dims={dims}: ours {ours['value']:.6f} ref {ref:.6f} max|act diff| {diff:.2e}")
    assert np.abs(feats - a1).max() <= 1e-4 * max(1.0, np.abs(a1).max())
    assert ours["n"] == n_clips * t
    assert abs(ours["value"] - ref) <= 1e-3 * abs(ref)
    sharded = _score(get_metric("fid")(backbone="pytorch_fid", dims=dims), ctxs, shards=3)
    assert sharded["value"] == pytest.approx(ours["value"], rel=1e-6)


def test_fid_of_identical_sets_is_zero_and_missing_weights(seeded_weights, monkeypatch, tmp_path):
    torch.manual_seed(0)
    seeded_weights("pytorch_fid_inception", build_fid_inception().state_dict())
    vids = _videos(3, 2, 2)
    ctxs = [ClipContext.from_arrays(v, v.copy(), clip_id=str(i)) for i, v in enumerate(vids)]
    assert abs(_score(get_metric("fid")(dims=64), ctxs)["value"]) < 1e-6
    import eval.backbones as backbones
    from edtalk.weights import MissingWeightsError

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "empty"))
    backbones.clear_cache()
    ctx = ClipContext.from_arrays(vids[0], vids[0].copy())
    with pytest.raises(
        MissingWeightsError, match="pt_inception-2015-12-05-6726825d.pth.*github.com/mseitzer"
    ):
        get_metric("fid")().clip_state(ctx)


@pytest.mark.slow
def test_eat_fid_matches_eat_torchvision_reference(seeded_weights):
    """EAT: BGR flip, cv2 resize of [0,1] float, 2x-1, inception_v3(transform_input) Mixed_7c pooled,
    5 linspace frames per video."""
    import cv2

    torch.manual_seed(0)
    seeded = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True)
    # BatchNorm statistics from a few random batches: with the fresh ones (mean 0, var 1) the seeded
    # network's activations grow to ~1e11 by Mixed_7c, a range no real weights produce; calibrated,
    # they stay in the hundreds
    for m in seeded.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
    seeded.train()
    with torch.no_grad():
        for _ in range(2):
            seeded(torch.randn(4, 3, 299, 299))
    sd = seeded.state_dict()
    seeded_weights("torchvision_inception_v3", sd)
    gts, preds = _videos(4, 2, 7, size=40), _videos(5, 2, 9, size=40)  # 7 vs 9 frames: linspace pairs
    ctxs = [
        ClipContext.from_arrays(g, p, clip_id=str(i)) for i, (g, p) in enumerate(zip(gts, preds, strict=True))
    ]

    # EAT calls inception_v3(pretrained=True), which torchvision builds with transform_input=True
    ref_model = torchvision.models.inception_v3(
        weights=None, aux_logits=True, init_weights=False, transform_input=True
    )
    ref_model.load_state_dict(sd)
    ref_model.eval()
    feats = {}
    ref_model.Mixed_7c.register_forward_hook(lambda mod, i, o: feats.__setitem__("x", o))

    def eat_acts(frames):
        ims = []
        for im in frames:
            im = im[:, :, ::-1]  # EAT's "BGR to RGB"
            im = cv2.resize(np.ascontiguousarray(im).astype(np.float32) / 255.0, (299, 299))
            ims.append(im * 2 - 1)
        with torch.no_grad():
            ref_model(torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2))
        return torch.nn.functional.adaptive_avg_pool2d(feats["x"], (1, 1)).flatten(1).double().numpy()

    a_gt, a_pred = [], []
    for g, p in zip(gts, preds, strict=True):
        n = min(len(g), len(p))
        gi = np.linspace(0, len(g), n, endpoint=False).astype(int)
        pi = np.linspace(0, len(p), n, endpoint=False).astype(int)
        pick = np.linspace(0, n, 5, endpoint=False).astype(int)
        a_gt.append(eat_acts(g[gi[pick]]))
        a_pred.append(eat_acts(p[pi[pick]]))
    a1, a2 = np.concatenate(a_gt), np.concatenate(a_pred)
    idx = (0, 1, 2, 4, 5)  # 5 linspace picks of 7 linspace pairs
    feats = np.concatenate(
        [c.feature("embedding", "gt", backbone="torchvision_eat", indices=idx) for c in ctxs]
    )
    # 10 vectors in 2048-D: the covariance product is singular and sqrtm ill-conditioned, so the
    # conformance here is on the features (identical pipeline) and the merged moments.
    diff = np.abs(feats - a1).max()
    print(f"eat inception: max|act diff| {diff:.2e} (max |act| {np.abs(a1).max():.2e})")
    assert diff <= 1e-4 * max(1.0, np.abs(a1).max())
    m = get_metric("fid")(backbone="torchvision_eat", frames_per_video=5)
    state = m.empty_state()
    for c in ctxs:
        state = m.merge(state, m.clip_state(c))
    assert state["gt"]["n"] == 10 and state["pred"]["n"] == 10
    np.testing.assert_allclose(state["pred"]["sum"], a2.sum(0), rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------------------------------------
# EAT's torchvision FID path without the 299 px / 2048-D Inception (fast; the slow test above runs it)
# ------------------------------------------------------------------------------------------------


def _eat_input_by_hand(frames):
    """EAT's ``test_fid.py`` preprocessing written out from metrics-conventions.md: the RGB frame's
    channels reversed (its "BGR to RGB" comment notwithstanding), float [0, 1], ``cv2.resize`` to
    299 x 299 (default bilinear), ``x * 2 - 1``, NCHW."""
    import cv2

    out = []
    for frame in frames:
        bgr = np.stack([frame[..., 2], frame[..., 1], frame[..., 0]], axis=-1).astype(np.float32) / 255.0
        out.append(cv2.resize(bgr, (299, 299), interpolation=cv2.INTER_LINEAR) * 2.0 - 1.0)
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)


def _coloured_frames():
    """Two 40 x 56 frames whose channels differ everywhere (a channel flip cannot go unseen)."""
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 256, (2, 40, 56, 3)).astype(np.uint8)
    frames[0, :20, :28] = (255, 0, 0)  # a pure red block
    return frames


def test_eat_preprocessing_flips_to_bgr_resizes_to_299_and_maps_to_minus_one_one():
    """Dropping EAT's BGR flip, its 2x-1 or the cv2 bilinear resize changes every EAT-protocol FID."""
    from eval.backbones.inception_tv import eat_preprocess

    frames = _coloured_frames()
    x = eat_preprocess(frames)
    assert x.shape == (2, 3, 299, 299) and x.dtype == torch.float32
    # the red block lands in the LAST channel: -1, -1, +1 (away from the block's resized edge)
    assert x[0, :, 10, 10].tolist() == [-1.0, -1.0, 1.0]
    np.testing.assert_allclose(x.numpy(), _eat_input_by_hand(frames).numpy(), rtol=0, atol=1e-6)


def test_eat_embedding_feeds_eats_preprocessed_frames_to_the_backbone(monkeypatch):
    """``ctx.feature("embedding", backbone="torchvision_eat")`` (what the eat FID reads) must give the
    backbone EAT's input: a small seeded network stands in for the Inception, so a dropped BGR flip
    (or any other preprocessing change) shows in the features."""
    import eval.backbones.inception_tv as inception_tv

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 9, stride=8), torch.nn.Tanh(), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten()
    ).eval()
    seen = []

    def stand_in(x):
        seen.append(tuple(x.shape))
        return net(x)

    monkeypatch.setattr(inception_tv, "get_backbone", lambda name, device="cpu": stand_in)
    frames = _coloured_frames()
    ctx = ClipContext.from_arrays(frames, frames.copy(), clip_id="c")
    feats = ctx.feature("embedding", "gt", backbone="torchvision_eat")
    with torch.no_grad():
        expected = net(_eat_input_by_hand(frames)).double().numpy()
        unflipped = net(_eat_input_by_hand(frames[..., ::-1])).double().numpy()  # RGB into the net
    assert seen == [(2, 3, 299, 299)] and feats.dtype == np.float64
    np.testing.assert_allclose(feats, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(unflipped - expected).max() > 1e-3  # the stand-in sees the channel order


def test_eat_inception_features_renormalise_the_input_and_pool_mixed_7c():
    """EAT calls ``inception_v3(pretrained=True)``: ``transform_input=True`` re-normalises the
    channels once more, and the features are Mixed_7c average-pooled. Checked against torchvision's
    own forward pass of the same seeded network at 75 px (its smallest input; the layers are the
    same at 299 px)."""
    from eval.backbones.inception_tv import EATInceptionFeatures, build_tv_inception

    torch.manual_seed(0)
    net = build_tv_inception().eval()
    assert net.transform_input is True
    hooked = {}
    net.Mixed_7c.register_forward_hook(lambda mod, i, o: hooked.__setitem__("x", o))
    x = torch.rand(2, 3, 75, 75) * 2 - 1
    with torch.no_grad():
        ours = EATInceptionFeatures(net)(x)
        net(x)  # torchvision: _transform_input, the layers, ... Mixed_7c (hooked), pool, fc
    expected = hooked["x"].mean(dim=(2, 3))
    assert ours.shape == (2, 2048) and expected.abs().max() > 0
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6 * float(expected.abs().max()))
