"""LPIPS vs the lpips package, both with the same seeded AlexNet trunk (no download)."""

import lpips
import numpy as np
import pytest
import torch
import torchvision

from eval.context import ClipContext
from eval.metrics import get_metric


def test_lpips_matches_lpips_package(seeded_weights, monkeypatch):
    torch.manual_seed(0)
    sd = torchvision.models.alexnet(weights=None).state_dict()
    seeded_weights("torchvision_alexnet", sd)

    build = torchvision.models.alexnet

    def seeded_alexnet(pretrained=False, **kw):
        net = build(weights=None)
        net.load_state_dict(sd)
        return net

    monkeypatch.setattr(lpips.pretrained_networks.tv, "alexnet", seeded_alexnet)
    ref = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False).eval()

    rng = np.random.default_rng(0)
    clips = []
    for t in (3, 2):
        g = rng.integers(0, 256, (t, 64, 64, 3), dtype=np.uint8)
        p = np.clip(g.astype(int) + rng.integers(-40, 41, g.shape), 0, 255).astype(np.uint8)
        clips.append((g, p))
    per_video = []
    for g, p in clips:
        with torch.no_grad():
            d = ref(
                torch.from_numpy(p).permute(0, 3, 1, 2).float() / 127.5 - 1,
                torch.from_numpy(g).permute(0, 3, 1, 2).float() / 127.5 - 1,
            )
        per_video.append(d.flatten().double().numpy().mean())
    m = get_metric("lpips")()
    states = [m.clip_state(ClipContext.from_arrays(g, p, clip_id=str(i))) for i, (g, p) in enumerate(clips)]
    out = m.compute(m.merge(states[1], m.merge(m.empty_state(), states[0])))
    print(f"lpips ours {out['value']:.8f} ref {np.mean(per_video):.8f}")
    assert out["n"] == 2 and abs(out["value"] - np.mean(per_video)) <= 1e-5
    same = m.clip_state(ClipContext.from_arrays(clips[0][0], clips[0][0].copy()))
    assert m.compute(same)["value"] == pytest.approx(0.0, abs=1e-7)
