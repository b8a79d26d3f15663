"""OpenFace nn4.small2 (FOMM's AED identity net): shapes, the port's LRN, FOMM preprocessing, and
AED end to end with seeded weights against FOMM's formula computed here."""

import numpy as np
import pytest
import torch
from skimage.transform import resize

from edtalk.weights import MissingWeightsError
from eval.backbones.openface import OpenFaceNN4Small2, fomm_preprocess, lrn_openface
from eval.context import ClipContext
from eval.metrics import get_metric


def _seeded_state(seed=0):
    torch.manual_seed(seed)
    net = OpenFaceNN4Small2()
    for mod in net.modules():  # He init keeps the signal alive through the deep random net
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
            torch.nn.init.zeros_(mod.bias)
    sd = net.state_dict()
    for k, v in sd.items():  # non-trivial BN statistics so eval-mode BN matters
        if k.endswith("running_mean"):
            v.normal_(0, 0.1)
        elif k.endswith("running_var"):
            v.uniform_(0.5, 2.0)
    return sd


def _legacy_lrn(x, size=5, alpha=1e-4, beta=0.75, k=1.0):
    """SpatialCrossMapLRN_temp.updateOutput transcribed as a channel loop (0-based, with its
    ``c > prePad`` test)."""
    sq = x**2
    channels = x.shape[1]
    pre = int((size - 1) / 2 + 1)
    scale = torch.zeros_like(x)
    scale[:, 0] = sq[:, : min(pre, channels)].sum(1)
    for c in range(1, channels):
        scale[:, c] = scale[:, c - 1]
        if c < channels - pre + 1:
            scale[:, c] += sq[:, c + pre - 1]
        if c > pre:
            scale[:, c] -= sq[:, c - pre]
    return x * (scale * (alpha / size) + k).pow(-beta)


def test_lrn_matches_the_ports_channel_loop():
    x = torch.randn(2, 12, 3, 4, dtype=torch.float64) * 30  # large so alpha=1e-4 matters
    assert torch.allclose(lrn_openface(x), _legacy_lrn(x), rtol=1e-12, atol=0)
    std = torch.nn.functional.local_response_norm(x, 5, 1e-4, 0.75, 1.0)
    assert not torch.allclose(lrn_openface(x), std, rtol=1e-9, atol=0)  # the quirk is real


def test_shapes_and_unit_norm():
    net = OpenFaceNN4Small2().eval()
    assert sum(p.numel() for p in net.parameters()) == 3733968  # nn4.small2: 3.7 M parameters
    with torch.no_grad():
        y = net(torch.rand(3, 3, 96, 96))
    assert y.shape == (3, 128)
    assert torch.allclose(y.norm(dim=1), torch.ones(3), atol=1e-5)


def test_preprocessing_is_fommss_formula():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    frame[..., 2] = 255  # pure blue channel in RGB -> channel 0 after the BGR flip
    x = fomm_preprocess(frame[None])
    ref = resize(frame[..., ::-1], (96, 96)).transpose(2, 0, 1)
    assert x.shape == (1, 3, 96, 96) and x.dtype == np.float32
    assert np.allclose(x[0], ref, atol=1e-7)
    assert np.allclose(x[0, 0], 1.0) and 0.0 <= x.min() and x.max() <= 1.0


def test_aed_end_to_end_matches_fomm_formula(seeded_weights):
    sd = _seeded_state()
    seeded_weights("openface_nn4_small2", sd)
    ref_net = OpenFaceNN4Small2()
    ref_net.load_state_dict(sd)
    ref_net.eval()
    rng = np.random.default_rng(0)
    clips = []
    for t in (2, 1):
        g = rng.integers(0, 256, (t, 48, 48, 3), dtype=np.uint8)
        p = np.clip(g.astype(int) + rng.integers(-60, 61, g.shape), 0, 255).astype(np.uint8)
        clips.append((g, p))

    def embed(frame):  # FOMM extract.py, face_id
        img = resize(frame[..., ::-1], (96, 96)).transpose(2, 0, 1)[None].astype(np.float32)
        with torch.no_grad():
            return ref_net(torch.from_numpy(img))[0].double().numpy()

    per_frame = [np.sum((embed(g[f]) - embed(p[f])) ** 2) for g, p in clips for f in range(len(g))]
    m = get_metric("aed")(size=None)
    states = [m.clip_state(ClipContext.from_arrays(g, p, clip_id=str(i))) for i, (g, p) in enumerate(clips)]
    out = m.compute(m.merge(states[0], states[1]))
    print(f"aed ours {out['value']:.10f} fomm {np.mean(per_frame):.10f}")
    assert out["n"] == 3 and out["value"] == pytest.approx(np.mean(per_frame), rel=1e-5)
    assert out["value"] > 1e-4  # the perturbation moved the embeddings


def test_missing_openface_weights_name_file_url_and_target(tmp_path, monkeypatch):
    import eval.backbones as backbones

    monkeypatch.setenv("EDTALK_BENCH_WEIGHTS", str(tmp_path / "empty"))
    backbones.clear_cache()
    frames = np.zeros((1, 32, 32, 3), np.uint8)
    with pytest.raises(MissingWeightsError) as err:
        get_metric("aed")(size=None).clip_state(ClipContext.from_arrays(frames, frames.copy()))
    msg = str(err.value)
    assert "openface.pth" in msg and "OpenFacePytorch" in msg and str(tmp_path / "empty") in msg
    backbones.clear_cache()
