"""Stage 4, audio_lip: E_a and MLP^m_A predict W^m from the audio (paper Sec. 3.3).

The predicted Ŵ^m replaces the frames' own W^m; pose and expression stay the real frames'.
Losses: L^m_fea 1 (W^m vs Ŵ^m), L^m_rec 1 (L2 of the frames), L^m_sync 1 (the sync expert).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edtalk import losses as L
from edtalk.stages import STAGES, Stage
from edtalk.stages.shared import expression_latent, present_banks, repeat_skips


def forward(model, batch, cfg):
    """Ŵ^m = MLP^m_A(E_a(mel)) per frame, and the frames drawn with it from the source."""
    n, t = batch["frames"].shape[:2]
    names = present_banks(model, ("mouth", "pose", "expression"))
    with torch.no_grad():
        f_src, skips = model.encode(batch["source"])
        f_fr, _ = model.encode(batch["frames"].flatten(0, 1))
        w = model.navigate(f_fr, names)  # W^m (target), W^p and W^e of the real frames
    w_m_hat = model.audio_lip(batch["mels"].flatten(0, 1))
    weights = {**w, "mouth": w_m_hat}
    latent = model.compose(f_src.repeat_interleave(t, 0), weights)
    fake = model.generate(latent, repeat_skips(skips, t), expression_latent(model, w.get("expression")))
    return {"w_m": w["mouth"], "w_m_hat": w_m_hat, "fake": fake}


def lip_windows(frames: torch.Tensor, sync_cfg) -> torch.Tensor:
    """Differentiable SyncNet input: (B, 5, 3, H, W) in [-1, 1] -> (B, 15, h, w) lower-face crops."""
    b, t, c, h, w = frames.shape
    top, bottom, left, right = sync_cfg.crop
    crop = frames[
        ..., int(round(top * h)) : int(round(bottom * h)), int(round(left * w)) : int(round(right * w))
    ]
    crop = F.interpolate(crop.flatten(0, 1), size=tuple(sync_cfg.lip_size), mode="area")
    return crop.view(b, t * c, *crop.shape[-2:])


def losses(outputs, batch, nets):
    """L^m_fea, L^m_rec and L^m_sync (on the first five frames, the audio window of the middle one)."""
    n, t = batch["frames"].shape[:2]
    real = batch["frames"].flatten(0, 1)
    terms = {
        "m_fea": L.weight_l2(outputs["w_m"], outputs["w_m_hat"]),
        "m_rec": L.reconstruction_l2(outputs["fake"], real),
    }
    sync = nets.need("sync_net")
    fake = outputs["fake"].view(n, t, *outputs["fake"].shape[1:])[:, :5]
    video = sync.embed_video(lip_windows(fake, sync.cfg))
    audio = sync.embed_audio(batch["mels"][:, 2])  # the window of the middle frame (edtalk.experts.sync_net)
    terms["m_sync"] = L.sync_loss(audio, video)
    return terms


STAGES.add(
    "audio_lip",
    Stage(
        name="audio_lip",
        frames_only=False,
        trainable=("audio_lip",),
        weights={"m_fea": 1.0, "m_rec": 1.0, "m_sync": 1.0},
        adversarial=False,
        experts=("sync_net",),
        sample=lambda s, c: s.audio_windows(c.batch_size, max(c.n_frames, 5)),
        forward=forward,
        losses=losses,
        defaults={"max_steps": 30, "batch_size": 4, "lr": 1e-3},
        # 150 demo steps, measured on the demo's chain (eval.proof, 12 test clips): LSE-C 0.586 vs 0.290
        # with shuffled audio, dlib mouth correlation 0.75 with its own clip (0.29 with another); at 300
        # steps 0.462 vs 0.227 and 0.61 (0.21), in 206 s instead of 116 s on 2 CPU workers.
        demo={"max_steps": 150, "beta1": 0.9},
    ),
)
