"""Audio encoder E_a and MLP^m_A (paper Sec. 3.3, "Audio-Driven Lip Generation").

E_a is the Wav2Lip audio encoder: 13 Conv-BN-ReLU blocks (some residual) on one 80 x 16 mel window
(0.2 s around a video frame, see ``edtalk.data.audio.mel_windows``), widths w, 2w, 4w, 8w, 16w
(w = ``audio_width``, 32 in Wav2Lip), reducing 80 x 16 to 1 x 1: f^a in R^{16w}.
MLP^m_A is one linear layer f^a -> W^m (bias initialised to 0).
"""

from __future__ import annotations

import torch
from torch import nn

from edtalk.config import ModelConfig

MEL_BINS, MEL_STEPS = 80, 16


class ConvBN(nn.Module):
    """Conv2d -> BatchNorm -> ReLU, optionally residual (input added before the ReLU)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride, padding: int, residual: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding)
        self.bn = nn.BatchNorm2d(c_out)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn(self.conv(x))
        return torch.relu(out + x if self.residual else out)


class AudioEncoder(nn.Module):
    """E_a: mel windows [N, 1, 80, 16] (or [N, 80, 16]) -> f^a [N, 16w]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = cfg.audio_width
        self.layers = nn.Sequential(
            ConvBN(1, w, 3, 1, 1),
            ConvBN(w, w, 3, 1, 1, residual=True),
            ConvBN(w, w, 3, 1, 1, residual=True),
            ConvBN(w, 2 * w, 3, (3, 1), 1),  # 80x16 -> 27x16
            ConvBN(2 * w, 2 * w, 3, 1, 1, residual=True),
            ConvBN(2 * w, 2 * w, 3, 1, 1, residual=True),
            ConvBN(2 * w, 4 * w, 3, 3, 1),  # -> 9x6
            ConvBN(4 * w, 4 * w, 3, 1, 1, residual=True),
            ConvBN(4 * w, 4 * w, 3, 1, 1, residual=True),
            ConvBN(4 * w, 8 * w, 3, (3, 2), 1),  # -> 3x3
            ConvBN(8 * w, 8 * w, 3, 1, 1, residual=True),
            ConvBN(8 * w, 16 * w, 3, 1, 0),  # -> 1x1
            ConvBN(16 * w, 16 * w, 1, 1, 0),
        )
        self.out_dim = 16 * w

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if mel.dim() == 3:
            mel = mel.unsqueeze(1)
        if tuple(mel.shape[-2:]) != (MEL_BINS, MEL_STEPS):
            raise ValueError(f"E_a expects mel windows of shape (80, 16), got {tuple(mel.shape[-2:])}")
        return self.layers(mel).flatten(1)


class AudioToLip(nn.Module):
    """Audio2Lip: E_a followed by MLP^m_A (linear f^a -> W^m). ``forward(mel) -> W^m [N, Km]``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.encoder = AudioEncoder(cfg)
        self.to_mouth = nn.Linear(self.encoder.out_dim, cfg.n_weights("mouth"))
        nn.init.zeros_(self.to_mouth.bias)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.to_mouth(self.encoder(mel))


def smooth_weights(weights: torch.Tensor, taps=(0.274, 0.452, 0.274)) -> torch.Tensor:
    """Gaussian temporal smoothing (k=3, sigma=1) of per-frame weights [T, K], edges replicated."""
    if weights.shape[0] < 2:
        return weights
    k = torch.tensor(taps, dtype=weights.dtype, device=weights.device)
    padded = torch.cat([weights[:1], weights, weights[-1:]], dim=0)
    return k[0] * padded[:-2] + k[1] * padded[1:-1] + k[2] * padded[2:]
