"""Generator G (paper Eq. 1; LIA's flow-warping StyleGAN2 decoder).

G starts from a learned 4x4 constant and, at every resolution r = 8 .. image_size, applies
a 2x-up StyledConv and a StyledConv (all modulated by the same latent f^{i->d}), then a ``ToFlow``
layer: a modulated 1x1 conv predicts 3 channels: 2 flow offsets (tanh, added to the identity
sampling grid) and 1 mask logit (sigmoid). The flow warps the identity skip feature f^{id}_r with
grid_sample; the result ``warped * mask + h * (1 - mask)`` continues up the decoder. The flow/mask
logits of the coarser level are upsampled and added (a skip connection for the flow). ``ToRGB``
(a 1x1 conv with LIA's FusedLeakyReLU) maps the masked warped feature to RGB, accumulated across resolutions
like StyleGAN2's skip generator. The final RGB is the output image (not squashed; roughly [-1, 1]).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from edtalk.config import ModelConfig
from edtalk.modules.stylegan_ops import ConstantInput, ConvLayer, ModulatedConv2d, StyledConv, Upsample


def identity_grid(size: int, batch: int, device, dtype) -> torch.Tensor:
    """Sampling grid [B, H, W, 2] (x, y in [-1, 1]); grid_sample(align_corners=True) with it = identity.
    The official LIA decoder samples the same linspace grid with grid_sample's default
    align_corners=False, which makes a zero flow a slight zoom-out (size / (size - 1)) with zero-padded
    borders; here a zero flow leaves the features in place (a deliberate difference; official weights
    would need align_corners=False)."""
    lin = torch.linspace(-1.0, 1.0, size, device=device, dtype=dtype)
    ys, xs = torch.meshgrid(lin, lin, indexing="ij")
    return torch.stack((xs, ys), dim=-1).expand(batch, size, size, 2)


# Mask logit of the finest level at init: sigmoid(4) = 0.982 passes the source's skip on, and its
# gradient sigmoid'(4) = 0.018 still lets the mask learn. Finer levels add the upsampled coarser
# logits (LIA's flow skip), so the coarser levels start at logit 0 (mask 0.5, as LIA's zero bias; their
# ToRGBs start at 0, so the picture is unchanged) and only the finest carries this bias: the same bias
# at every level would sum to 4 x (levels) at the finest one, a mask that never moves. Measured on
# the previous 20 000-step tiny init, which had exactly that (mean mask logit 17.6 at 64 px):
# re-centring the 32 and 64 px logits to 4 and training 1500 more eg_pretrain steps ended at loss
# 0.090 against 0.107 without (test L1 0.030 vs 0.033). From scratch, 2000 steps end the same either
# way (test L1 0.046).
MASK_LOGIT_INIT = 4.0


class ToFlow(nn.Module):
    """Modulated 1x1 conv -> (flow dx, dy; mask); warps a skip feature. Coarser logits arrive via ``prev``.

    Initialisation (ours; the official code draws the conv from N(0, 1)): conv weights 0 and mask bias
    ``mask_bias`` (``MASK_LOGIT_INIT`` at the finest level, 0 below it), so G starts as the identity
    warp that passes the source's skip features on (flow 0, finest mask 0.98). A random flow
    head warps by up to half the image at step 0 and costs the short CPU schedules most of their steps
    to undo. The weights still get gradients (they scale the input).
    """

    def __init__(self, channels: int, style_dim: int, mask_bias: float = MASK_LOGIT_INIT):
        super().__init__()
        self.conv = ModulatedConv2d(channels, 3, 1, style_dim, demodulate=False)
        nn.init.zeros_(self.conv.weight)
        self.bias = nn.Parameter(torch.tensor([0.0, 0.0, mask_bias]).view(1, 3, 1, 1))
        self.upsample = Upsample()

    def forward(self, h, style, skip, prev=None):
        logits = self.conv(h, style) + self.bias
        if prev is not None:
            logits = logits + self.upsample(prev)
        mask = torch.sigmoid(logits[:, 2:3])
        warped = warp(skip, logits[:, :2]) * mask
        return warped, warped + h * (1.0 - mask), logits


def warp(skip: torch.Tensor, flow_logits: torch.Tensor) -> torch.Tensor:
    """Bilinear warp of ``skip`` by the identity grid + tanh(flow logits) [B, 2, h, w] onto an h x w grid,
    computed in float32.

    Like CUDA autocast (grid_sampler is on its float32 list): in bfloat16 a sampling coordinate near
    the edge is only 2^-8 apart, 0.25 px at 128 px and 0.5 px at 256 px, and PyTorch's CPU kernel returns
    NaN / 1e34 for a channels-last bfloat16 input (what E's convolutions hand over under DeepSpeed
    --bf16; measured on torch 2.14). The result comes back in the skip's dtype.
    """
    grid = identity_grid(flow_logits.shape[-1], flow_logits.shape[0], skip.device, torch.float32)
    flow = torch.tanh(flow_logits.float()).permute(0, 2, 3, 1) + grid
    out = F.grid_sample(skip.float(), flow, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.to(skip.dtype)


class ToRGB(nn.Module):
    """1x1 ConvLayer (with FusedLeakyReLU, as in LIA) + bias; adds the upsampled coarser RGB."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = ConvLayer(channels, 3, 1)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.upsample = Upsample()

    def forward(self, x, prev=None):
        out = self.conv(x) + self.bias
        return out if prev is None else out + self.upsample(prev)


