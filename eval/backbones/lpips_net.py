"""LPIPS v0.1 (AlexNet) as the ``lpips`` package computes it, without its run-time download.

``lpips.LPIPS(net="alex", version="0.1", pnet_rand=True)`` builds the network and loads the
linear-calibration heads that ship in the wheel; the AlexNet ImageNet trunk (which the package
would fetch through torchvision) comes from the weights manager (``torchvision_alexnet``) and is
copied into LPIPS' five feature slices (slice k keeps torchvision's ``features.<i>`` indices).
Inputs: RGB in [-1, 1]; output: the spatially averaged distance per image pair.
"""

from __future__ import annotations

import numpy as np
import torch

from edtalk.weights import resolve
from eval.backbones import BACKBONES, get_backbone
from eval.context import FEATURES, ClipContext


def load_alexnet_trunk(lpips_model: torch.nn.Module, state_dict: dict) -> None:
    """Copy torchvision AlexNet ``features.<i>.*`` weights into LPIPS' ``net.slice*.<i>.*``."""
    target = {}
    for name, _ in lpips_model.net.named_parameters():
        _, idx, param = name.split(".")  # slice3.6.weight
        target[name] = state_dict[f"features.{idx}.{param}"]
    missing = lpips_model.net.load_state_dict(target, strict=True)
    assert not missing.missing_keys


@BACKBONES.register("lpips_alex")
def load_lpips(device: str = "cpu", weights: str | None = None):
    import lpips

    model = lpips.LPIPS(pretrained=True, net="alex", version="0.1", pnet_rand=True, verbose=False)
    sd = torch.load(weights or resolve("torchvision_alexnet"), map_location="cpu", weights_only=True)
    load_alexnet_trunk(model, sd)
    return model.eval().to(device)


def _to_unit(frames: np.ndarray, device: str) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


@torch.no_grad()
def frame_lpips(gt: np.ndarray, pred: np.ndarray, device: str = "cpu", batch: int = 16) -> np.ndarray:
    """(T,) LPIPS per frame pair of uint8 RGB arrays."""
    model = get_backbone("lpips_alex", device=device)
    out = [
        model(_to_unit(pred[i : i + batch], device), _to_unit(gt[i : i + batch], device))
        .flatten()
        .double()
        .cpu()
        .numpy()
        for i in range(0, len(gt), batch)
    ]
    return np.concatenate(out) if out else np.zeros(0)


@FEATURES.register("lpips_pairs")
def lpips_pairs_feature(
    ctx: ClipContext, side: str, crop="none", size=None, pairing="linspace", max_length_diff=None
) -> np.ndarray:
    """Per-frame LPIPS of the paired frames (requested with side="pred")."""
    from eval.metrics.frames import FramePairing, paired_frames

    gt, pred = paired_frames(ctx, FramePairing(crop, size, pairing, max_length_diff))
    return frame_lpips(gt, pred, ctx.device)
