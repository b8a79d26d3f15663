"""The perceptual loss L_per (paper Eq. 2, Φ = VGG19) and its named, documented substitute.

``vgg19``: torchvision's VGG19 with ImageNet weights (``vgg19-dcbb9e9d.pth``), features at relu1_1,
relu2_1, relu3_1, relu4_1 and relu5_1 on ImageNet-normalised inputs, L1 distance per layer, over an
image pyramid (scales 1, 1/2, 1/4, 1/8, anti-aliased), summed with weight 10 per layer and scale, as
the official LIA/EDTalk ``VGGLoss`` that the paper's "weight 1" for L_per multiplies (so at 256 px it
is 200 times the mean of its 20 terms, and outweighs L1 as it does there). Scales smaller than 32 px
are skipped (relu5_1 needs 16x downsampling). Inputs are clamped to [-1, 1] before the normalisation,
as there.

``pyramid_l1_ssim`` (substitute): used when the VGG19 weights are not installed — these machines
cannot download them. It is *not* VGG: a fixed, weight-free multi-scale structural loss, mean over
the same pyramid of L1 + (1 - SSIM) (11-tap Gaussian SSIM per channel). It captures local structure
and contrast, which is what the perceptual term adds to L1 in reconstruction. The run config records
which one was used as ``perceptual: "vgg19"`` or ``perceptual: "substitute:pyramid_l1_ssim"``.

``build_perceptual("auto")`` picks VGG19 when its weights resolve, else the substitute, and says so.
``vgg19_unavailable`` tells why ``auto`` would mean the substitute without building anything, and
``substitute_note`` says so in one line, which ``python -m edtalk.train`` prints before Ray starts.
"""

from __future__ import annotations

import logging
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from edtalk.registry import Registry
from edtalk.weights import MissingWeightsError, WeightsFolderError, WeightsMismatchError, resolve, target_path

log = logging.getLogger(__name__)

PERCEPTUAL: Registry = Registry("perceptual loss")

VGG19_WEIGHTS = "vgg19"  # its entry in the weights manager (edtalk.weights)
SUBSTITUTE_NAME = "pyramid_l1_ssim"
PYRAMID_SCALES = (1.0, 0.5, 0.25, 0.125)


def _pyramid(x: torch.Tensor, min_size: int) -> list[torch.Tensor]:
    """Anti-aliased downsampled copies of ``x`` at PYRAMID_SCALES, keeping sides >= ``min_size``."""
    out = []
    for s in PYRAMID_SCALES:
        if s == 1.0:
            out.append(x)
        elif min(x.shape[-2:]) * s >= min_size:
            out.append(F.interpolate(x, scale_factor=s, mode="bilinear", antialias=True, align_corners=False))
    return out


def _gaussian_window(size: int = 11, sigma: float = 1.5, device: torch.device | str = "cpu") -> torch.Tensor:
    """The normalised 2-D Gaussian, made on ``device`` (no blocking host-to-GPU copy per call)."""
    t = torch.arange(size, dtype=torch.float32, device=device) - size // 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Mean SSIM of two (B, C, H, W) batches (Gaussian 11x11, sigma 1.5, per channel, valid region)."""
    c = x.shape[1]
    size = min(11, x.shape[-1], x.shape[-2])
    win = _gaussian_window(size, device=x.device).to(x.dtype)[None, None].repeat(c, 1, 1, 1)
    mu_x = F.conv2d(x, win, groups=c)
    mu_y = F.conv2d(y, win, groups=c)
    sxx = F.conv2d(x * x, win, groups=c) - mu_x**2
    syy = F.conv2d(y * y, win, groups=c) - mu_y**2
    sxy = F.conv2d(x * y, win, groups=c) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.mean()


@PERCEPTUAL.register(SUBSTITUTE_NAME)
class PyramidL1SSIM(nn.Module):
    """Substitute for L_per: mean over the pyramid of L1 + (1 - SSIM); images in [-1, 1]. No weights."""

    label = f"substitute:{SUBSTITUTE_NAME}"

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        terms = [
            (p - t).abs().mean() + (1.0 - ssim(p, t))
            for p, t in zip(_pyramid(pred, 8), _pyramid(target, 8), strict=True)
        ]
        return torch.stack(terms).mean()


