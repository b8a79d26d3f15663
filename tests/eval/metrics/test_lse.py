"""LSE-C / LSE-D vs syncnet_python's own SyncNetInstance.evaluate on the same crops and audio,
with seeded SyncNet weights loaded by both."""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from scipy.io import wavfile
from syncnet_python.SyncNetInstance import SyncNetInstance
from syncnet_python.SyncNetModel import S

from eval.context import ClipContext
from eval.metrics import get_metric


def _clip(seed, t=12):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (t, 224, 224, 3), dtype=np.uint8)
    pcm = rng.integers(-8000, 8000, t * 640 + 123).astype(np.int16)
    return frames, pcm


def _reference(net_sd, frames, pcm, tmp_path):
    d = tmp_path / "ref"
    d.mkdir(exist_ok=True)
    for f in d.iterdir():
        f.unlink()
    for i, f in enumerate(frames):  # lossless PNG bytes; cv2.imread sniffs the format, not the name
        (d / f"{i:06d}.jpg").write_bytes(cv2.imencode(".png", f[:, :, ::-1])[1].tobytes())
    wavfile.write(d / "audio.wav", 16000, pcm)
    net = S(num_layers_in_fc_layers=1024)
    inst = SyncNetInstance(net, device="cpu")
    net.load_state_dict(net_sd)
    offset, conf, minval = inst.evaluate(SimpleNamespace(tmp_dir=str(d), batch_size=20, vshift=15))
    return offset, conf, minval


def test_lse_matches_syncnet_python(seeded_weights, tmp_path):
    torch.manual_seed(0)
    sd = S(num_layers_in_fc_layers=1024).state_dict()
    seeded_weights("syncnet_v2", sd)
    ctxs, refs = [], []
    for seed in (0, 1):
        frames, pcm = _clip(seed, t=36 + seed)  # > 2*vshift windows: C is non-trivial
        refs.append(_reference(sd, frames, pcm, tmp_path))
        ctxs.append(
            ClipContext.from_arrays(None, frames, audio=pcm.astype(np.float32) / 32768.0, clip_id=str(seed))
        )
    c, dmetric = get_metric("lse_c")(), get_metric("lse_d")()
    out_c = c.compute(c.merge(c.clip_state(ctxs[0]), c.clip_state(ctxs[1])))
    out_d = dmetric.compute(dmetric.merge(dmetric.clip_state(ctxs[1]), dmetric.clip_state(ctxs[0])))
    ref_c, ref_d = np.mean([r[1] for r in refs]), np.mean([r[2] for r in refs])
    print(f"lse_c ours {out_c['value']:.6f} ref {ref_c:.6f}; lse_d ours {out_d['value']:.6f} ref {ref_d:.6f}")
    assert abs(out_c["value"] - ref_c) <= 1e-4 and abs(out_d["value"] - ref_d) <= 1e-4
    assert out_c["n"] == 2 and c.clip_value(c.clip_state(ctxs[0])) == pytest.approx(refs[0][1], abs=1e-4)
    # one SyncNet pass per clip serves both metrics
    assert sum(k[0] == "syncnet" for k in ctxs[0]._memo) == 1


def test_lse_too_short_is_clip_failure(seeded_weights):
    from eval.metrics.base import ClipFailure

    torch.manual_seed(0)
    seeded_weights("syncnet_v2", S(num_layers_in_fc_layers=1024).state_dict())
    frames, pcm = _clip(3, t=5)
    ctx = ClipContext.from_arrays(None, frames, audio=pcm / 32768.0)
    with pytest.raises(ClipFailure, match="too short"):
        get_metric("lse_c")().clip_state(ctx)


def test_the_protocols_length_gate_lets_through_only_clips_syncnet_can_score(seeded_weights):
    """min_frames was 5 ("one SyncNet window"), but SyncNet's windows are i = 0 .. T - 6: a 5-frame
    clip passed eval.run's gate and then failed LSE-C and LSE-D as too short."""
    from eval.metrics.base import ClipFailure
    from eval.protocols import PROTOCOLS

    torch.manual_seed(0)
    seeded_weights("syncnet_v2", S(num_layers_in_fc_layers=1024).state_dict())
    shortest = {PROTOCOLS.get(name).min_frames for name in ("eat", "canonical", "synthtalk")}
    assert len(shortest) == 1
    t = shortest.pop()
    frames, pcm = _clip(4, t=t)
    lse = get_metric("lse_c")()
    assert lse.compute(lse.clip_state(ClipContext.from_arrays(None, frames, audio=pcm / 32768.0)))["n"] == 1
    with pytest.raises(ClipFailure, match="too short"):
        lse.clip_state(ClipContext.from_arrays(None, frames[:-1], audio=pcm / 32768.0))


@pytest.mark.parametrize("fps", [30.0, 24.0])
def test_lse_of_a_video_not_at_25_fps_is_a_clip_failure_naming_its_rate(seeded_weights, fps):
    """SyncNet pairs 5 frames with 0.2 s of audio: a GT at 30 fps was scored against the wrong stretch
    of speech (LSE-C 0.07 where its 25 fps copy gave 0.13) without a word."""
    from eval.metrics.base import ClipFailure

    torch.manual_seed(0)
    seeded_weights("syncnet_v2", S(num_layers_in_fc_layers=1024).state_dict())
    frames, pcm = _clip(4, t=36)
    ctx = ClipContext.from_arrays(None, frames, audio=pcm / 32768.0, fps=fps)
    with pytest.raises(ClipFailure, match=f"{fps:g} fps; LSE's sync network reads 25 fps video"):
        get_metric("lse_c")().clip_state(ctx)
    at25 = ClipContext.from_arrays(None, frames, audio=pcm / 32768.0, fps=25.0)
    metric = get_metric("lse_c")()
    assert np.isfinite(metric.clip_value(metric.clip_state(at25)))
