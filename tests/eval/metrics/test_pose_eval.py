"""AKD / AED vs FOMM pose-evaluation's formulas (cmp_kp.py, cmp.py) written here independently."""

import numpy as np
import pytest

from eval.backbones.embeddings import EMBEDDERS
from eval.backbones.landmarks import LANDMARKERS
from eval.context import ClipContext
from eval.metrics import get_metric

_KP, _EMB = {}, {}


def _kp(frames, device):
    return np.stack([_KP[int(f[0, 0, 0]) * 256 + int(f[0, 0, 1])] for f in frames])


def _emb(frames, device):
    return np.stack([_EMB[int(f[0, 0, 0]) * 256 + int(f[0, 0, 1])] for f in frames])


if "fixed_kp" not in LANDMARKERS:
    LANDMARKERS.add("fixed_kp", _kp)
    EMBEDDERS.add("fixed_emb", _emb)


def test_akd_aed_match_fomm_formulas():
    rng = np.random.default_rng(0)
    ctxs, pairs = [], []
    code = 0
    for t in (4, 3):
        sides = []
        for _ in range(2):
            fr = np.zeros((t, 8, 8, 3), np.uint8)
            kps, embs = [], []
            for i in range(t):
                fr[i, 0, 0, 0], fr[i, 0, 0, 1] = divmod(code, 256)
                _KP[code] = rng.normal(128, 30, (68, 2))
                _EMB[code] = rng.normal(0, 0.1, 128)
                kps.append(_KP[code])
                embs.append(_EMB[code])
                code += 1
            sides.append((fr, np.stack(kps), np.stack(embs)))
        ctxs.append(ClipContext.from_arrays(sides[0][0], sides[1][0], clip_id=str(t)))
        pairs.append(sides)
    # FOMM: pooled over all frames of all videos
    akd_ref = np.mean([np.mean(np.abs(g[1][f] - p[1][f])) for g, p in pairs for f in range(len(g[1]))])
    aed_ref = np.mean([np.sum((g[2][f] - p[2][f]) ** 2) for g, p in pairs for f in range(len(g[2]))])
    akd = get_metric("akd")(landmarks="fixed_kp", size=None)
    aed = get_metric("aed")(backbone="fixed_emb", size=None)
    for m, ref in ((akd, akd_ref), (aed, aed_ref)):
        out = m.compute(m.merge(m.clip_state(ctxs[1]), m.clip_state(ctxs[0])))
        assert out["n"] == 7 and out["value"] == pytest.approx(ref, rel=1e-12)
