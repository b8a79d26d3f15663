"""pytorch-fid's InceptionV3 (the port of TF ``inception-2015-12-05``), pool3 features for FID.

The network is assembled from pytorch-fid's own blocks (torchvision Inception with the
FIDInceptionA/C/E replacements that reproduce the TF graph) and loaded from the weights manager
(``pytorch_fid_inception``), never downloaded here. Preprocessing as pytorch-fid: RGB in [0, 1],
bilinear resize to 299 (``align_corners=False``), ``2x - 1``; features of the block for ``dims``
(64, 192, 768, 2048 = pool3), average-pooled to 1 x 1 when not already.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from edtalk.weights import resolve
from eval.backbones import BACKBONES, get_backbone
from eval.backbones.embeddings import EMBEDDERS

BLOCK_BY_DIMS = {64: 0, 192: 1, 768: 2, 2048: 3}


def build_fid_inception() -> nn.Module:
    """The pytorch-fid Inception graph (random init; load a state dict into it)."""
    from pytorch_fid import inception as pfi

    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net


class FIDInception(nn.Module):
    """Inception trunk split into pytorch-fid's four blocks; ``forward`` -> (B, dims)."""

    def __init__(self, net: nn.Module, dims: int = 2048) -> None:
        super().__init__()
        if dims not in BLOCK_BY_DIMS:
            raise ValueError(f"dims must be one of {sorted(BLOCK_BY_DIMS)}, got {dims}")
        self.last = BLOCK_BY_DIMS[dims]
        n = net
        self.blocks = nn.ModuleList(
            [
                nn.Sequential(n.Conv2d_1a_3x3, n.Conv2d_2a_3x3, n.Conv2d_2b_3x3, nn.MaxPool2d(3, 2)),
                nn.Sequential(n.Conv2d_3b_1x1, n.Conv2d_4a_3x3, nn.MaxPool2d(3, 2)),
                nn.Sequential(
                    n.Mixed_5b,
                    n.Mixed_5c,
                    n.Mixed_5d,
                    n.Mixed_6a,
                    n.Mixed_6b,
                    n.Mixed_6c,
                    n.Mixed_6d,
                    n.Mixed_6e,
                ),
                nn.Sequential(n.Mixed_7a, n.Mixed_7b, n.Mixed_7c, nn.AdaptiveAvgPool2d((1, 1))),
            ][: self.last + 1]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) RGB in [0, 1]."""
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        for block in self.blocks:
            x = block(x)
        if x.shape[2:] != (1, 1):
            x = F.adaptive_avg_pool2d(x, (1, 1))
        return x.flatten(1)


@BACKBONES.register("pytorch_fid")
def load_fid_inception(device: str = "cpu", dims: int = 2048, weights: str | None = None) -> FIDInception:
    """FID Inception with the manager's ``pytorch_fid_inception`` (or an explicit file)."""
    path = weights or resolve("pytorch_fid_inception")
    net = build_fid_inception()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return FIDInception(net, dims).eval().to(device)


@torch.no_grad()
def embed(frames: np.ndarray, device: str = "cpu", dims: int = 2048, batch: int = 16) -> np.ndarray:
    """(N, dims) float64 pytorch-fid activations of uint8 RGB frames."""
    model = get_backbone("pytorch_fid", device=device, dims=dims)
    out = []
    for i in range(0, len(frames), batch):
        x = torch.from_numpy(np.ascontiguousarray(frames[i : i + batch])).to(device)
        x = x.permute(0, 3, 1, 2).float() / 255.0
        out.append(model(x).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, dims))


EMBEDDERS.add("pytorch_fid", embed)