@PERCEPTUAL.register("vgg19")
class VGG19Perceptual(nn.Module):
    """L_per with Φ = VGG19 (relu1_1..relu5_1): 10 x the L1 distance per layer, summed over layers and
    pyramid scales (the official ``VGGLoss``)."""

    label = "vgg19"
    # indices of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in torchvision's vgg19().features
    LAYER_ENDS = (2, 7, 12, 21, 30)
    LAYER_WEIGHT = 10.0  # the official VGGLoss's weight of each layer at each scale

    def __init__(self, weights_path: str | None = None) -> None:
        super().__init__()
        from torchvision.models import vgg19

        net = vgg19(weights=None)
        path = weights_path or resolve_vgg19()
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        feats = net.features[: self.LAYER_ENDS[-1]].eval()
        feats.requires_grad_(False)
        self.slices = nn.ModuleList()
        start = 0
        for end in self.LAYER_ENDS:
            self.slices.append(feats[start:end])
            start = end
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        # clamped to [-1, 1] first, as the official VGGLoss does (G's output is not squashed)
        h = ((x.clamp(-1, 1) + 1) / 2 - self.mean) / self.std
        out = []
        for block in self.slices:
            h = block(h)
            out.append(h)
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        terms = []
        for p, t in zip(_pyramid(pred, 32), _pyramid(target, 32), strict=True):
            for fp, ft in zip(self.features(p), self.features(t.detach()), strict=True):
                terms.append((fp - ft).abs().mean())
        return self.LAYER_WEIGHT * torch.stack(terms).sum()

    def train(self, mode: bool = True) -> VGG19Perceptual:  # the frozen VGG always stays in eval mode
        super().train(mode)
        self.slices.eval()
        return self


def resolve_vgg19() -> str:
    """Path of the verified VGG19 weights via the weights manager; raises a clear error if missing."""
    return str(resolve(VGG19_WEIGHTS))


def vgg19_unavailable() -> str | None:
    """Why ``auto`` means the substitute on this machine (the VGG19 weights missing, or failing their
    check), as a clause; None when they resolve."""
    try:
        resolve_vgg19()
    except WeightsFolderError as err:
        return str(err)
    except MissingWeightsError:
        path = target_path(VGG19_WEIGHTS)
        return f"the VGG19 weights {VGG19_WEIGHTS} are not installed (their file goes to {path})"
    except WeightsMismatchError as err:
        return f"the VGG19 weights fail their check: {err}"
    return None


def substitute_note(reason: str) -> str:
    """The one line that says ``auto`` trains with the substitute: which loss, ``reason``
    (``vgg19_unavailable``) and how to get the paper's VGG19 term."""
    return (
        f"--perceptual auto: {reason}, so L_per is {PyramidL1SSIM.label} (a weight-free "
        "pyramid L1 + SSIM loss, not the paper's VGG19 term; the run config records it). For the paper's "
        f"term, install them before training: `python -m eval.weights fetch {VGG19_WEIGHTS}` (or "
        f"`python -m eval.weights import {VGG19_WEIGHTS} FILE` for a copy you have)"
    )


def perceptual_label(name: str = "auto") -> str:
    """The ``label`` ``build_perceptual(name)`` would give (what the run config records), without
    building the network: ``auto`` is ``vgg19`` when its weights resolve, else the substitute's."""
    if name == "auto":
        return VGG19Perceptual.label if vgg19_unavailable() is None else PyramidL1SSIM.label
    return PERCEPTUAL.get(name.removeprefix("substitute:")).label


def auto_perceptual() -> str:
    """The label ``auto`` means on this machine, for a tool that trains in its own process
    (``eval.capacity``, ``benchmarks.stage_step``), after one ``note:`` line on stderr when it is the
    substitute (each stage's ``build_perceptual("auto")`` logged a bare warning instead)."""
    if reason := vgg19_unavailable():
        print(
            f"note: L_per is {PyramidL1SSIM.label}, not the paper's VGG19 term: {reason} "
            f"(`python -m eval.weights fetch {VGG19_WEIGHTS}` installs them)",
            file=sys.stderr,
            flush=True,
        )
        return PyramidL1SSIM.label
    return VGG19Perceptual.label


def build_perceptual(name: str = "auto") -> nn.Module:
    """The perceptual loss module: ``vgg19``, ``substitute:pyramid_l1_ssim`` / ``pyramid_l1_ssim``,
    or ``auto`` (VGG19 when its weights resolve, else the substitute, logged). ``module.label`` is the
    string to record in the run config."""
    if name == "auto":
        try:
            return VGG19Perceptual()
        except (MissingWeightsError, WeightsMismatchError) as err:
            log.warning("L_per: VGG19 weights unavailable (%s); using %s", err, PyramidL1SSIM.label)
            return PyramidL1SSIM()
    key = name.removeprefix("substitute:")
    return PERCEPTUAL.get(key)()
