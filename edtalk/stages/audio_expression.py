"""Stage 6, audio_expression: E_S and MLP^e_A predict W^e from audio and text (paper Sec. 3.3, Eq. 7).

E_T is frozen (outside the state dict); the modality masking of Eq. 7 is inside the predictor. E_S
sees the audio of T consecutive frames: with the "mel" encoder their mel windows side by side
(B, 80, 16 T); with HuBERT (the paper's E_S, CNN feature encoder frozen, transformer fine-tuned) their
16 kHz waveform end to end (B, 640 T), the frame cache's "wavs". The target W^e is the pretrained
ELN's weight averaged over those T frames. Loss: L_exp = ||W^e - Ŵ^e||_1.
"""

from __future__ import annotations

import torch

from edtalk import losses as L
from edtalk.modules.expression_predictor import mel_side_by_side
from edtalk.stages import STAGES, Stage


def _audio(model, batch) -> torch.Tensor:
    """E_S's input: the batch's waveforms for HuBERT ("wav"), else its mel windows side by side."""
    if model.expression_predictor.audio_input == "wav":
        if "wavs" not in batch:
            raise ValueError(
                "HuBERT (semantic_encoder 'hubert') needs 16 kHz waveform batches ('wavs'), and this "
                "batch has none: its frame cache was built before the cache held audio; delete it "
                "(<out>/cache/<key>) to rebuild"
            )
        return batch["wavs"]
    return mel_side_by_side(batch["mels"].squeeze(2))


def forward(model, batch, cfg):
    """W^e (mean over the clip's frames) and Ŵ^e = MLP^e_A(E_S(a), E_T(transcript))."""
    n, t = batch["frames"].shape[:2]
    with torch.no_grad():
        f, _ = model.encode(batch["frames"].flatten(0, 1))
        w_e = model.navigate(f, ("expression",))["expression"].view(n, t, -1).mean(1)
    w_e_hat = model.expression_predictor(audio=_audio(model, batch), text_features=batch["text_features"])
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