class Generator(nn.Module):
    """G(f^{i->d}, f^{id}) -> image. ``forward(latent [B, D], skips coarse->fine) -> [B, 3, H, W]``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.latent_dim
        self.input = ConstantInput(cfg.channels(4))
        self.conv1 = StyledConv(cfg.channels(4), cfg.channels(4), d)
        self.ups, self.convs, self.to_flows, self.to_rgbs = (nn.ModuleList() for _ in range(4))
        for log_res in range(3, cfg.image_size.bit_length()):
            c_in, c_out = cfg.channels(2 ** (log_res - 1)), cfg.channels(2**log_res)
            self.ups.append(StyledConv(c_in, c_out, d, upsample=True))
            self.convs.append(StyledConv(c_out, c_out, d))
            finest = 2**log_res == cfg.image_size
            self.to_flows.append(ToFlow(c_out, d, mask_bias=MASK_LOGIT_INIT if finest else 0.0))
            self.to_rgbs.append(ToRGB(c_out))

    def forward(self, latent: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        if len(skips) != len(self.ups):
            raise ValueError(f"G expects {len(self.ups)} identity skips (8..image_size), got {len(skips)}")
        h = self.conv1(self.input(latent.shape[0]), latent)
        rgb = flow_logits = None
        for up, conv, to_flow, to_rgb, skip in zip(
            self.ups, self.convs, self.to_flows, self.to_rgbs, skips, strict=True
        ):
            h = conv(up(h, latent), latent)
            warped, h, flow_logits = to_flow(h, latent, skip, flow_logits)
            rgb = to_rgb(warped, rgb)
        return rgb


@torch.no_grad()
def init_copy_path(encoder: nn.Module, generator: Generator, bias: float = 1.5) -> None:
    """Initialise E's 1x1 stem and G's finest ToRGB so that, with ToFlow's identity warp, G(E(I)) ~ I.

    Ours (an initialisation only; the architecture is LIA's): stem channels 0-2 carry +RGB and 3-5
    carry -RGB, so (f_c - f_{c+3}) = 1.2 sqrt(2) x_c through the scaled leaky ReLU; the finest ToRGB
    reads that difference out, with its activation bias ``bias`` keeping the pre-activation positive
    (linear) for x in [-1, 1] and its output bias removing the offset. Coarser ToRGBs start at 0. The
    official networks start random and learn this read-out over ~10^5 steps; with equalised learning
    rates Adam moves each raw weight by ~lr per step, so the short CPU schedules never get there.
    The remaining stem channels stay random. No-op when the stem has fewer than 6 channels.
    """
    conv, act = encoder.stem[0], encoder.stem[1]
    if conv.weight.shape[0] < 6 or conv.weight.shape[1] != 3:
        return
    gain = 1.2 * math.sqrt(2.0)  # sqrt2 * (leaky(x) - leaky(-x)) = sqrt2 * 1.2 x
    conv.weight[:6].zero_()
    act.bias[:6].zero_()
    rgb_conv, rgb_act = generator.to_rgbs[-1].conv[0], generator.to_rgbs[-1].conv[1]
    rgb_conv.weight.zero_()
    mask = 1.0 / (1.0 + math.exp(-MASK_LOGIT_INIT))  # the finest ToRGB reads the skip times this mask
    for c in range(3):
        conv.weight[c, c] = 1.0 / conv.scale
        conv.weight[c + 3, c] = -1.0 / conv.scale
        # pre-activation x / sqrt2 + bias > 0, so the output sqrt2 * (x / sqrt2 + bias) - sqrt2 * bias = x
        rgb_conv.weight[c, c] = 1.0 / (gain * math.sqrt(2.0) * rgb_conv.scale * mask)
        rgb_conv.weight[c, c + 3] = -1.0 / (gain * math.sqrt(2.0) * rgb_conv.scale * mask)
    rgb_act.bias.fill_(bias)
    generator.to_rgbs[-1].bias.fill_(-math.sqrt(2.0) * bias)
    for to_rgb in generator.to_rgbs[:-1]:
        to_rgb.conv[0].weight.zero_()
