"""Emotion Enhancement Module EEM (paper Sec. 3.2, "Expression Decouple").

EEM adapts the identity skip features f^{id} to the expression latent f^{r->e} with AdaIN:
f^{id}_e = f^e_s * (f^{id} - mu(f^{id})) / sigma(f^{id}) + f^e_b, where (f^e_s, f^e_b) come from
an affine MLP of f^{r->e}. One block per skip resolution, applied before G warps the skip.

Each block is a residual AdaIN block: dx = AdaIN(conv2(act(AdaIN(conv1(x), e))), e); out = x + dx.
This is the intended two-layer design. The official code computes the first branch and then
overwrites it with ``norm2(conv2(x), z)`` (conv1/norm1 are dead weights); we use both layers, so the
parameter count is identical (17.52 M at the paper preset) and no weight is dead. The second AdaIN
starts at zero gain, so a fresh block is the identity (out = x) and the expression stage starts from
the reconstruction quality the earlier stages reached.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edtalk.config import ModelConfig


class AdaIN(nn.Module):
    """InstanceNorm (no affine) then x * (1 + gamma(e)) + beta(e); gamma/beta from a 1-hidden-layer MLP."""

    def __init__(self, channels: int, latent_dim: int, hidden: int):
        super().__init__()
        self.shared = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU())
        self.gamma = nn.Linear(hidden, channels)
        self.beta = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.shared(e)
        gamma, beta = self.gamma(h)[:, :, None, None], self.beta(h)[:, :, None, None]
        return F.instance_norm(x) * (1.0 + gamma) + beta


class EEMBlock(nn.Module):
    """Residual AdaIN block on one skip feature map."""

    def __init__(self, channels: int, latent_dim: int, hidden: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm1 = AdaIN(channels, latent_dim, hidden)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = AdaIN(channels, latent_dim, hidden)
        # Start as the identity map (dx = 0: 1 + gamma = 0, beta = 0), like G's identity-warp init:
        # a fresh EEM must not scramble the identity features that eg_pretrain/mouth_pose trained G
        # on. At step 0 only norm2's gamma/beta MLP gets gradients (d dx / d gamma = IN(conv2(.)) != 0;
        # conv1, norm1 and conv2 sit behind the zero gain 1 + gamma); after the first update all do.
        nn.init.zeros_(self.norm2.gamma.weight)
        nn.init.constant_(self.norm2.gamma.bias, -1.0)
        nn.init.zeros_(self.norm2.beta.weight)
        nn.init.zeros_(self.norm2.beta.bias)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        dx = F.leaky_relu(self.norm1(self.conv1(x), e), 0.2)
        dx = self.norm2(self.conv2(dx), e)
        return x + dx


class EmotionEnhancement(nn.Module):
    """EEM: one ``EEMBlock`` per identity skip (resolutions 8 .. image_size)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        resolutions = [2**i for i in range(3, cfg.image_size.bit_length())]
        self.blocks = nn.ModuleList(
            [EEMBlock(cfg.channels(r), cfg.latent_dim, cfg.eem_hidden) for r in resolutions]
        )

    def forward(self, skips: list[torch.Tensor], f_r_e: torch.Tensor) -> list[torch.Tensor]:
        """f^{id} (coarse to fine) and f^{r->e} [B, D] -> emotion-conditioned f^{id}_e."""
        return [block(skip, f_r_e) for block, skip in zip(self.blocks, skips, strict=True)]
