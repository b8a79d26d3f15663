"""PSNR per frame, as ``skimage.metrics.peak_signal_noise_ratio`` on uint8 (data_range 255).

PSNR_t = 10 log10(255^2 / MSE_t), MSE over all pixels and channels of frame t.
Identical frames give MSE 0 and PSNR = +inf (as skimage); the stateful metric decides how an
infinite frame is pooled.
"""

from __future__ import annotations

import numpy as np
import torch


def frame_mse(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(T,) mean squared error per frame of uint8 (T, H, W, C) arrays, in float64."""
    if gt.shape != pred.shape:
        raise ValueError(f"frame shapes differ: {gt.shape} vs {pred.shape}")
    a = torch.from_numpy(np.ascontiguousarray(gt)).to(torch.float64)
    b = torch.from_numpy(np.ascontiguousarray(pred)).to(torch.float64)
    return ((a - b) ** 2).flatten(1).mean(1).numpy()


def frame_psnr(gt: np.ndarray, pred: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """(T,) PSNR in dB per frame; +inf where a frame is identical."""
    mse = frame_mse(gt, pred)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10((data_range**2) / mse)
