"""Encoder E (paper Sec. 3.1; LIA's EncoderApp): image I -> latent f^{*->r} and identity skips f^{id}."""

from __future__ import annotations

import math

import torch
from torch import nn

from edtalk.config import ModelConfig
from edtalk.modules.stylegan_ops import ConvLayer, EqualConv2d, ResBlock


class Encoder(nn.Module):
    """E: a 1x1 stem, one down-sampling ResBlock per octave down to 4x4, then a 4x4 conv to D.

    ``forward(img) -> (f_r, skips)``: ``f_r`` = f^{*->r} of shape [B, D]; ``skips`` = f^{id}, the
    feature maps at resolutions 8, 16, ..., image_size (coarse to fine), which G warps and reuses.
    The same E encodes the identity image and every driving image (shared weights).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        size = cfg.image_size
        self.stem = ConvLayer(3, cfg.channels(size), 1)
        blocks = []
        for log_res in range(int(math.log2(size)), 2, -1):
            res = 2**log_res
            blocks.append(ResBlock(cfg.channels(res), cfg.channels(res // 2)))
        self.blocks = nn.ModuleList(blocks)
        self.to_latent = EqualConv2d(cfg.channels(4), cfg.latent_dim, 4, bias=False)

    def forward(self, img: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.stem(img)
        feats = [x]  # resolutions size, size/2, ..., 4
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        f_r = self.to_latent(x).flatten(1)
        skips = feats[::-1][1:]  # drop the 4x4 map; coarse (8x8) to fine (size x size)
        return f_r, skips
