"""Stage 6, audio_expression: E_S and MLP^e_A predict W^e from audio and text (paper Sec. 3.3, Eq. 7).

E_T is frozen (outside the state dict); the modality masking of Eq. 7 is inside the predictor. E_S
sees the T frames' mel windows side by side (B, 80, 16 T); the target W^e is ELN's weight averaged
over those T frames. Loss: L_exp 1.
"""

from __future__ import annotations

import torch

from edtalk import losses as L
from edtalk.stages import STAGES, Stage


def forward(model, batch, cfg):
    """W^e (mean over the clip's frames) and Ŵ^e = MLP^e_A(E_S(mel), E_T(transcript))."""
    if model.expression_predictor.audio_input != "mel":
        raise ValueError(
            "audio_expression trains E_S on the frame cache's mel windows; HuBERT (semantic_encoder "
            "'hubert') needs 16 kHz waveform batches, which the frame cache does not hold: train with "
            "semantic_encoder 'mel' (HuBERT works at inference)"
        )
    n, t = batch["frames"].shape[:2]
    with torch.no_grad():
        f, _ = model.encode(batch["frames"].flatten(0, 1))
        w_e = model.navigate(f, ("expression",))["expression"].view(n, t, -1).mean(1)
    mel = batch["mels"].squeeze(2).permute(0, 2, 1, 3).reshape(n, 80, -1)  # T windows side by side
    w_e_hat = model.expression_predictor(audio=mel, text_features=batch["text_features"])
    return {"w_e": w_e, "w_e_hat": w_e_hat}


def losses(outputs, batch, nets):
    """L_exp: L1 between W^e and Ŵ^e."""
    return {"exp": L.weight_l1(outputs["w_e"], outputs["w_e_hat"])}


STAGES.add(
    "audio_expression",
    Stage(
        name="audio_expression",
        frames_only=False,
        trainable=("expression_predictor",),
        weights={"exp": 1.0},
        adversarial=False,
        experts=(),
        sample=lambda s, c: s.emotion_clips(c.batch_size, c.window),
        forward=forward,
        losses=losses,
        defaults={"max_steps": 30, "batch_size": 8, "lr": 1e-3},
    ),
)
