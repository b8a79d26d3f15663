"""SSIM per frame, as ``skimage.metrics.structural_similarity(gt, pred, channel_axis=-1)`` on uint8.

skimage defaults (Wang et al. 2004 with a uniform window): 7x7 window, K1 = 0.01, K2 = 0.03,
data_range = 255, sample covariance (N/(N-1)), the SSIM map averaged over the interior that the
window covers fully (a 3-pixel border is cropped), then averaged over channels. The uniform
filter over the interior is a valid 7x7 average pooling, computed here batched in float64.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def frame_ssim(
    gt: np.ndarray, pred: np.ndarray, win_size: int = 7, data_range: float = 255.0, batch: int = 64
) -> np.ndarray:
    """(T,) SSIM per frame of uint8 (T, H, W, C) arrays."""
    if gt.shape != pred.shape:
        raise ValueError(f"frame shapes differ: {gt.shape} vs {pred.shape}")
    if min(gt.shape[1:3]) < win_size:
        raise ValueError(f"frames {gt.shape[1:3]} are smaller than the SSIM window {win_size}")
    out = [
        _ssim_batch(gt[i : i + batch], pred[i : i + batch], win_size, data_range)
        for i in range(0, len(gt), batch)
    ]
    return np.concatenate(out) if out else np.zeros(0)


def _ssim_batch(gt: np.ndarray, pred: np.ndarray, win: int, data_range: float) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(gt)).permute(0, 3, 1, 2).to(torch.float64)
    y = torch.from_numpy(np.ascontiguousarray(pred)).permute(0, 3, 1, 2).to(torch.float64)
    np_ = win * win
    cov_norm = np_ / (np_ - 1.0)

    def mean(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, win, stride=1)

    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return s.mean(dim=(2, 3)).mean(dim=1).numpy()
