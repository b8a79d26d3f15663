"""StyleGAN2 discriminator D (paper Eq. 3's D) with minibatch standard deviation.

1x1 stem, one down-sampling ResBlock per octave to 4x4, minibatch-stddev feature (group 4, 1 channel),
3x3 conv, then EqualLinear(C*16 -> C, leaky ReLU) -> EqualLinear(C -> 1): one real/fake logit per image.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from edtalk.config import ModelConfig
from edtalk.modules.stylegan_ops import ConvLayer, EqualLinear, ResBlock


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, n_features: int = 1) -> torch.Tensor:
    """Append the per-group std of features (averaged over channels and pixels) as extra channels."""
    b, c, h, w = x.shape
    group = min(b, group_size)
    while b % group:  # largest divisor of the batch <= group_size, so any batch size works
        group -= 1
    y = x.reshape(group, -1, n_features, c // n_features, h, w)
    y = torch.sqrt(y.var(dim=0, unbiased=False) + 1e-8).mean(dim=(2, 3, 4), keepdim=True).squeeze(2)
    y = y.repeat(group, 1, h, w)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    """D(image [B, 3, H, W]) -> logits [B, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        size = cfg.image_size
        self.stem = ConvLayer(3, cfg.channels(size), 1)
        self.blocks = nn.Sequential(
            *[
                ResBlock(cfg.channels(2**i), cfg.channels(2 ** (i - 1)))
                for i in range(int(math.log2(size)), 2, -1)
            ]
        )
        c4 = cfg.channels(4)
        self.final_conv = ConvLayer(c4 + 1, c4, 3)
        self.final_linear = nn.Sequential(EqualLinear(c4 * 16, c4, activate=True), EqualLinear(c4, 1))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(img))
        x = self.final_conv(minibatch_stddev(x))
        return self.final_linear(x.flatten(1))
