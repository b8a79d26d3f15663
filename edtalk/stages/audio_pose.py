"""Stage 5, audio_pose: the normalizing flow phi_p maps W^p sequences to z given the audio (Sec. 3.3).

L^p_rec and L_tem decode the flow's mode (z = 0) given the audio, Ŵ^p = phi_p(0, f^a); decoding the
exact code z would reproduce W^p trivially. ActNorm is data-initialised (``Stage.data_init``).
Losses: L_MLE 1, L^p_rec 1, L_tem 1.
"""

from __future__ import annotations

import torch

from edtalk import losses as L
from edtalk.stages import STAGES, Stage


def forward(model, batch, cfg):
    """z, log|det| of the real W^p sequence given f^a = E_a(mel), and Ŵ^p = phi_p(0, f^a)."""
    n, t = batch["frames"].shape[:2]
    with torch.no_grad():
        f, _ = model.encode(batch["frames"].flatten(0, 1))
        w_p = model.navigate(f, ("pose",))["pose"].view(n, t, -1)
        f_a = model.audio_lip.encoder(batch["mels"].flatten(0, 1)).view(n, t, -1)
    z, logdet = model.pose_flow.encode(w_p, f_a)
    w_p_hat = model.pose_flow.decode(torch.zeros_like(z), f_a)  # the flow's mode given the audio
    return {"z": z, "logdet": logdet, "w_p": w_p, "w_p_hat": w_p_hat}


def losses(outputs, batch, nets):
    """L_MLE (the flow's negative log-likelihood), L^p_rec and L_tem of the mode."""
    return {
        "mle": L.flow_nll(outputs["z"], outputs["logdet"]),
        "p_rec": L.weight_l2(outputs["w_p"].flatten(0, 1), outputs["w_p_hat"].flatten(0, 1)),
        "tem": L.temporal_difference(outputs["w_p"], outputs["w_p_hat"]),
    }


STAGES.add(
    "audio_pose",
    Stage(
        name="audio_pose",
        frames_only=False,
        trainable=("pose_flow",),
        weights={"mle": 1.0, "p_rec": 1.0, "tem": 1.0},
        adversarial=False,
        experts=(),
        sample=lambda s, c: s.audio_windows(c.batch_size, c.pose_frames),
        forward=forward,
        losses=losses,
        defaults={"max_steps": 30, "batch_size": 8, "lr": 1e-3},
        demo={"max_steps": 150, "beta1": 0.9},
        data_init=True,
    ),
)
