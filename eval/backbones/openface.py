"""OpenFace nn4.small2 (128-D identity embedding) as FOMM's pose-evaluation uses it for AED.

FOMM's ``extract.py --type face_id`` runs thnkim/OpenFacePytorch's port of OpenFace nn4.small2 on
the **whole frame** (no detection, no alignment): ``frame[..., ::-1]`` (RGB -> BGR),
``skimage.transform.resize(frame, (96, 96))`` (float in [0, 1]), HWC -> CHW. The network (written
here from the port's description; parameter names follow its ``openface.pth`` checkpoint):

    conv1 7x7/2 64 +BN+ReLU -> maxpool 3/2 -> LRN -> conv2 1x1 64 +BN+ReLU -> conv3 3x3 192 +BN+ReLU
    -> LRN -> maxpool 3/2 -> inception 3a, 3b, 3c, 4a, 4e, 5a, 5b -> avgpool 3 -> linear 736->128
    -> x / sqrt(sum x^2 + 1e-6)

Two quirks of the port are kept because FOMM's numbers come from it:

* inception branches of different spatial size (the pooling branch uses stride 2 or 3) are
  zero-padded, centred, to the largest branch before concatenation;
* its cross-map LRN (``SpatialCrossMapLRN_temp``, a 0-based transcription of Torch7's 1-based
  loop) never removes channel 0 from the running window: for channels c >= 3 the normaliser is
  the usual 5-channel window sum **plus x_0^2**. With alpha = 1e-4 the effect is tiny; it is
  reproduced exactly (``lrn_openface``).

Weights: ``openface_nn4_small2`` (``openface.pth``) from the weights manager. The official file is
a pickle of CUDA tensors; it is loaded with ``torch.load(map_location="cpu", weights_only=True)``.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from edtalk.weights import resolve
from eval.backbones import BACKBONES, get_backbone
from eval.backbones.checkpoints import load_exact, unwrap_state_dict
from eval.backbones.embeddings import EMBEDDERS

INPUT_SIZE = 96
EMBED_DIM = 128


def lrn_openface(x: torch.Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """Cross-channel LRN of OpenFacePytorch: x * (k + alpha/size * S_c)^-beta, where S_c is the
    sum of x^2 over channels c-2..c+2 plus, for c >= (size-1)/2 + 1, channel 0 (the port's quirk)."""
    sq = x * x
    half = (size - 1) // 2
    padded = F.pad(sq, (0, 0, 0, 0, half, size - 1 - half))  # pad the channel axis
    window = padded.unfold(1, size, 1).sum(-1)  # (B, C, H, W)
    first_kept = half + 1
    if x.shape[1] > first_kept:
        extra = torch.zeros_like(window)
        extra[:, first_kept:] = sq[:, :1]
        window = window + extra
    return x * (k + alpha / size * window).pow(-beta)


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int, names: tuple[str, str, str]):
    pad = kernel // 2
    return [
        (names[0], nn.Conv2d(cin, cout, kernel, stride=stride, padding=pad)),
        (names[1], nn.BatchNorm2d(cout)),
        (names[2], nn.ReLU()),
    ]


class Inception(nn.Module):
    """One inception block of the port.

    ``convs``: (reduce channels, out channels, kernel, stride) per 1x1-reduce -> kxk branch;
    ``pool``: the pooling module, ``pool_proj``: 1x1 channels after it (None: raw pooled input);
    ``proj``: channels of a plain 1x1 branch (None: no such branch). Branch outputs are
    zero-padded, centred, to the largest spatial size, then concatenated on channels."""

    def __init__(self, cin, convs, pool: nn.Module, pool_proj: int | None, proj: int | None) -> None:
        super().__init__()
        branches = []
        for reduce, out, kernel, stride in convs:
            layers = _conv_bn_relu(cin, reduce, 1, 1, ("1_conv", "2_bn", "3_relu"))
            layers += _conv_bn_relu(reduce, out, kernel, stride, ("4_conv", "5_bn", "6_relu"))
            branches.append(nn.Sequential(OrderedDict(layers)))
        pool_layers = [("1_pool", pool)]
        if pool_proj is not None:
            pool_layers += _conv_bn_relu(cin, pool_proj, 1, 1, ("2_conv", "3_bn", "4_relu"))
        branches.append(nn.Sequential(OrderedDict(pool_layers)))
        if proj is not None:
            branches.append(
                nn.Sequential(OrderedDict(_conv_bn_relu(cin, proj, 1, 1, ("1_conv", "2_bn", "3_relu"))))
            )
        self.seq_list = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ys = [branch(x) for branch in self.seq_list]
        h = max(y.shape[2] for y in ys)
        w = max(y.shape[3] for y in ys)
        out = []
        for y in ys:
            dh, dw = h - y.shape[2], w - y.shape[3]
            out.append(F.pad(y, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2)))
        return torch.cat(out, 1)


