"""torchvision's ImageNet Inception v3 as EAT/EDTalk use it for FID (``evaluation_eat``).

EAT's pipeline, quirks included: RGB frames are flipped to BGR (``im[:, :, ::-1]``, commented
"BGR to RGB" in EAT), scaled to [0, 1], ``cv2.resize(..., (299, 299))`` (bilinear), ``x*2 - 1``,
then ``inception_v3(pretrained=True)``, whose ``transform_input=True`` re-normalises the channels
a second time; features are the ``Mixed_7c`` map (8 x 8 x 2048) average-pooled to 2048-D.
Weights: ``torchvision_inception_v3`` from the weights manager.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from edtalk.weights import resolve
from eval.backbones import BACKBONES, get_backbone
from eval.backbones.embeddings import EMBEDDERS


def build_tv_inception() -> nn.Module:
    """torchvision Inception v3 as ``pretrained=True`` builds it (aux head, transform_input)."""
    import torchvision

    return torchvision.models.inception_v3(
        weights=None, aux_logits=True, init_weights=False, transform_input=True
    )


class EATInceptionFeatures(nn.Module):
    """Inception v3 up to Mixed_7c, then global average pooling: (B, 3, 299, 299) -> (B, 2048)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = n._transform_input(x)
        for name in (
            "Conv2d_1a_3x3",
            "Conv2d_2a_3x3",
            "Conv2d_2b_3x3",
            "maxpool1",
            "Conv2d_3b_1x1",
            "Conv2d_4a_3x3",
            "maxpool2",
            "Mixed_5b",
            "Mixed_5c",
            "Mixed_5d",
            "Mixed_6a",
            "Mixed_6b",
            "Mixed_6c",
            "Mixed_6d",
            "Mixed_6e",
            "Mixed_7a",
            "Mixed_7b",
            "Mixed_7c",
        ):
            x = getattr(n, name)(x)
        return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


@BACKBONES.register("torchvision_eat")
def load_tv_inception(device: str = "cpu", weights: str | None = None) -> EATInceptionFeatures:
    path = weights or resolve("torchvision_inception_v3")
    net = build_tv_inception()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return EATInceptionFeatures(net).eval().to(device)


def eat_preprocess(frames: np.ndarray) -> torch.Tensor:
    """uint8 RGB (N, H, W, 3) -> EAT's input (N, 3, 299, 299): BGR flip, /255, cv2 resize, 2x-1."""
    import cv2

    ims = [
        cv2.resize(np.ascontiguousarray(f[:, :, ::-1]).astype(np.float32) / 255.0, (299, 299)) for f in frames
    ]
    x = torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2)
    return x * 2 - 1


@torch.no_grad()
def embed(frames: np.ndarray, device: str = "cpu", batch: int = 16) -> np.ndarray:
    model = get_backbone("torchvision_eat", device=device)
    out = [
        model(eat_preprocess(frames[i : i + batch]).to(device)).double().cpu().numpy()
        for i in range(0, len(frames), batch)
    ]
    return np.concatenate(out) if out else np.zeros((0, 2048))


EMBEDDERS.add("torchvision_eat", embed)