def _maxpool_s2():
    return nn.MaxPool2d(3, stride=2, padding=0)


def _lppool_s3():
    return nn.LPPool2d(2, 3, stride=3)


class OpenFaceNN4Small2(nn.Module):
    """nn4.small2: (B, 3, 96, 96) BGR in [0, 1] -> (B, 128) unit-norm embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Conv2d(3, 64, 7, stride=2, padding=3)  # conv1
        self.layer2 = nn.BatchNorm2d(64)
        self.layer6 = nn.Conv2d(64, 64, 1)  # conv2
        self.layer7 = nn.BatchNorm2d(64)
        self.layer9 = nn.Conv2d(64, 192, 3, padding=1)  # conv3
        self.layer10 = nn.BatchNorm2d(192)
        self.layer14 = Inception(192, [(96, 128, 3, 1), (16, 32, 5, 1)], _maxpool_s2(), 32, 64)  # 3a
        self.layer15 = Inception(256, [(96, 128, 3, 1), (32, 64, 5, 1)], _lppool_s3(), 64, 64)  # 3b
        self.layer16 = Inception(320, [(128, 256, 3, 2), (32, 64, 5, 2)], _maxpool_s2(), None, None)  # 3c
        self.layer17 = Inception(640, [(96, 192, 3, 1), (32, 64, 5, 1)], _lppool_s3(), 128, 256)  # 4a
        self.layer18 = Inception(640, [(160, 256, 3, 2), (64, 128, 5, 2)], _maxpool_s2(), None, None)  # 4e
        self.layer19 = Inception(1024, [(96, 384, 3, 1)], _lppool_s3(), 96, 256)  # 5a
        self.layer21 = Inception(736, [(96, 384, 3, 1)], _maxpool_s2(), 96, 256)  # 5b
        self.layer25 = nn.Linear(736, EMBED_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == 128:  # the port's own 128 -> 96 path (nearest x3, avgpool 4)
            x = F.avg_pool2d(F.interpolate(x, scale_factor=3, mode="nearest"), 4)
        x = F.relu(self.layer2(self.layer1(x)))
        x = lrn_openface(F.max_pool2d(x, 3, stride=2, padding=1))
        x = F.relu(self.layer7(self.layer6(x)))
        x = F.relu(self.layer10(self.layer9(x)))
        x = F.max_pool2d(lrn_openface(x), 3, stride=2, padding=1)
        for block in (self.layer14, self.layer15, self.layer16, self.layer17, self.layer18, self.layer19):
            x = block(x)
        x = self.layer21(x)
        x = F.avg_pool2d(x, 3, stride=1).reshape(-1, 736)
        x = self.layer25(x)
        return x / torch.sqrt((x * x).sum(1, keepdim=True) + 1e-6)


def load_openface_state(path) -> dict:
    """State dict of ``openface.pth`` (a CUDA pickle) on the CPU, safely."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - report which file and why
        raise RuntimeError(
            f"{path}: cannot load as an OpenFace nn4.small2 state dict with weights_only=True ({err}). "
            "Expected thnkim/OpenFacePytorch's openface.pth."
        ) from None
    return unwrap_state_dict(sd)


@BACKBONES.register("openface")
def load_openface(device: str = "cpu", weights: str | None = None) -> OpenFaceNN4Small2:
    """nn4.small2 with ``openface.pth`` from the weights manager (``weights`` overrides it)."""
    path = weights or resolve("openface_nn4_small2")
    net = OpenFaceNN4Small2()
    load_exact(net, load_openface_state(path), path, "an OpenFace nn4.small2")
    return net.eval().to(device)


def fomm_preprocess(frames: np.ndarray) -> np.ndarray:
    """FOMM ``extract.py`` face_id preprocessing: (N, H, W, 3) uint8 RGB -> (N, 3, 96, 96) float32
    BGR in [0, 1] via ``skimage.transform.resize(frame[..., ::-1], (96, 96))``."""
    from skimage.transform import resize

    out = np.empty((len(frames), 3, INPUT_SIZE, INPUT_SIZE), np.float32)
    for i, frame in enumerate(frames):
        out[i] = resize(frame[..., ::-1], (INPUT_SIZE, INPUT_SIZE)).transpose(2, 0, 1)
    return out


@torch.no_grad()
def openface_embed(frames: np.ndarray, device: str = "cpu", batch: int = 64) -> np.ndarray:
    """(N, 128) float64 OpenFace embeddings of uint8 RGB frames (whole frame, FOMM preprocessing)."""
    if len(frames) == 0:
        return np.zeros((0, EMBED_DIM))
    net = get_backbone("openface", device=device)
    x = fomm_preprocess(np.asarray(frames))
    out = [
        net(torch.from_numpy(x[i : i + batch]).to(device)).double().cpu().numpy()
        for i in range(0, len(x), batch)
    ]
    return np.concatenate(out)


EMBEDDERS.add("openface", openface_embed)
